"""SLA arithmetic as a help desk user sees it: when tickets fall due, what pauses and reopens
do to that, and which warnings and breaches are announced. Every time is given explicitly."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.core.models import Priority
from shared.sla.clocks import (
    DEFAULT_PLAN,
    MIDNIGHT,
    Calendar,
    CALENDAR_24x7,
    SlaClock,
    SlaPlan,
    Target,
    add_working_time,
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
    working_time_between,
)

OFFICE = Calendar(id="office")  # Mon-Fri 09:00-17:00 UTC
BERLIN = Calendar(id="berlin", timezone="Europe/Berlin")
KOLKATA = Calendar(id="kolkata", timezone="Asia/Kolkata")
H = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


# 2026-01-05 is a Monday.
MON, TUE, WED, THU, FRI, SAT = (date(2026, 1, d) for d in (5, 6, 7, 8, 9, 10))
NEXT_MON, NEXT_TUE = date(2026, 1, 12), date(2026, 1, 13)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def plan(calendar: Calendar = OFFICE, **targets: Target) -> SlaPlan:
    every = {p: Target(first_response_hours=4, resolution_hours=8) for p in Priority}
    every.update({Priority(k): v for k, v in targets.items()})
    return SlaPlan(id="p", name="Test", calendar=calendar, targets=every)


def kinds(events) -> list[tuple[str, str | None]]:
    return [(e.kind, e.target) for e in events]


# --- business hours -----------------------------------------------------------------------


def test_friday_afternoon_ticket_is_due_monday_midday():
    assert add_working_time(at(FRI, 16), 4, OFFICE) == at(NEXT_MON, 12)


def test_weekend_ticket_starts_counting_on_monday_morning():
    assert add_working_time(at(SAT, 10), 4, OFFICE) == at(NEXT_MON, 13)


def test_early_ticket_starts_counting_when_the_office_opens():
    assert add_working_time(at(MON, 8), 4, OFFICE) == at(MON, 13)
    assert working_time_between(at(MON, 8), at(MON, 10), OFFICE) == 1 * H


def test_evening_ticket_starts_counting_next_morning():
    assert add_working_time(at(MON, 18, 30), 1, OFFICE) == at(TUE, 10)


def test_a_full_day_of_work_is_due_at_closing_time_not_next_morning():
    assert add_working_time(at(MON, 9), 8, OFFICE) == at(MON, 17)
    assert add_working_time(at(MON, 9), 24, OFFICE) == at(WED, 17)


def test_holiday_monday_pushes_the_due_time_to_tuesday():
    easter_monday_like = OFFICE.model_copy(update={"holidays": [NEXT_MON]})
    assert add_working_time(at(FRI, 16), 4, easter_monday_like) == at(NEXT_TUE, 12)


def test_zero_hours_is_the_start_itself_in_utc():
    start = local("America/New_York", 2026, 1, 10, 10)  # a Saturday
    due = add_working_time(start, 0, OFFICE)
    assert due == start and due.tzinfo is UTC


def test_working_time_between_counts_only_working_hours():
    assert working_time_between(at(FRI, 16), at(NEXT_MON, 10), OFFICE) == 2 * H
    assert working_time_between(at(NEXT_MON, 10), at(FRI, 16), OFFICE) == timedelta(0)
    assert working_time_between(at(SAT, 9), at(SAT, 17), OFFICE) == timedelta(0)


def test_a_year_of_working_time_is_counted_exactly():
    start, end = utc(2026, 1, 1), utc(2027, 1, 1)
    weekdays = sum(1 for n in range(365) if (date(2026, 1, 1) + timedelta(days=n)).weekday() < 5)
    assert working_time_between(start, end, OFFICE) == weekdays * 8 * H
    assert add_working_time(start, weekdays * 8, OFFICE) == utc(2026, 12, 31, 17)


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


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        add_working_time(datetime(2026, 1, 5, 9), 1, OFFICE)


@pytest.mark.parametrize("hours", [-1, float("inf"), float("nan")])
def test_impossible_amounts_are_refused(hours):
    with pytest.raises(ValueError):
        add_working_time(at(MON, 9), hours, OFFICE)


# --- time zones ---------------------------------------------------------------------------


@pytest.mark.parametrize("friday, monday", [(27, 30), (23, 26)], ids=["spring-forward", "fall-back"])
def test_berlin_across_the_dst_weekend(friday, monday):
    month = 3 if friday == 27 else 10
    start = local("Europe/Berlin", 2026, month, friday, 16)
    due = add_working_time(start, 4, BERLIN)
    assert due == local("Europe/Berlin", 2026, month, monday, 12)
    assert working_time_between(start, local("Europe/Berlin", 2026, month, monday + 1, 9), BERLIN) == 9 * H


def test_berlin_utc_instants_shift_with_the_clocks():
    assert add_working_time(utc(2026, 3, 27, 15), 4, BERLIN) == utc(2026, 3, 30, 10)   # CET -> CEST
    assert add_working_time(utc(2026, 10, 23, 14), 4, BERLIN) == utc(2026, 10, 26, 11)  # CEST -> CET


@pytest.mark.parametrize("day", [29, 25], ids=["23-hour-day", "25-hour-day"])
def test_a_working_day_on_a_dst_change_day_is_still_eight_hours(day):
    month = 3 if day == 29 else 10
    every_day = BERLIN.model_copy(update={"workdays": list(range(7))})
    midnight = local("Europe/Berlin", 2026, month, day)
    next_midnight = local("Europe/Berlin", 2026, month, day + 1)
    assert working_time_between(midnight, next_midnight, every_day) == 8 * H
    assert add_working_time(midnight, 8, every_day) == local("Europe/Berlin", 2026, month, day, 17)


def test_round_the_clock_calendar_counts_the_real_length_of_a_dst_day():
    whole_days = Calendar(id="all", timezone="Europe/Berlin", workdays=list(range(7)), start=MIDNIGHT, end=MIDNIGHT)
    day = (local("Europe/Berlin", 2026, 3, 29), local("Europe/Berlin", 2026, 3, 30))
    assert working_time_between(*day, whole_days) == 23 * H


def test_working_hours_skipped_by_the_clocks_open_at_the_jump():
    night = Calendar(id="night", timezone="Europe/Berlin", workdays=list(range(7)), start=time(2, 30), end=time(4))
    # 29 March 2026: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 never happens.
    opens, closes = utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)
    assert add_working_time(local("Europe/Berlin", 2026, 3, 29, 0), 0.5, night) == opens + H / 2
    assert working_time_between(utc(2026, 3, 29), utc(2026, 3, 30), night) == closes - opens


def test_late_evening_utc_is_already_tomorrow_in_kolkata():
    start = utc(2026, 1, 5, 23, 30)  # Monday in UTC, Tuesday 05:00 in Kolkata
    assert working_time_between(start, utc(2026, 1, 6, 3, 30), KOLKATA) == 0 * H  # before 09:00 IST
    assert add_working_time(start, 4, KOLKATA) == local("Asia/Kolkata", 2026, 1, 6, 13)
    assert add_working_time(start, 4, KOLKATA) == utc(2026, 1, 6, 7, 30)
    friday_night = utc(2026, 1, 9, 23, 30)  # already Saturday in Kolkata
    assert add_working_time(friday_night, 4, KOLKATA) == local("Asia/Kolkata", 2026, 1, 12, 13)


def test_returned_instants_are_utc():
    due = add_working_time(local("Asia/Kolkata", 2026, 1, 6, 10), 1, KOLKATA)
    assert due.tzinfo is UTC


# --- calendars and plans validate ---------------------------------------------------------


@pytest.mark.parametrize("fields", [
    {"timezone": "Mars/Olympus_Mons"}, {"timezone": "America"}, {"timezone": ""},
    {"start": time(17), "end": time(9)}, {"start": time(9), "end": time(9)},
    {"workdays": []}, {"workdays": [7]}, {"workdays": [-1]},
])
def test_impossible_calendars_are_refused(fields):
    with pytest.raises(ValidationError):
        Calendar(id="bad", **fields)


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

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
         "America/Santiago", "Pacific/Apia"]  # Santiago jumps at midnight; Apia skipped 30 Dec 2011
SPAN = (datetime(2010, 1, 1), datetime(2030, 1, 1))


@st.composite
def calendars(draw, ordinary_hours: bool = False) -> Calendar:
    zone = draw(st.sampled_from(ZONES))
    if ordinary_hours:
        start, end = time(9), time(17)
    else:
        slots = [time(h, m) for h in range(24) for m in (0, 30)]
        start = draw(st.sampled_from(slots))
        end = draw(st.sampled_from([MIDNIGHT, *(s for s in slots if s > start)]))
    return Calendar(
        id="c", timezone=zone, start=start, end=end,
        workdays=sorted(draw(st.sets(st.integers(0, 6), min_size=1))),
        holidays=draw(st.lists(st.dates(date(2010, 1, 1), date(2031, 1, 1)), max_size=30)),
    )


instants = st.datetimes(*SPAN, timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]))
amounts = st.floats(0, 200, allow_nan=False)


@settings(deadline=None)
@given(calendars(), instants, amounts)
def test_working_time_between_undoes_add_working_time(calendar, start, hours):
    due = add_working_time(start, hours, calendar)
    assert working_time_between(start, due, calendar) == timedelta(hours=hours)


@settings(deadline=None)
@given(calendars(), instants, amounts, amounts)
def test_more_hours_are_never_due_earlier(calendar, start, hours, more):
    assert add_working_time(start, hours, calendar) <= add_working_time(start, hours + more, calendar)


@settings(deadline=None)
@given(calendars(), instants, st.floats(0.001, 200))
def test_a_due_time_is_never_in_non_working_time(calendar, start, hours):
    due = add_working_time(start, hours, calendar)
    # The moment before the due time is working time: it lies inside working hours or at their close.
    tick = timedelta(microseconds=1)
    assert working_time_between(due - tick, due, calendar) == tick


@settings(deadline=None)
@given(calendars(ordinary_hours=True), instants, st.floats(0.001, 200))
def test_a_due_time_falls_in_local_office_hours_on_a_working_day(calendar, start, hours):
    due = add_working_time(start, hours, calendar).astimezone(ZoneInfo(calendar.timezone))
    assert due.weekday() in calendar.workdays and due.date() not in calendar.holidays
    assert time(9) < due.time() <= time(17)


@settings(deadline=None)
@given(calendars(), instants, amounts, st.floats(0, 100))
def test_working_time_adds_up_across_a_split(calendar, start, first, second):
    middle = add_working_time(start, first, calendar)
    end = add_working_time(middle, second, calendar)
    assert working_time_between(start, end, calendar) == timedelta(hours=first) + timedelta(hours=second)


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
