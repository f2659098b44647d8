"""User values inside PartitionKey/RowKey: nothing Azure refuses, nothing that looks like
our separator, and nothing lost."""

from urllib.parse import unquote

import pytest

from shared.storage.keys import SEP, join, key_part


@pytest.mark.parametrize("value", ["a/b", "a\\b", "a#b", "a?b", "a|b", "50%", "tab\there",
                                   "line\nbreak", "\x7f"])
def test_characters_azure_refuses_or_we_split_on_are_encoded_and_come_back(value: str):
    part = key_part(value)
    assert not set(part) & set("/\\#?|\t\n\x7f")
    assert unquote(part) == value


def test_ordinary_ids_and_addresses_stay_readable():
    assert key_part("senior-support") == "senior-support"
    assert key_part("ada.lovelace+help@example.org") == "ada.lovelace+help@example.org"


def test_different_values_never_share_a_key():
    values = ["a|b", "a%7Cb", "a/b", "a%2Fb", "a b", "a+b"]
    assert len({key_part(v) for v in values}) == len(values)


def test_join_uses_the_separator_that_key_part_removes():
    assert join("team", key_part("a|b"), "x") == f"team{SEP}a%7Cb{SEP}x"
    assert join("team", key_part("a|b"), "x").count(SEP) == 2
