"""The rules of merging and linking (shared/core/relations.py), pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.core.errors import Conflict, ValidationFailed
from shared.core.lifecycle import Status
from shared.core.models import EntryKind, LinkKind, Ticket, TicketLink
from shared.core.relations import (
    REVERSE,
    LinkBody,
    MergeBody,
    add_link,
    finish_merge,
    links_back,
    merge_refusal,
    participants,
    start_merge,
    take_in,
)

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
A, B, C = "10000004", "10000012", "10000020"


def ticket(number: str, **changes) -> Ticket:
    base = Ticket(number=number, subject=f"s{number}", description="d", requester_name="R",
                  requester_email=f"r{number}@example.com", priority="normal",
                  category="general", status=Status.OPEN, channel="web", created_at=NOW,
                  updated_at=NOW, last_seq=3)
    return base.model_copy(update=changes)


def test_the_bodies_take_only_ticket_numbers():
    assert MergeBody(into=f" {A} ").into == A
    for bad in ("10000005", "1234567", "abcdefgh", "1" * 21):
        with pytest.raises(ValidationError):
            MergeBody(into=bad)
    with pytest.raises(ValidationError):
        LinkBody(ticket=A, kind="sibling")


@pytest.mark.parametrize("duplicate,target,error", [
    (ticket(A), ticket(A), ValidationFailed),
    (ticket(A), None, ValidationFailed),
    (ticket(A, merged_into=C), ticket(B), Conflict),
    (ticket(A, merging_into=C), ticket(B), Conflict),
    (ticket(A, status=Status.CLOSED), ticket(B), Conflict),
    (ticket(A), ticket(B, status=Status.CLOSED), Conflict),
    (ticket(A), ticket(B, merged_into=A), Conflict),   # the cycle
    (ticket(A), ticket(B, merging_into=C), Conflict),
])
def test_merges_refused(duplicate, target, error):
    with pytest.raises(error):
        merge_refusal(duplicate, target, target.number if target else B)


def test_a_resolved_duplicate_may_be_merged_and_the_steps_each_write_one_entry():
    duplicate = ticket(A, status=Status.RESOLVED, cc=["cc@example.com", "Rb@EXAMPLE.com"])
    target = ticket(B, requester_email="rb@example.com", cc=["cc@example.com"])
    merge_refusal(duplicate, target, B)
    intent, entry = start_merge(duplicate, B, actor="a1", comment="dup", now=NOW)
    assert intent.merging_into == B and entry.kind is EntryKind.MERGING and entry.seq == 4
    assert not entry.public
    # Only the people the target lacks, once each, lower-cased.
    assert participants(duplicate, target) == [f"r{A}@example.com"]
    taken, entry = take_in(target, intent, actor="a1", comment="dup", now=NOW)
    assert taken.merged_from == [A] and taken.cc == ["cc@example.com", f"r{A}@example.com"]
    assert entry.kind is EntryKind.MERGED and entry.data["duplicate"] == A
    closed, entry = finish_merge(intent, taken, actor="a1", now=NOW)
    assert closed.status is Status.CLOSED and closed.merged_into == B
    assert closed.merging_into is None and closed.closed_at == NOW
    assert entry.public and entry.data == {"into": B, "from": "resolved", "to": "closed"}


def test_links_have_two_halves():
    assert {REVERSE[k] for k in LinkKind} == set(LinkKind)
    here, entry = add_link(ticket(A), B, LinkKind.PARENT, actor="a1", now=NOW)
    assert here.links == [TicketLink(ticket=B, kind=LinkKind.PARENT)]
    assert entry.kind is EntryKind.LINKED and entry.data == {"ticket": B, "kind": "parent"}
    assert not links_back(ticket(B), A, LinkKind.PARENT)
    assert links_back(ticket(B, links=[TicketLink(ticket=A, kind=LinkKind.CHILD)]), A,
                      LinkKind.PARENT)
    assert not links_back(ticket(B, links=[TicketLink(ticket=A, kind=LinkKind.RELATED)]), A,
                          LinkKind.PARENT)
