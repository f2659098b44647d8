"""Working time on a business calendar as a help desk user sees it: when work falls due
after a weekend, a holiday or a DST change, in any time zone. Every time is given explicitly."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.sla.workhours import (
    MIDNIGHT,
    Calendar,
    add_working_time,
    working_time_between,
)
from tests.unit.sla.times import (
    BERLIN,
    FRI,
    KOLKATA,
    MON,
    NEXT_MON,
    NEXT_TUE,
    OFFICE,
    SAT,
    TUE,
    WED,
    H,
    amounts,
    at,
    calendars,
    instants,
    local,
    utc,
)

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


# --- calendars validate -------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    {"timezone": "Mars/Olympus_Mons"}, {"timezone": "America"}, {"timezone": ""},
    {"start": time(17), "end": time(9)}, {"start": time(9), "end": time(9)},
    {"workdays": []}, {"workdays": [7]}, {"workdays": [-1]},
])
def test_impossible_calendars_are_refused(fields):
    with pytest.raises(ValidationError):
        Calendar(id="bad", **fields)


# --- properties ---------------------------------------------------------------------------


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
