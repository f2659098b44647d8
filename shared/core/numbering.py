"""Ticket numbers: eight digits, random, with a check digit.

Random rather than a counter, so a number tells an outsider nothing about how many
tickets exist, and no shared counter partition becomes a hot spot under load. Digits
only, so it can be read over the phone in any language; the last digit is a Damm check
digit, which catches every single-digit typo and every swap of adjacent digits, so an
agent who mistypes a number is told so instead of landing on someone else's ticket.
Uniqueness is not left to chance: the store inserts the ticket entity, and a clash with
an existing number makes the caller draw again.
"""

from __future__ import annotations

import secrets

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

BODY_DIGITS = 7
LENGTH = BODY_DIGITS + 1


def _damm(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def new_number(randbelow=secrets.randbelow) -> str:
    """A fresh candidate number; the first digit is never 0 so it never loses a digit."""
    body = str(10 ** (BODY_DIGITS - 1) + randbelow(9 * 10 ** (BODY_DIGITS - 1)))
    return body + str(_damm(body))


def is_valid(number: str) -> bool:
    """True for a well-formed number whose check digit matches."""
    return (
        len(number) == LENGTH
        and number.isascii()
        and number.isdigit()
        and number[0] != "0"
        and _damm(number) == 0
    )
