"""Which index rows a ticket has (shared/storage/indexing.py): the queues it is listed in,
the order those lists read in, the SLA sweep's row and the search words. A queue page is
one RowKey range, so "in the queue" here means "has a key under the queue's prefix"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.core.lifecycle import Status
from shared.core.models import Channel, Priority, Ticket
from shared.storage import indexing
from shared.storage.indexing import (
    UNASSIGNED,
    due_before,
    index_keys,
    queue_prefix,
    sort_key,
    summary,
    sweep_key,
    sweep_range_end,
    word_prefix,
)

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def ticket(number: str = "10000009", **changes: Any) -> Ticket:
    fields: dict[str, Any] = dict(
        number=number, subject="Printer jams", description="The third floor printer",
        requester_name="Ada Lovelace", requester_email="Ada@Example.org",
        priority=Priority.NORMAL, category="hardware", status="new", channel=Channel.WEB,
        created_at=T0, updated_at=T0, last_seq=1)
    return Ticket(**{**fields, **changes})


def queues_of(t: Ticket) -> set[tuple[str, str]]:
    """The (index, value) pairs of the queues a ticket is listed in, by any sort."""
    found = set()
    for key in index_keys(t):
        index, value, *_ = key.split("|")
        if index not in ("word", "sweep"):
            found.add((index, value))
    return found


def in_queue(t: Ticket, index: str, value: str | None, sort: str = "created") -> bool:
    prefix = queue_prefix(index, value, sort)
    return any(key.startswith(prefix) for key in index_keys(t))


def test_a_new_ticket_is_in_the_unassigned_queues_its_status_everything_and_its_requesters():
    assert queues_of(ticket()) == {("status", "new"), ("team", UNASSIGNED),
                                   ("assignee", UNASSIGNED), ("all", "*"),
                                   ("requester", "ada@example.org")}
    assert in_queue(ticket(), "assignee", None) and in_queue(ticket(), "team", None)


def test_every_queue_has_all_three_sorts_and_the_requester_list_only_by_created():
    keys = [k for k in index_keys(ticket()) if not indexing.is_word_key(k)]
    assert len(keys) == 13  # README: status, team, assignee, all × 3 sorts + requester
    for index in ("status", "team", "assignee", "all"):
        for sort in ("created", "updated", "due"):
            assert in_queue(ticket(), index, "new" if index == "status" else None, sort)
    assert in_queue(ticket(), "requester", "ada@example.org", "created")
    assert not in_queue(ticket(), "requester", "ada@example.org", "updated")


def test_an_assigned_ticket_leaves_the_unassigned_queues_for_its_agent_and_team():
    t = ticket(status="open", team="senior-support", assignee="grace")
    assert in_queue(t, "assignee", "grace") and in_queue(t, "team", "senior-support")
    assert in_queue(t, "status", "open") and not in_queue(t, "status", "new")
    assert not in_queue(t, "assignee", None) and not in_queue(t, "team", None)
    assert not in_queue(t, "assignee", "grace-hopper")  # a longer id is another queue


def test_a_team_without_an_agent_is_still_in_the_unassigned_agent_queue():
    t = ticket(status="open", team="service-desk")
    assert in_queue(t, "team", "service-desk") and in_queue(t, "assignee", None)


@pytest.mark.parametrize("status", ["pending", "escalated", "resolved", "closed"])
def test_a_status_change_moves_the_ticket_to_exactly_that_status_queue(status: str):
    before = ticket(status="open", assignee="grace")
    after = before.model_copy(update={"status": Status(status)})
    assert {v for i, v in queues_of(after) if i == "status"} == {status}
    assert not in_queue(after, "status", "open")
    # The rows to delete when it changes: only the status rows differ here.
    gone = set(index_keys(before)) - set(index_keys(after))
    assert gone and all(key.startswith("status|open|") for key in gone)


def test_a_done_ticket_leaves_the_sla_sweep_and_the_overdue_part_of_its_queues():
    due = T0 + timedelta(hours=4)
    open_ = ticket(status="open", due_at=due, sla_check_at=due - timedelta(hours=1))
    done = open_.model_copy(update={"status": Status.RESOLVED, "due_at": None, "sla_check_at": None,
                                    "resolved_at": T0 + timedelta(hours=1)})
    later = due + timedelta(minutes=1)
    prefix = queue_prefix("all", None, "due")

    def overdue(t: Ticket) -> bool:
        return any(prefix <= key < due_before(prefix, later) for key in index_keys(t))

    assert overdue(open_) and not overdue(done)
    assert any(k.startswith("sweep|") for k in index_keys(open_))
    assert not any(k.startswith("sweep|") for k in index_keys(done))


def test_created_lists_oldest_first_updated_latest_first_due_soonest_first_undated_last():
    a = ticket("10000009", created_at=T0, updated_at=T0 + timedelta(hours=5),
               due_at=T0 + timedelta(hours=9))
    b = ticket("10000017", created_at=T0 + timedelta(minutes=1),
               updated_at=T0 + timedelta(hours=1), due_at=T0 + timedelta(hours=2))
    c = ticket("10000025", created_at=T0 + timedelta(days=400), updated_at=T0 + timedelta(days=400))

    def order(sort: str) -> list[str]:
        prefix = queue_prefix("all", None, sort)
        keys = sorted(k for t in (a, b, c) for k in index_keys(t) if k.startswith(prefix))
        return [k.rsplit("|", 1)[1] for k in keys]

    assert order("created") == ["10000009", "10000017", "10000025"]
    assert order("updated") == ["10000025", "10000009", "10000017"]
    assert order("due") == ["10000017", "10000009", "10000025"]  # no due time: last


def test_updated_order_holds_to_the_microsecond_and_across_years():
    times = [T0, T0 + timedelta(microseconds=1), T0 + timedelta(days=3650),
             datetime(2001, 1, 1, tzinfo=UTC)]
    keys = [sort_key(ticket(updated_at=t), "updated") for t in times]
    assert sorted(keys) == [keys[2], keys[1], keys[0], keys[3]]
    assert len(set(map(len, keys))) == 1  # fixed width, so text order is time order


def test_user_values_cannot_break_out_of_their_part_of_the_key():
    t = ticket(team="a|b", assignee="x/y#z?", requester_email="o'neil+x@example.org")
    for key in index_keys(t):
        assert "/" not in key and "#" not in key and "?" not in key and "\\" not in key
        if not key.startswith(("word|", "sweep|")):
            assert len(key.split("|")) == 5, key
    assert in_queue(t, "team", "a|b") and in_queue(t, "assignee", "x/y#z?")
    assert not in_queue(t, "team", "a")


def test_the_requesters_list_ignores_the_case_of_the_address():
    assert in_queue(ticket(requester_email="ADA@EXAMPLE.ORG"), "requester", "ada@example.org")


def test_the_sweep_reads_only_what_has_come_due():
    check = T0 + timedelta(hours=2)
    key = sweep_key(check, "10000009")
    assert key in index_keys(ticket(sla_check_at=check))
    assert "sweep|" <= key < sweep_range_end(check)  # due now
    assert key < sweep_range_end(check + timedelta(seconds=1))
    assert not key < sweep_range_end(check - timedelta(microseconds=1))  # not yet


def test_search_words_are_rows_a_prefix_finds():
    t = ticket(subject="Printer jams", requester_name="Ada", description="")
    words = [k for k in index_keys(t) if indexing.is_word_key(k)]
    assert words == ["word|printer|10000009", "word|jams|10000009", "word|ada|10000009"]
    assert words[0].startswith(word_prefix("print"))  # "print" finds "printer"
    assert not any(k.startswith(word_prefix("jammed")) for k in words)
    assert not indexing.is_word_key(queue_prefix("all", None))


def test_queue_prefix_refuses_unknown_indexes_and_sorts_and_all_ignores_the_value():
    assert queue_prefix("all", "whatever") == queue_prefix("all", None)
    with pytest.raises(ValueError):
        queue_prefix("priority", "high")
    with pytest.raises(ValueError):
        queue_prefix("status", "open", "random")
    with pytest.raises(ValueError):
        sort_key(ticket(), "random")


def test_every_row_carries_what_a_queue_page_shows_and_outcomes_only_once_they_happened():
    fresh = summary(ticket(subject="x" * 500))
    assert len(fresh["subject"]) == 200
    assert fresh["team"] == "" and fresh["assignee"] == "" and fresh["priority"] == "normal"
    assert not {"due_at", "overdue", "first_response_at", "resolved_at", "closed_at",
                "satisfied"} & set(fresh)
    done = summary(ticket(status="closed", team="t", assignee="g", overdue=True,
                          due_at=T0, resolved_at=T0, closed_at=T0, satisfied=False))
    assert done["team"] == "t" and done["assignee"] == "g" and done["overdue"] is True
    assert done["resolved_at"] == T0 and done["closed_at"] == T0 and done["due_at"] == T0
    assert done["satisfied"] == "no" and "first_response_at" not in done
