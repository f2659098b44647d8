"""Working time on a business calendar: when the help desk works, and adding or measuring
working time. Pure: no I/O.

A `Calendar` is working hours in a time zone, workdays and holidays. `add_working_time`
(or `add_working`, for an exact amount) and `working_time_between` are exact to the
microsecond and inverse of each other. A local day's working window runs from the first
instant the local clock reads `start` to the first instant it reads `end`, so it is
measured in real elapsed time: 09:00-17:00 is 8 hours even on a DST change day, and a
window that contains a change is as long as it really is. A wall time skipped by a jump
opens at the jump. The SLA clocks (`shared/sla/clocks.py`) and the reports' durations
(`shared/reports/metrics.py`) count in it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MIDNIGHT = time(0)  # as a calendar's `end`: the midnight that ends the day
_MICROSECOND = timedelta(microseconds=1)
NOTHING = timedelta(0)


class Calendar(BaseModel):
    """When the help desk works: local hours [start, end) on workdays (Monday=0) that are
    not holidays. An `end` of 00:00 means the midnight ending the day, so whole days fit."""

    model_config = ConfigDict(frozen=True)

    id: str
    timezone: str = "UTC"
    workdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder such as "America"
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("workdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("a calendar needs at least one workday")
        if any(day not in range(7) for day in value):
            raise ValueError("workdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @model_validator(mode="after")
    def _hours_make_sense(self) -> Calendar:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working hours are local wall times; give them without a time zone")
        if self.end != MIDNIGHT and self.start >= self.end:
            raise ValueError("working hours must start before they end")
        return self


CALENDAR_24x7 = Calendar(id="24x7", workdays=list(range(7)), start=MIDNIGHT, end=MIDNIGHT)


@dataclass(frozen=True)
class _Hours:
    """A calendar prepared for arithmetic (zone loaded, holidays as a set)."""

    zone: ZoneInfo
    workdays: frozenset[int]
    holidays: frozenset[date]
    start: time
    end: time

    @classmethod
    def of(cls, calendar: Calendar) -> _Hours:
        return cls(ZoneInfo(calendar.timezone), frozenset(calendar.workdays), frozenset(calendar.holidays),
                   calendar.start, calendar.end)

    @property
    def always_open(self) -> bool:
        # Whole days every day, no holidays: windows touch, so working time is elapsed time.
        return len(self.workdays) == 7 and not self.holidays and self.start == self.end == MIDNIGHT

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.workdays or day in self.holidays:
            return None
        opens = _first_instant(datetime.combine(day, self.start), self.zone)
        closing_day = day + timedelta(days=1) if self.end == MIDNIGHT else day
        closes = _first_instant(datetime.combine(closing_day, self.end), self.zone)
        return (opens, closes) if closes > opens else None  # empty when a jump skips the whole window

    def windows_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows still open at or after `instant`, in order, the first clipped to it.
        Windows of earlier local days end no later than the day of `instant` begins, so the
        walk starts there; it steps a day at a time and never ends."""
        day = instant.astimezone(self.zone).date()
        while True:
            window = self.window(day)
            if window is not None and window[1] > instant:
                yield max(window[0], instant), window[1]
            day += timedelta(days=1)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the local clock reads `wall` or later."""
    after = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first reading when clocks go back
    if _wall(after, zone) == wall:
        return after
    # The clocks jumped over `wall`; the first reading past it is the jump itself, which lies
    # between the two instants zoneinfo offers for a skipped time. Zones do not say where.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while after - before > _MICROSECOND:
        middle = before + (after - before) / 2
        if _wall(middle, zone) >= wall:
            after = middle
        else:
            before = middle
    return after


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is refused, since no zone can be assumed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: SLA arithmetic needs aware datetimes")
    return value.astimezone(UTC)


def add_working(start: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """The instant at which `amount` of working time has passed since `start`, an aware
    instant in UTC: `add_working_time` for an exact amount rather than a number of hours."""
    return _add(start, amount, _Hours.of(calendar))


def _add(start: datetime, amount: timedelta, hours: _Hours) -> datetime:
    if amount <= NOTHING or hours.always_open:
        return start + amount
    for opens, closes in hours.windows_from(start):
        # `<=`: work that fills a window exactly is due when it closes, not next morning.
        if amount <= closes - opens:
            return opens + amount
        amount -= closes - opens
    raise AssertionError("unreachable: working windows never run out")


def add_working_time(start: datetime, hours: float, calendar: Calendar) -> datetime:
    """The instant (UTC) at which `hours` of working time have passed since `start`.
    Outside working hours the count begins at the next opening; 0 hours is `start` itself."""
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"working hours must be finite and not negative, got {hours}")
    return _add(as_utc(start), timedelta(hours=hours), _Hours.of(calendar))


def working_time_between(a: datetime, b: datetime, calendar: Calendar) -> timedelta:
    """Working time in [a, b); zero when b is not after a."""
    a, b = as_utc(a), as_utc(b)
    hours = _Hours.of(calendar)
    if b <= a:
        return NOTHING
    if hours.always_open:
        return b - a
    total = NOTHING
    for opens, closes in hours.windows_from(a):
        if opens >= b:
            break
        total += min(closes, b) - opens
    return total
