"""The figures a hand-made history must give: business hours, a pause on the requester,
a reopening, an escalation, a breach and a rating, each with a known answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from shared.core.counters import add_into
from shared.core.models import Channel, EntryKind, Priority, ThreadEntry, Ticket
from shared.reports import metrics
from shared.sla import clocks, workhours

MON = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MON.replace(day=2 + day, hour=hour, minute=minute)


def entry(seq: int, kind: EntryKind, when: datetime, **data: Any) -> ThreadEntry:
    return ThreadEntry(seq=seq, kind=kind, at=when, actor="agent1", public=True, data=data)


def ticket(**fields: Any) -> Ticket:
    base: dict[str, Any] = dict(
        number="10000009", subject="s", description="d", requester_name="R",
        requester_email="r@example.org", priority=Priority.NORMAL, category="network",
        status="open", channel=Channel.WEB, team="service-desk", assignee="agent1",
        created_at=at(0, 9), updated_at=at(0, 9), last_seq=1)
    return Ticket(**{**base, **fields})


def calendar_time_history() -> tuple[Ticket, list[ThreadEntry]]:
    """Created Monday 09:00; answered 10:30; waits on the requester 11:00-13:00; resolved
    15:00; reopened by the requester Tuesday 09:00; resolved again Tuesday 10:00."""
    thread = [
        entry(1, EntryKind.CREATED, at(0, 9)),
        entry(2, EntryKind.REPLY, at(0, 10, 30), first_response=True),
        entry(3, EntryKind.INFO_REQUESTED, at(0, 11), **{"from": "open", "to": "pending"}),
        entry(4, EntryKind.MESSAGE, at(0, 13), **{"from": "pending", "to": "open"}),
        entry(5, EntryKind.RESOLVED, at(0, 15), **{"from": "open", "to": "resolved"}),
        entry(6, EntryKind.MESSAGE, at(1, 9), **{"from": "resolved", "to": "open"}),
        entry(7, EntryKind.RESOLVED, at(1, 10), **{"from": "open", "to": "resolved"}),
    ]
    return ticket(status="resolved", resolved_at=at(1, 10), first_response_at=at(0, 10, 30),
                  last_seq=7, updated_at=at(1, 10)), thread


def business_hours_history() -> tuple[Ticket, list[ThreadEntry]]:
    """Mon-Fri 09:00-17:00. Created Friday 16:00, answered Monday 10:00 (2 working
    hours), breached Monday 09:30, escalated 11:00, resolved 15:00 (7 working hours in
    all, 4 of them in the tier), rated 'yes' at 16:00."""
    calendar = workhours.Calendar(id="office", start=time(9), end=time(17))
    clock = clocks.SlaClock(plan_id="p", calendar=calendar, first_response_target_hours=1,
                         resolution_target_hours=8, business_hours=True, started_at=at(4, 16))
    thread = [
        entry(1, EntryKind.CREATED, at(4, 16)),
        entry(2, EntryKind.SLA, at(7, 9, 30), event="sla_breached", target="first_response"),
        entry(3, EntryKind.REPLY, at(7, 10), first_response=True),
        entry(4, EntryKind.ESCALATED, at(7, 11), tier="sysadmins-developers",
              **{"from": "open", "to": "escalated"}),
        entry(5, EntryKind.RESOLVED, at(7, 15), **{"from": "escalated", "to": "resolved"}),
    ]
    return ticket(number="10000017", created_at=at(4, 16), updated_at=at(7, 16), status="resolved",
                  team="sysadmins-developers", channel=Channel.EMAIL, sla=clock.model_dump(mode="json"),
                  satisfied=True, rated_at=at(7, 16), last_seq=5), thread


def test_calendar_time_leaves_out_the_wait_on_the_requester_and_the_time_resolved():
    part = metrics.contributions(*calendar_time_history())
    monday, tuesday = part[("2026-03-02", "all")], part[("2026-03-03", "all")]
    assert monday["created"] == 1 and monday["frt_s"] == 5400        # 1 h 30
    assert monday["resolved"] == 1 and "res_n" not in monday          # only the last one counts
    assert tuesday["reopened"] == 1 and tuesday["resolved"] == 1
    # 25 h from creation to the final resolution, less 2 h pending and 18 h resolved
    assert tuesday["res_n"] == 1 and tuesday["res_s"] == 5 * 3600
    assert monday["status:resolved"] == 1 and "backlog" not in monday


def test_business_hours_count_only_working_time():
    part = metrics.contributions(*business_hours_history())
    monday = part[("2026-03-09", "all")]
    assert part[("2026-03-06", "all")]["created"] == 1
    assert monday["frt_s"] == 2 * 3600                    # Fri 16-17 and Mon 9-10
    assert monday["res_s"] == 7 * 3600                    # Fri 16-17 and Mon 9-15
    assert monday["tier_s:sysadmins-developers"] == 4 * 3600
    assert monday["sla_breached"] == 1 and monday["sla_resolved_breached"] == 1
    assert monday["csat_yes"] == 1
    # the ticket counts under its own team and channel, and under all
    assert part[("2026-03-09", "team|sysadmins-developers")] == monday
    assert part[("2026-03-09", "channel|email")] == monday
    assert ("2026-03-09", "team|service-desk") not in part


def test_figures_from_both_histories():
    summed = metrics.total([metrics.contributions(*calendar_time_history()),
                            metrics.contributions(*business_hours_history())])
    everything: dict[str, float] = {}
    for (_, row), counters in summed.items():
        if row == "all":
            everything = add_into(everything, counters)
    figures = metrics.figures(everything)
    assert figures["created"] == 2 and figures["resolved"] == 3 and figures["reopened"] == 1
    assert figures["reopen_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert figures["first_response"]["count"] == 2
    assert figures["first_response"]["mean_seconds"] == (5400 + 7200) / 2
    # percentiles come from 10%-wide buckets: within 5% of the true value
    assert figures["first_response"]["median_seconds"] == pytest.approx(5400, rel=0.05)
    assert figures["first_response"]["p90_seconds"] == pytest.approx(7200, rel=0.05)
    assert figures["resolution"]["median_seconds"] == pytest.approx(18000, rel=0.05)
    assert figures["sla"] == {"breaches": 1, "resolved": 1, "resolved_breached": 1, "breach_rate": 1.0}
    assert figures["tiers"] == {"sysadmins-developers": {"stays": 1, "mean_seconds": 14400.0}}
    assert figures["satisfaction"] == {"yes": 1, "no": 0, "rate": 1.0}


def test_a_change_moves_counts_instead_of_adding_them():
    t, thread = calendar_time_history()
    before = metrics.contributions(t, thread)
    moved = metrics.contributions(t.model_copy(update={"team": "senior-support"}), thread)
    delta = metrics.difference(moved, before)
    assert delta[("2026-03-02", "team|senior-support")]["created"] == 1
    assert delta[("2026-03-02", "team|service-desk")]["created"] == -1
    assert ("2026-03-02", "all") not in delta           # the total did not change
    assert metrics.difference(before, before) == {}      # the same state twice adds nothing


def test_backlog_by_age_reads_the_creation_days_of_open_tickets():
    ages = metrics.backlog_by_age({"2026-03-10": 2, "2026-03-08": 1, "2026-01-01": 4}, date(2026, 3, 10))
    assert ages == [{"age": "under 1 day", "open": 2}, {"age": "1-3 days", "open": 1},
                    {"age": "3-7 days", "open": 0}, {"age": "7-30 days", "open": 0},
                    {"age": "over 30 days", "open": 4}]
