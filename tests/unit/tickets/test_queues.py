"""Which conditions an agent's queue puts on the active rows (`plan`), checked against the
rows tickets really have: the sidebar's queues list the tickets an agent expects there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.core.errors import BadRequest
from shared.core.lifecycle import is_closed
from shared.core.models import Channel, Priority, Ticket
from shared.storage.indexing import summary
from shared.tickets.queues import SIDEBAR, QueueQuery, _decode, _encode, item, matches, plan

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def ticket(number: str, **changes: Any) -> Ticket:
    fields: dict[str, Any] = dict(
        number=number, subject="s", description="d", requester_name="R",
        requester_email="r@example.org", priority=Priority.NORMAL, category="general",
        status="open", channel=Channel.WEB, created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1), last_seq=1)
    return Ticket(**{**fields, **changes})


DESK = [
    ticket("1", status="new"),
    ticket("2", assignee="grace", team="senior-support"),
    ticket("3", assignee="grace", status="pending"),
    ticket("4", assignee="grace", status="resolved"),
    ticket("5", team="senior-support", priority=Priority.URGENT),
    ticket("6", status="escalated", team="vendor-support", due_at=NOW - timedelta(hours=1)),
    ticket("7", status="closed"),
    ticket("8", due_at=NOW + timedelta(hours=1)),
]


def listed(query: QueueQuery, me: str = "grace") -> list[str]:
    """What the queries of `plan` return over the index rows of DESK: the active rows, or
    for `status=closed` the closed ones."""
    found = plan(query, me=me, now=NOW)
    return sorted(t.number for t in DESK if is_closed(t.status) == found.closed
                  and matches(summary(t), found.conditions))


def test_the_sidebar_lists_what_an_agent_expects_in_each_queue():
    assert listed(SIDEBAR["unassigned"]) == ["1", "5", "6", "8"]  # not done, nobody's
    assert listed(SIDEBAR["mine"]) == ["2", "3"]                   # resolved is not "mine" work
    assert listed(SIDEBAR["pending"]) == ["3"]
    assert listed(SIDEBAR["escalated"]) == ["6"]
    assert listed(SIDEBAR["overdue"]) == ["6"]                     # 8 is not due yet
    assert listed(SIDEBAR["resolved"]) == ["4"]


def test_filters_combine_within_the_most_selective_range():
    assert listed(QueueQuery(team="senior-support")) == ["2", "5"]
    assert listed(QueueQuery(team="senior-support", priority=Priority.URGENT)) == ["5"]
    assert listed(QueueQuery(assignee="grace", team="senior-support")) == ["2"]
    assert listed(QueueQuery(assignee="grace", team="none")) == ["3", "4"]
    assert listed(QueueQuery(team="none", status="open")) == ["8"]
    # Closed tickets have left the agents' queues; they are listed on their own.
    assert listed(QueueQuery()) == ["1", "2", "3", "4", "5", "6", "8"]
    assert listed(QueueQuery(status="closed")) == ["7"]
    assert plan(QueueQuery(status="closed", sort="due"), me="g", now=NOW).sort == "created"


def test_me_means_the_caller():
    assert listed(QueueQuery(assignee="me"), me="nobody-here") == []
    assert plan(QueueQuery(assignee="me"), me="grace", now=NOW).queue == \
        plan(QueueQuery(assignee="grace"), me="x", now=NOW).queue


@pytest.mark.parametrize("sort", ["created", "updated", "due"])
def test_every_sort_lists_the_same_tickets(sort: str):
    assert listed(QueueQuery(assignee="grace", sort=sort)) == ["2", "3", "4"]


def test_a_continuation_token_only_resumes_its_own_queue():
    mine = plan(QueueQuery(assignee="grace"), me="grace", now=NOW).queue
    theirs = plan(QueueQuery(assignee="ada"), me="grace", now=NOW).queue
    by_due = plan(QueueQuery(assignee="grace", sort="due"), me="grace", now=NOW).queue
    token = _encode("somewhere", mine)
    assert _decode(token, mine) == "somewhere"
    for other in (theirs, by_due):
        with pytest.raises(BadRequest):
            _decode(token, other)
    with pytest.raises(BadRequest):
        _decode("not a token", mine)
    # The overdue queue compares with now: its token still resumes it a minute later.
    overdue = QueueQuery(overdue=True, active=True)
    assert plan(overdue, me="g", now=NOW).queue == \
        plan(overdue, me="g", now=NOW + timedelta(minutes=1)).queue


def test_a_selected_property_a_row_lacks_is_left_at_its_default():
    row = {**summary(ticket("1")), "due_at": None, "overdue": None, "RowKey": "k"}
    shown = item(row)
    assert shown.overdue is False and shown.due_at is None and shown.team is None


def test_a_queue_filters_on_choice_fields_of_the_rows_read() -> None:
    from shared.tickets.queues import fields_match, parse_query

    query = parse_query({"status": "open", "field.os": "linux", "field.apps": "Chat"})
    assert query.fields == {"os": "linux", "apps": "Chat"}
    wanted = plan(query, me="grace", now=NOW).fields
    row = summary(ticket("9", fields={"os": "Linux", "apps": ["Mail", "Chat"]}))
    assert fields_match(row, wanted)
    assert not fields_match(summary(ticket("9", fields={"os": "Linux", "apps": ["Mail"]})), wanted)
    assert not fields_match(summary(ticket("9")), wanted)
    # The filters are part of the queue a continuation token names.
    assert plan(query, me="grace", now=NOW).queue != plan(parse_query({"status": "open"}),
                                                          me="grace", now=NOW).queue


def test_a_field_filter_names_a_field_id() -> None:
    from shared.core.errors import ValidationFailed
    from shared.tickets.queues import parse_query

    with pytest.raises(ValidationFailed):
        parse_query({"field.Bad": "x"})
    with pytest.raises(ValidationFailed):
        parse_query({f"field.f{i}": "x" for i in range(6)})
