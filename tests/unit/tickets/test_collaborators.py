"""The collaborators' addresses (pure): what is kept from an email's To and Cc, and what
a person may type as one."""

from __future__ import annotations

import pytest

from shared.core.errors import ValidationFailed
from shared.tickets.collaborators import MAX_COLLABORATORS, clean, parse_address, parse_body


def test_addresses_from_mail_are_lower_cased_once_each_without_the_excluded():
    kept = clean(["Boss@Example.org", "boss@example.org", "REQ@example.org",
                  "support@example.com", "other@example.org", ""],
                 exclude={"req@example.org", "Support@Example.com"})
    assert kept == ["boss@example.org", "other@example.org"]


def test_addresses_that_could_break_a_header_are_dropped():
    assert clean(["a@example.org\r\nBcc: v@example.net", "=?utf-8?q?x?=@example.org",
                  "a b@example.org", '"q"@example.org', "no-at-sign", "x@localhost",
                  "x" * 250 + "@example.org"], exclude=()) == []


def test_at_most_twenty_are_kept():
    many = [f"p{i}@example.org" for i in range(50)]
    assert clean(many, exclude=()) == many[:MAX_COLLABORATORS]


@pytest.mark.parametrize("typed", ["  Colleague@Example.ORG ", "o'hara@example.org",
                                   "first.last+tag@sub.example.co.uk"])
def test_a_typed_address_is_taken_lower_cased(typed):
    assert parse_address(typed) == typed.strip().lower()


@pytest.mark.parametrize("typed", ["", "   ", "nobody", "Name <a@example.org>",
                                   "a@example.org, b@example.org", "a@example.org\nBcc: b@x.y",
                                   "=?utf-8?b?eA==?=@example.org", None, 42,
                                   "a" * 250 + "@example.org"])
def test_anything_else_is_refused_naming_the_field(typed):
    with pytest.raises(ValidationFailed) as refused:
        parse_address(typed)
    assert refused.value.errors[0]["field"] == "email"


def test_the_body_takes_only_an_email():
    assert parse_body({"email": "A@example.org"}) == "a@example.org"
    with pytest.raises(ValidationFailed) as refused:
        parse_body({"email": "a@example.org", "name": "x"})
    assert {e["field"] for e in refused.value.errors} == {"name"}
