"""SLA plans and clocks as a help desk user sees them: when tickets fall due, what pauses
and reopens do to that, and which warnings and breaches are announced. Every time is given
explicitly. The calendar arithmetic underneath is tested in `test_workhours.py`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.core.models import Priority
from shared.sla.clocks import (
    DEFAULT_PLAN,
    SlaClock,
    SlaPlan,
    Target,
    check,
    due_times,
    next_due,
    pause,
    pick_plan,
    record_first_response,
    record_resolution,
    reopen,
    resume,
    start_clock,
)
from shared.sla.workhours import Calendar, CALENDAR_24x7, add_working_time, working_time_between
from tests.unit.sla.times import (
    BERLIN,
    FRI,
    MON,
    NEXT_MON,
    OFFICE,
    SAT,
    TUE,
    WED,
    H,
    at,
    calendars,
    instants,
    local,
)


def plan(calendar: Calendar = OFFICE, **targets: Target) -> SlaPlan:
    every = {p: Target(first_response_hours=4, resolution_hours=8) for p in Priority}
    every.update({Priority(k): v for k, v in targets.items()})
    return SlaPlan(id="p", name="Test", calendar=calendar, targets=every)


def kinds(events) -> list[tuple[str, str | None]]:
    return [(e.kind, e.target) for e in events]


# --- plans and calendar-hour targets ------------------------------------------------------


def test_calendar_hour_targets_ignore_the_calendar():
    urgent = DEFAULT_PLAN.targets[Priority.URGENT]
    assert urgent.business_hours is False
    clock, events = start_clock(DEFAULT_PLAN, Priority.URGENT, at(FRI, 16))
    assert due_times(clock) == {"first_response": at(FRI, 17), "resolution": at(FRI, 20)}
    assert [e.due_at for e in events] == [at(FRI, 17), at(FRI, 20)]
    assert add_working_time(at(SAT, 23), 4, CALENDAR_24x7) == at(SAT, 23) + 4 * H


def test_default_plan_gives_business_day_targets():
    clock, _ = start_clock(DEFAULT_PLAN, Priority.LOW, at(MON, 9))
    assert due_times(clock) == {"first_response": at(WED, 17), "resolution": at(FRI, 17)}
    clock, _ = start_clock(DEFAULT_PLAN, Priority.HIGH, at(FRI, 16))
    assert due_times(clock) == {"first_response": at(NEXT_MON, 12), "resolution": at(NEXT_MON, 16)}


# --- plans validate -----------------------------------------------------------------------


def test_targets_and_plans_validate():
    with pytest.raises(ValidationError):
        Target(first_response_hours=0, resolution_hours=8)
    with pytest.raises(ValidationError):
        Target(first_response_hours=8, resolution_hours=4)
    with pytest.raises(ValidationError, match="low"):
        SlaPlan(id="p", name="p", calendar=OFFICE,
                targets={p: Target(first_response_hours=1, resolution_hours=2) for p in Priority if p != "low"})


def test_clock_survives_a_round_trip_through_json():
    clock, _ = start_clock(plan(BERLIN), Priority.HIGH, local("Europe/Berlin", 2026, 1, 5, 10))
    clock, _ = pause(clock, at(MON, 11))
    again = SlaClock.model_validate_json(clock.model_dump_json())
    assert again == clock and again.started_at.tzinfo is not None


# --- pauses -------------------------------------------------------------------------------


def test_two_working_hours_pending_move_the_due_time_by_two_working_hours():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, _ = record_first_response(clock, at(MON, 9, 30))
    assert due_times(clock)["resolution"] == at(MON, 17)
    clock, events = pause(clock, at(MON, 10))
    assert kinds(events) == [("sla_paused", None)]
    assert due_times(clock) == {"first_response": None, "resolution": None}
    clock, events = resume(clock, at(MON, 12))
    assert kinds(events) == [("sla_resumed", None)] and events[0].due_at == at(TUE, 11)
    assert due_times(clock)["resolution"] == at(TUE, 11)


def test_pause_over_a_weekend_moves_the_due_time_by_working_time_only():
    clock, _ = start_clock(plan(), Priority.HIGH, at(FRI, 10))  # resolution due Monday 10:00
    clock, _ = record_first_response(clock, at(FRI, 10, 30))
    clock, _ = pause(clock, at(FRI, 16))
    clock, _ = resume(clock, at(NEXT_MON, 10))  # 1 h on Friday + 1 h on Monday
    assert clock.paused_working_seconds == 2 * 3600
    assert due_times(clock)["resolution"] == at(NEXT_MON, 12)


def test_pause_and_resume_are_idempotent():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, _ = pause(clock, at(MON, 10))
    paused, events = pause(clock, at(MON, 11))
    assert paused == clock and events == []
    clock, _ = resume(clock, at(MON, 12))
    resumed, events = resume(clock, at(MON, 13))
    assert resumed == clock and events == []


def test_pausing_an_overdue_ticket_announces_the_breach_first():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, events = pause(clock, at(MON, 14))
    assert kinds(events) == [("sla_breached", "first_response"), ("sla_paused", None)]
    assert next_due(clock, at(MON, 14)) is None


def test_pause_after_every_target_is_overdue_does_not_move_the_reported_due_time():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, _ = pause(clock, at(TUE, 10))
    clock, _ = resume(clock, at(WED, 10))
    assert due_times(clock) == {"first_response": at(MON, 13), "resolution": at(MON, 17)}


def test_a_paused_clock_does_not_breach():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, _ = record_first_response(clock, at(MON, 9, 30))
    clock, _ = pause(clock, at(MON, 10))
    assert check(clock, at(FRI, 16)) == (clock, [])


# --- responses, resolutions, reopening ----------------------------------------------------


def test_first_response_on_time_is_met_once():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, events = record_first_response(clock, at(MON, 12))
    assert kinds(events) == [("sla_met", "first_response")] and events[0].due_at == at(MON, 13)
    assert record_first_response(clock, at(MON, 14)) == (clock, [])
    assert clock.first_response_at == at(MON, 12)


def test_late_first_response_is_still_recorded_as_missed():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, events = record_first_response(clock, at(MON, 15))
    assert kinds(events) == [("sla_stopped", "first_response")]
    assert clock.first_response_at == at(MON, 15) and clock.breached == ["first_response"]


def test_resolution_without_a_reply_also_answers_the_requester():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, events = record_resolution(clock, at(MON, 11))
    assert kinds(events) == [("sla_met", "first_response"), ("sla_met", "resolution")]
    assert next_due(clock, at(MON, 11)) is None
    assert due_times(clock) == {"first_response": None, "resolution": None}


def test_reopened_before_the_due_time_the_resolution_clock_continues():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))   # resolution due Monday 17:00
    clock, _ = record_resolution(clock, at(MON, 11))             # 2 of 8 hours used
    clock, events = reopen(clock, at(MON, 15))
    assert kinds(events) == [("sla_resumed", "resolution")]
    assert due_times(clock)["resolution"] == at(TUE, 13)          # 6 hours left from Monday 15:00
    assert check(clock, at(MON, 17)) == (clock, [])


def test_reopened_long_after_an_on_time_resolution_the_clock_still_continues():
    # The time spent resolved counts as paused: a requester coming back late is not the team's breach.
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, _ = record_resolution(clock, at(MON, 11))
    clock, _ = reopen(clock, at(WED, 10))
    assert due_times(clock)["resolution"] == at(WED, 16)


def test_reopened_after_the_due_time_is_overdue_at_once():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))   # resolution due Monday 17:00
    clock, _ = record_resolution(clock, at(TUE, 10))             # resolved late
    clock, _ = reopen(clock, at(WED, 9))
    assert due_times(clock)["resolution"] == at(MON, 17)          # in the past
    assert next_due(clock, at(WED, 9)) == at(MON, 17)
    clock, events = check(clock, at(WED, 9))
    assert kinds(events) == [("sla_breached", "resolution")]
    assert check(clock, at(WED, 9)) == (clock, [])


def test_reopen_of_an_unresolved_ticket_does_nothing():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    assert reopen(clock, at(MON, 10)) == (clock, [])


# --- warnings, breaches and the next due instant ------------------------------------------


def test_warning_at_80_percent_and_breach_at_100_percent_each_exactly_once():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))  # 4 h response: warn 12:12, due 13:00
    assert check(clock, at(MON, 12, 11)) == (clock, [])
    clock, events = check(clock, at(MON, 12, 12))
    assert kinds(events) == [("sla_warning", "first_response")] and events[0].due_at == at(MON, 13)
    assert check(clock, at(MON, 12, 12)) == (clock, [])
    assert check(clock, at(MON, 12, 59)) == (clock, [])
    clock, events = check(clock, at(MON, 13))
    assert kinds(events) == [("sla_breached", "first_response")]
    assert check(clock, at(MON, 13)) == (clock, [])
    assert clock.warned == ["first_response"] and clock.breached == ["first_response"]


def test_a_check_that_finds_the_breach_already_due_skips_the_stale_warning():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, events = check(clock, at(TUE, 9))
    assert kinds(events) == [("sla_breached", "first_response"), ("sla_breached", "resolution")]
    assert check(clock, at(WED, 9)) == (clock, [])


def test_next_due_walks_warning_breach_then_nothing():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    clock, _ = record_first_response(clock, at(MON, 10))    # resolution: warn 15:24, due 17:00
    now = at(MON, 10)
    assert next_due(clock, now) == at(MON, 15, 24)
    clock, _ = check(clock, at(MON, 15, 24))
    assert next_due(clock, at(MON, 15, 24)) == at(MON, 17)
    clock, _ = check(clock, at(MON, 17))
    assert next_due(clock, at(MON, 17)) is None
    clock, _ = record_resolution(clock, at(TUE, 9))
    assert next_due(clock, at(TUE, 9)) is None


def test_next_due_points_at_the_earliest_of_both_targets():
    clock, _ = start_clock(plan(), Priority.HIGH, at(MON, 9))
    assert next_due(clock, at(MON, 9)) == at(MON, 12, 12)  # response warning comes first
    clock, _ = pause(clock, at(MON, 10))
    assert next_due(clock, at(MON, 10)) is None


def test_next_due_after_resolution_is_none():
    clock, _ = start_clock(plan(), Priority.NORMAL, at(MON, 9))
    clock, _ = record_first_response(clock, at(MON, 10))
    clock, _ = record_resolution(clock, at(MON, 11))
    assert next_due(clock, at(MON, 11)) is None


# --- choosing a plan ----------------------------------------------------------------------


def test_pick_plan_precedence():
    plans = {name: plan().model_copy(update={"id": name}) for name in ("default", "gold", "hardware", "vip")}
    overrides = {"team:tier2": "gold", "category:hardware": "hardware", "priority:urgent": "vip"}

    def pick(**kw):
        args = {"priority": Priority.NORMAL, "category": None, "team": None} | kw
        return pick_plan(plans, overrides=overrides, **args).id

    assert pick(team="tier2", category="hardware", priority=Priority.URGENT) == "gold"
    assert pick(team="tier1", category="hardware", priority=Priority.URGENT) == "hardware"
    assert pick(category="software", priority=Priority.URGENT) == "vip"
    assert pick(category="software") == "default"
    assert pick_plan({}, priority=Priority.LOW, category=None, team=None, overrides={}) is DEFAULT_PLAN


def test_pick_plan_skips_an_override_naming_an_unknown_plan():
    plans = {"hardware": plan().model_copy(update={"id": "hardware"})}
    chosen = pick_plan(plans, priority=Priority.LOW, category="hardware", team="tier2",
                       overrides={"team:tier2": "missing", "category:hardware": "hardware"})
    assert chosen.id == "hardware"


# --- properties ---------------------------------------------------------------------------


targets = st.builds(
    lambda first, extra, business: Target(first_response_hours=first, resolution_hours=first + extra,
                                          business_hours=business),
    st.floats(0.25, 40), st.floats(0, 80), st.booleans(),
)


@settings(deadline=None)
@given(calendars(), instants, targets, st.floats(0, 1), st.floats(0, 100))
def test_a_pause_moves_the_due_time_by_the_working_time_paused(calendar, start, target, into, paused_hours):
    sla = SlaPlan(id="p", name="p", calendar=calendar, targets=dict.fromkeys(Priority, target))
    clock, _ = start_clock(sla, Priority.NORMAL, start)
    counted = calendar if target.business_hours else CALENDAR_24x7
    before = due_times(clock)["resolution"]
    assert before is not None
    # Pause somewhere before the resolution is due, for any length of time.
    paused_at = add_working_time(start, target.resolution_hours * into * 0.99, counted)
    resumed_at = paused_at + timedelta(hours=paused_hours)
    clock, _ = record_first_response(clock, paused_at)
    clock, _ = pause(clock, paused_at)
    clock, _ = resume(clock, resumed_at)
    after = due_times(clock)["resolution"]
    assert after is not None and after >= before
    assert working_time_between(start, after, counted) == (
        timedelta(hours=target.resolution_hours) + working_time_between(paused_at, resumed_at, counted))


@settings(deadline=None)
@given(calendars(), instants, targets)
def test_following_next_due_announces_each_warning_and_breach_once_then_stops(calendar, start, target):
    sla = SlaPlan(id="p", name="p", calendar=calendar, targets=dict.fromkeys(Priority, target))
    clock, _ = start_clock(sla, Priority.NORMAL, start)
    announced = []
    now = start
    while (due := next_due(clock, now)) is not None:
        assert due >= now  # a timer that follows next_due is never asked to look back
        now = due
        clock, events = check(clock, now)
        assert events, "next_due pointed at an instant where check had nothing to say"
        announced += kinds(events)
    assert sorted(announced) == sorted([(kind, target) for target in ("first_response", "resolution")
                                        for kind in ("sla_warning", "sla_breached")])
