"""Which index rows a ticket has and where (shared/storage/indexing.py): one active row
while it can be worked, one closed row once closed, one requester row, its search words;
the partitions they spread over and the order each reads in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.core.lifecycle import Status
from shared.core.models import Channel, Priority, Ticket
from shared.core.numbering import new_number
from shared.storage import indexing
from shared.storage.indexing import (
    ACTIVE_TABLE,
    BUCKETS,
    CLOSED_TABLE,
    REQUESTERS_TABLE,
    active_partitions,
    candidate_keys,
    index_keys,
    index_matches,
    live_address,
    parse_address,
    sort_key,
    summary,
    word_range,
    word_rows,
)

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def ticket(number: str = "10000009", **changes: Any) -> Ticket:
    fields: dict[str, Any] = dict(
        number=number, subject="Printer jams", description="The third floor printer",
        requester_name="Ada Lovelace", requester_email="Ada@Example.org",
        priority=Priority.NORMAL, category="hardware", status="new", channel=Channel.WEB,
        created_at=T0, updated_at=T0, last_seq=1)
    return Ticket(**{**fields, **changes})


def tables_of(t: Ticket) -> list[str]:
    return sorted(parse_address(k)[0] for k in index_keys(t))  # type: ignore[index]


def test_a_ticket_that_can_be_worked_has_one_active_row_and_one_requester_row():
    for status in ("new", "open", "pending", "escalated", "resolved"):
        assert tables_of(ticket(status=status)) == [ACTIVE_TABLE, REQUESTERS_TABLE]


def test_a_closed_ticket_leaves_the_active_rows_for_the_closed_table():
    assert tables_of(ticket(status="closed")) == [CLOSED_TABLE, REQUESTERS_TABLE]
    assert set(index_keys(ticket(status="closed"))) <= set(candidate_keys(ticket()))


@pytest.mark.parametrize("change", [{"status": Status.PENDING}, {"team": "senior-support"},
                                    {"assignee": "grace"}, {"updated_at": T0 + timedelta(1)},
                                    {"due_at": T0, "sla_check_at": T0}])
def test_a_move_between_queues_rewrites_the_same_row_in_place(change: dict[str, Any]):
    before = ticket(status="open")
    after = before.model_copy(update=change)
    assert index_keys(after) == index_keys(before)
    assert summary(after) != summary(before)


def test_the_active_rows_spread_evenly_over_the_buckets_and_never_one_partition():
    buckets = Counter(parse_address(live_address(ticket(new_number())))[1]  # type: ignore[index]
                      for _ in range(4000))
    assert set(buckets) == set(active_partitions()) and len(buckets) == BUCKETS
    assert max(buckets.values()) < 2 * 4000 / BUCKETS


def test_closed_rows_are_partitioned_by_the_day_created_and_keys_sort_by_creation_time():
    key = live_address(ticket(status="closed"))
    table, partition, row = parse_address(key)  # type: ignore[misc]
    assert (table, partition) == (CLOSED_TABLE, "20260302") and row.startswith(partition)
    a = live_address(ticket("10000009", created_at=T0)).split("/")[2]
    b = live_address(ticket("10000017", created_at=T0 + timedelta(microseconds=1))).split("/")[2]
    assert a < b


def test_requester_rows_ignore_the_case_of_the_address_and_list_the_newest_first():
    def row(**fields: Any) -> tuple[str, str]:
        _, partition, key = parse_address(index_keys(ticket(**fields))[1])  # type: ignore[misc]
        return partition, key
    assert row(requester_email="ADA@EXAMPLE.ORG")[0] == row()[0] == "ada@example.org"
    assert row(created_at=T0 + timedelta(days=1))[1] < row()[1]


def test_created_oldest_first_updated_latest_first_due_soonest_first_undated_last():
    a = ticket("10000009", created_at=T0, updated_at=T0 + timedelta(hours=5),
               due_at=T0 + timedelta(hours=9))
    b = ticket("10000017", created_at=T0 + timedelta(minutes=1),
               updated_at=T0 + timedelta(hours=1), due_at=T0 + timedelta(hours=2))
    c = ticket("10000025", created_at=T0 + timedelta(days=400), updated_at=T0 + timedelta(days=400))

    def order(sort: str) -> list[str]:
        return [r["number"] for r in sorted((summary(t) for t in (a, b, c)),
                                            key=lambda r: sort_key(r, sort))]

    assert order("created") == ["10000009", "10000017", "10000025"]
    assert order("updated") == ["10000025", "10000009", "10000017"]
    assert order("due") == ["10000017", "10000009", "10000025"]  # no due time: last
    with pytest.raises(ValueError):
        sort_key(summary(a), "random")


def test_updated_order_holds_to_the_microsecond_and_across_years():
    times = [T0, T0 + timedelta(microseconds=1), T0 + timedelta(days=3650),
             datetime(2001, 1, 1, tzinfo=UTC)]
    keys = [sort_key(summary(ticket(updated_at=t)), "updated") for t in times]
    assert sorted(keys) == [keys[2], keys[1], keys[0], keys[3]]
    assert len(set(map(len, keys))) == 1  # fixed width, so text order is time order


def test_user_values_cannot_break_out_of_their_part_of_the_key():
    t = ticket(team="a|b", assignee="x/y#z?", requester_email="o'neil/x#y?@example.org")
    for key in index_keys(t):
        _, partition, row = parse_address(key)  # type: ignore[misc]
        for part in (partition, row):
            assert "/" not in part and "#" not in part and "?" not in part and "\\" not in part
    assert parse_address("status|open|created|x|1") is None  # the old layout's keys


def test_a_done_ticket_has_no_sla_check_for_the_sweep():
    due = T0 + timedelta(hours=4)
    open_ = ticket(status="open", due_at=due, sla_check_at=due - timedelta(hours=1))
    assert summary(open_)["sla_check_at"] == due - timedelta(hours=1)
    resolved = open_.model_copy(update={"status": Status.RESOLVED})
    assert "sla_check_at" not in summary(resolved)


def test_search_words_are_rows_of_the_tickets_bucket_that_a_prefix_range_finds():
    t = ticket(subject="Printer jams", requester_name="Ada", description="")
    rows = word_rows(t)
    # One partition (the ticket's bucket): one transaction, whatever the words.
    assert {r["PartitionKey"] for r in rows} == {indexing.bucket(t.number)}
    assert [r["RowKey"].split("|")[0] for r in rows] == ["printer", "jams", "ada"]
    assert all(r["words"] == "printer jams ada" and indexing.word_row_number(r["RowKey"]) == t.number
               for r in rows)
    assert set(rows[0]) == {"PartitionKey", "RowKey", "words"}  # nothing the key already says
    low, high = word_range("print")  # "print" finds "printer"
    keys = {r["RowKey"].split("|")[0]: r["RowKey"] for r in rows}
    assert low <= keys["printer"] < high and not low <= keys["jams"] < high
    assert not word_range("jammed")[0] <= keys["jams"] < word_range("jammed")[1]
    # Newer tickets of a word sort first within it.
    later = ticket(subject="Printer", requester_name="Bo", description="",
                   created_at=T0 + timedelta(days=1))
    assert word_rows(later)[0]["RowKey"] < keys["printer"]


def test_the_repair_sees_a_missing_an_extra_or_an_out_of_date_row():
    t = ticket(status="open")
    rows = {key: {"PartitionKey": "p", "RowKey": "r", **summary(t)} for key in index_keys(t)}
    assert index_matches(t, rows)
    assert not index_matches(t, {k: v for k, v in rows.items() if k != live_address(t)})
    closed = indexing.closed_address(t)
    assert not index_matches(t, {**rows, closed: summary(t)})
    later = t.model_copy(update={"updated_at": T0 + timedelta(minutes=1)})
    assert not index_matches(later, rows)


def test_every_row_carries_what_a_queue_page_shows_and_outcomes_only_once_they_happened():
    fresh = summary(ticket(subject="x" * 500))
    assert len(fresh["subject"]) == 200
    assert fresh["team"] == "" and fresh["assignee"] == "" and fresh["priority"] == "normal"
    assert not {"due_at", "overdue", "first_response_at", "resolved_at", "closed_at",
                "satisfied", "sla_check_at"} & set(fresh)
    done = summary(ticket(status="closed", team="t", assignee="g", overdue=True,
                          due_at=T0, resolved_at=T0, closed_at=T0, satisfied=False))
    assert done["team"] == "t" and done["assignee"] == "g" and done["overdue"] is True
    assert done["resolved_at"] == T0 and done["closed_at"] == T0 and done["due_at"] == T0
    assert done["satisfied"] == "no" and "first_response_at" not in done


def test_a_ticket_has_two_listed_rows_and_at_most_thirty_words_whatever_its_text():
    words = " ".join(f"word{i}" for i in range(200))
    t = ticket(subject=words, description=words, requester_name=words, due_at=T0,
               sla_check_at=T0)
    assert len(index_keys(t)) == 2 and len(word_rows(t)) == 30
