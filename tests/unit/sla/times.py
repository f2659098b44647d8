"""Times, calendars and hypothesis strategies shared by the SLA unit tests
(`test_workhours.py`, `test_clocks.py`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from shared.sla.workhours import MIDNIGHT, Calendar

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
