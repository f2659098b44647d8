from hypothesis import given
from hypothesis import strategies as st

from shared.core import numbering


def test_numbers_are_eight_digits_with_a_valid_check_digit():
    for _ in range(1000):
        number = numbering.new_number()
        assert len(number) == 8 and number.isdigit() and number[0] != "0"
        assert numbering.is_valid(number)


def test_numbers_are_not_sequential():
    drawn = [numbering.new_number() for _ in range(200)]
    assert len(set(drawn)) > 190
    assert drawn != sorted(drawn)


@given(st.integers(min_value=0, max_value=9 * 10**6 - 1), st.integers(0, 7), st.integers(1, 9))
def test_every_single_digit_typo_is_caught(body, position, delta):
    number = numbering.new_number(randbelow=lambda _: body)
    typo = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    assert not numbering.is_valid(typo)


@given(st.integers(min_value=0, max_value=9 * 10**6 - 1), st.integers(0, 6))
def test_every_swap_of_adjacent_digits_is_caught(body, position):
    number = numbering.new_number(randbelow=lambda _: body)
    a, b = number[position], number[position + 1]
    if a == b:
        return
    swapped = number[:position] + b + a + number[position + 2:]
    assert not numbering.is_valid(swapped)


def test_malformed_numbers_are_invalid():
    for bad in ("", "1234567", "123456789", "abcdefgh", "0" * 8, "１２３４５６７８"):
        assert not numbering.is_valid(bad)
