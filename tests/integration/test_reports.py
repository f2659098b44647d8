"""The daily summaries on a real Azurite: kept up to date by the event handler, counted
once whatever the queue does (twice, at once, after a crash half-way), and equal to a
rebuild from the tickets.

These tests own their Azurite: the rebuild reads every ticket and rewrites every summary,
which must not race with the other tests' tickets on the session's storage."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from devtools import services
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.core.models import EntryKind
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.notifications.notify import MailInProgress, handle_event
from shared.reports import metrics, summaries
from shared.storage.reports import SHARDS, day_partition, record_from_entity
from shared.tickets import actionbodies, intake, workflow
from tests.conftest import LocalServices, app_env, unique_email


@pytest.fixture
async def own_desk(test_services: LocalServices) -> AsyncIterator[Helpdesk]:
    with services.memory_azurite(Path(tempfile.mkdtemp(prefix="reports-"))) as storage:
        desk = await Helpdesk.start(Settings.from_env(app_env(test_services, AzureWebJobsStorage=storage)))
        try:
            yield desk
        finally:
            await desk.close()


async def new_ticket(desk: Helpdesk, subject: str = "s") -> str:
    return (await intake.submit_ticket({"name": "R", "email": unique_email("rep"), "subject": subject,
                                        "description": "d"}, [], desk=desk)).number


async def act(desk: Helpdesk, number: str, action: Action, body: dict) -> None:
    await workflow.act(number, action, actionbodies.parse_body(action, body), actor="agent1",
                       roles=frozenset({"agent"}), if_match=None, desk=desk)


async def deliver_all(desk: Helpdesk, number: str, times: int = 1) -> None:
    """Each of the ticket's events, `times` times, as the queue would hand them over."""
    stored = await desk.tickets.get(number)
    assert stored is not None
    for entry in stored.thread:
        if entry.kind is EntryKind.EMAIL_SENT:
            continue
        event = TicketEvent(ticket=number, seq=entry.seq, kind=entry.kind.value, indexed=True)
        for _ in range(times):
            await delivered(event, desk)


async def delivered(event: TicketEvent, desk: Helpdesk) -> None:
    """The handler, retried as the queue retries it while another delivery holds the
    email's claim."""
    for _ in range(50):
        try:
            await handle_event(event, desk=desk)
            return
        except MailInProgress:
            await asyncio.sleep(0.1)
    raise AssertionError("the email's claim was never released")


async def test_events_counted_once_and_the_rebuild_equals_the_live_summaries(own_desk: Helpdesk):
    desk = own_desk
    numbers = [await new_ticket(desk, f"t{i}") for i in range(4)]
    await act(desk, numbers[0], Action.REPLY, {"body": "hello"})
    await act(desk, numbers[0], Action.RESOLVE, {"resolution": "fixed"})
    await act(desk, numbers[1], Action.ESCALATE, {"tier": "senior-support", "reason": "hard"})
    await act(desk, numbers[1], Action.RESOLVE, {"resolution": "fixed"})
    await act(desk, numbers[1], Action.REOPEN, {"comment": "not fixed"})
    await act(desk, numbers[2], Action.ASSIGN, {"team": "sysadmins-developers"})

    await deliver_all(desk, numbers[0], times=2)                 # every event twice
    await asyncio.gather(*(deliver_all(desk, numbers[1]) for _ in range(3)))  # three at once
    await deliver_all(desk, numbers[2])
    await deliver_all(desk, numbers[3])

    live = await desk.reports.read_all()
    assert live == await summaries.expected(desk)
    today = desk.clock().date().isoformat()
    everything = live[(today, "all")]
    assert everything["created"] == 4
    assert everything["resolved"] == 2 and everything["reopened"] == 1
    assert everything["frt_n"] == 1
    assert everything["tier_n:senior-support"] == 1
    assert live[(today, "team|sysadmins-developers")]["created"] == 1

    assert await summaries.rebuild(desk) == 4
    assert await desk.reports.read_all() == live
    # after the rebuild, the live path goes on from the rebuilt state without counting twice
    await deliver_all(desk, numbers[0])
    assert await desk.reports.read_all() == live


async def test_a_handler_that_stopped_half_way_is_finished_by_the_next_delivery(own_desk: Helpdesk):
    desk = own_desk
    number = await new_ticket(desk)
    await deliver_all(desk, number)
    await act(desk, number, Action.REPLY, {"body": "answer"})
    stored = await desk.tickets.get(number)
    assert stored is not None
    record = record_from_entity(stored.metrics)
    wanted = metrics.contributions(stored.ticket, stored.thread)
    # The crash: the pending addition written, and only the first day's rows updated.
    etag = await desk.reports.write_record(number, record, revision=record.revision + 1,
                                           applied=record.applied, pending=wanted)
    assert etag is not None
    delta = metrics.difference(wanted, record.applied)
    day = sorted({d for d, _ in delta})[0]
    await desk.reports.add_to_day(day, {row: c for (d, row), c in delta.items() if d == day},
                                  marker=f"{number}|{record.revision + 1}", shard=int(number))

    await deliver_all(desk, number)  # the redelivery
    assert await desk.reports.read_all() == await summaries.expected(desk)
    assert (await desk.reports.read_all())[(day, "all")]["frt_n"] == 1


async def test_a_days_parts_are_partitions_of_their_own_and_old_days_still_count(
        own_desk: Helpdesk):
    """Tickets add to their own part of a day, each part a partition (so a busy day's
    writes spread over SHARDS partitions); a day written by an older desk, all parts in
    one partition `d|<day>`, is still added in."""
    desk = own_desk
    numbers = [await new_ticket(desk, f"p{i}") for i in range(6)]
    for number in numbers:
        await deliver_all(desk, number)
    today = desk.clock().date().isoformat()
    table = desk.clients.table("reports")
    partitions = {e["PartitionKey"] async for e in table.query_entities(
        "PartitionKey ge @lo and PartitionKey lt @hi",
        parameters={"lo": f"d|{today}", "hi": f"d|{today}|~"}, select=["PartitionKey"])}
    assert partitions == {day_partition(today, int(n) % SHARDS) for n in numbers}
    assert (await desk.reports.read_all())[(today, "all")]["created"] == 6

    # An older desk's day: one partition, parts as rows.
    await table.create_entity({"PartitionKey": f"d|{today}", "RowKey": "all:3", "row": "all",
                               "c": json.dumps({"created": 10})})
    assert (await desk.reports.read_all())[(today, "all")]["created"] == 16


async def test_the_summary_reads_days_and_groups(own_desk: Helpdesk):
    desk = own_desk
    first = await new_ticket(desk)
    second = await new_ticket(desk)
    await act(desk, first, Action.ESCALATE, {"tier": "vendor-support", "reason": "disk",
                                             "vendor_name": "Acme"})
    await act(desk, first, Action.RESOLVE, {"resolution": "replaced"})
    for number in (first, second):
        await deliver_all(desk, number)
    today = desk.clock().date()
    week = summaries.parse_query({"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()})
    by_day = await summaries.summary(week, desk=desk)
    assert by_day["totals"]["created"] == 2 and by_day["totals"]["resolved"] == 1
    assert by_day["created_resolved_per_day"][-1] == {"day": today.isoformat(), "created": 2, "resolved": 1}
    assert by_day["backlog_by_age"][0] == {"age": "under 1 day", "open": 1}
    assert by_day["totals"]["tiers"]["vendor-support"]["stays"] == 1
    by_team = await summaries.summary(summaries.parse_query(
        {"from": today.isoformat(), "to": today.isoformat(), "group": "team"}), desk=desk)
    assert {g["key"]: g["created"] for g in by_team["groups"]} == {"vendor-support": 1, "~none": 1}
    assert by_team["totals"]["created"] == 2


async def test_the_csv_has_one_row_per_ticket_and_defuses_formulas(own_desk: Helpdesk):
    desk = own_desk
    hostile = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2", "@SUM(A1)", "plain, with \"quotes\""]
    for subject in hostile:
        await new_ticket(desk, subject)
    today = desk.clock().date()
    text = "".join([part async for part in summaries.tickets_csv(today, today, desk=desk)])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(hostile)
    subjects = sorted(row["subject"] for row in rows)
    assert subjects == sorted(["'=HYPERLINK(\"http://evil\",\"x\")", "'+1+1", "'-2", "'@SUM(A1)",
                               "plain, with \"quotes\""])
    assert all(not row[c].startswith(("=", "+", "-", "@")) for row in rows for c in row)
