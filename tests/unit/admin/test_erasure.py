"""What an erasure does to a ticket and its entries (pure): the person's name and address
replaced in every text, their own words removed or redacted, everything reports count
kept; erasing twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.admin.erasers import (
    ERASED_NAME,
    Identity,
    erase_entry,
    erase_ticket,
    is_erased,
    replacement_address,
)
from shared.admin.erasure import months_before, parse_address
from shared.core.errors import ValidationFailed
from shared.core.lifecycle import Status
from shared.core.models import Channel, EntryKind, Priority, ThreadEntry, Ticket

AT = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
WHO = Identity("ada.l@example.org", ("Ada Lovelace",), replacement_address("ada.l@example.org", key="k"))


def ticket(**changes) -> Ticket:
    base = Ticket(number="12345674", subject="Ada Lovelace's printer", description="Mail ADA.L@Example.org",
                  requester_name="Ada Lovelace", requester_email="ada.l@example.org",
                  priority=Priority.HIGH, category="hardware", status=Status.CLOSED,
                  channel=Channel.WEB, team="service-desk", assignee="a1", created_at=AT,
                  updated_at=AT, last_seq=5, phone="+44 1234", satisfied=True,
                  satisfaction_comment="Thanks, from Ada Lovelace", cc=["ada.l@example.org", "bob@x.org"],
                  resolution="Fixed for Ada Lovelace")
    return base.model_copy(update=changes)


def entry(kind: EntryKind, actor: str, body: str, **data) -> ThreadEntry:
    return ThreadEntry(seq=2, kind=kind, at=AT, actor=actor, public=True, body=body, data=data)


def test_the_address_is_replaced_in_any_case_and_the_name_only_as_a_whole():
    assert WHO.scrub("Write to ADA.L@EXAMPLE.ORG or Ada.L@example.org") == \
        f"Write to {WHO.replacement} or {WHO.replacement}"
    assert WHO.scrub("ada lovelace said; Ada Lovelaces is another") == \
        f"{ERASED_NAME} said; Ada Lovelaces is another"
    assert WHO.scrub("nothing here") == "nothing here"


def test_the_replacement_is_the_same_for_one_address_in_any_case_and_gives_nothing_away():
    one = replacement_address("Ada.L@Example.org", key="k")
    assert one == replacement_address("ada.l@example.org", key="k")
    assert one != replacement_address("ada.l@example.org", key="other secret")
    assert one != replacement_address("bob@example.org", key="k")
    assert is_erased(one) and "ada" not in one and one.endswith("@erased.invalid")


def test_remove_takes_their_words_out_and_keeps_what_reports_count():
    before = ticket()
    after = erase_ticket(before, WHO, "remove")
    assert (after.requester_name, after.requester_email) == (ERASED_NAME, WHO.replacement)
    assert (after.subject, after.description) == ("Erased request", "[removed]")
    assert after.phone is None and after.satisfaction_comment is None
    assert after.cc == ["bob@x.org"]
    assert after.resolution == f"Fixed for {ERASED_NAME}"
    kept = ("number", "status", "priority", "category", "channel", "team", "assignee",
            "created_at", "updated_at", "closed_at", "satisfied", "last_seq")
    assert {k: getattr(after, k) for k in kept} == {k: getattr(before, k) for k in kept}
    assert erase_ticket(after, WHO, "remove") == after


def test_redact_keeps_their_words_with_the_name_and_address_replaced():
    after = erase_ticket(ticket(), WHO, "redact")
    assert after.subject == f"{ERASED_NAME}'s printer"
    assert after.description == f"Mail {WHO.replacement}"
    assert after.satisfaction_comment == f"Thanks, from {ERASED_NAME}"
    assert erase_ticket(after, WHO, "redact") == after


def test_a_ticket_that_only_copies_them_keeps_its_requester():
    theirs = ticket(requester_email="bob@x.org", requester_name="Bob", cc=["ada.l@example.org"])
    after = erase_ticket(theirs, WHO, "remove")
    assert (after.requester_email, after.requester_name, after.cc) == ("bob@x.org", "Bob", [])
    assert after.description == f"Mail {WHO.replacement}"  # redacted, not removed: not theirs


def test_their_message_is_removed_an_agents_reply_redacted_and_their_raw_mail_dropped():
    t = ticket()
    message = erase_entry(entry(EntryKind.MESSAGE, "Ada.L@example.org", "It is Ada Lovelace again",
                                raw_blob="raw/abc.eml", html_blob="html/abc.html", channel="email"),
                          t, WHO, "remove")
    assert (message.body, message.actor, message.data) == ("[removed]", WHO.replacement,
                                                           {"channel": "email"})
    reply = erase_entry(entry(EntryKind.REPLY, "a1", "Hello Ada Lovelace", to="ada.l@example.org"),
                        t, WHO, "remove")
    assert (reply.body, reply.data) == (f"Hello {ERASED_NAME}", {"to": WHO.replacement})
    redacted = erase_entry(entry(EntryKind.MESSAGE, "ada.l@example.org", "I am Ada Lovelace"),
                           t, WHO, "redact")
    assert redacted.body == f"I am {ERASED_NAME}"
    rated = erase_entry(entry(EntryKind.RATED, "ada.l@example.org", "Great", comment="Great"),
                        t, WHO, "remove")
    assert rated.body == "[removed]" and "comment" not in rated.data


@given(st.text(max_size=200))
def test_erasing_a_text_twice_is_erasing_it_once(text):
    once = WHO.scrub(text)
    assert WHO.scrub(once) == once
    assert "ada.l@example.org" not in once.lower()


@pytest.mark.parametrize("at,months,want", [
    (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
    (datetime(2028, 3, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
    (datetime(2026, 1, 15, tzinfo=UTC), 13, datetime(2024, 12, 15, tzinfo=UTC)),
    (datetime(2026, 7, 1, tzinfo=UTC), 0, datetime(2026, 7, 1, tzinfo=UTC)),
])
def test_months_before_counts_calendar_months(at, months, want):
    assert months_before(at, months) == want


@pytest.mark.parametrize("value", [None, "", "not an address", {"$ne": ""}, "a" * 400])
def test_only_an_address_is_taken(value):
    with pytest.raises(ValidationFailed):
        parse_address(value)
    assert parse_address(" Ada.L@Example.org ") == "ada.l@example.org"
