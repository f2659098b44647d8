"""NCRONTAB next-fire computation and the timer scheduler's rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from devhost.functions import FunctionSpec
from devhost.invoker import Invoker, make_pool
from devhost.timers import (
    Interval,
    NCronTab,
    ScheduleError,
    TimerScheduler,
    parse_schedule,
)

T0 = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)  # a Thursday


def fires(expression: str, start: datetime, n: int) -> list[datetime]:
    schedule = NCronTab(expression)
    out, moment = [], start
    for _ in range(n):
        moment = schedule.next_after(moment)
        out.append(moment)
    return out


def test_seconds_field_comes_first() -> None:
    assert fires("*/15 * * * * *", T0, 3) == [
        T0 + timedelta(seconds=15),
        T0 + timedelta(seconds=30),
        T0 + timedelta(seconds=45),
    ]


def test_every_minute_at_second_zero() -> None:
    assert fires("0 * * * * *", T0 + timedelta(seconds=1), 2) == [
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
    ]


def test_next_is_strictly_after_an_exact_match() -> None:
    assert NCronTab("0 */5 * * * *").next_after(T0) == T0 + timedelta(minutes=5)


def test_weekdays_at_half_past_nine() -> None:
    assert fires("0 30 9 * * Mon-Fri", T0, 3) == [
        datetime(2026, 1, 1, 9, 30, tzinfo=UTC),  # Thu
        datetime(2026, 1, 2, 9, 30, tzinfo=UTC),  # Fri
        datetime(2026, 1, 5, 9, 30, tzinfo=UTC),  # Mon, the weekend skipped
    ]


def test_day_and_weekday_must_both_match() -> None:
    # NCrontab ANDs day-of-month and day-of-week: Friday the 13th, not every Friday.
    assert fires("0 0 0 13 * 5", T0, 2) == [
        datetime(2026, 2, 13, tzinfo=UTC),
        datetime(2026, 3, 13, tzinfo=UTC),
    ]


def test_result_is_utc_whatever_the_input_zone() -> None:
    from datetime import timezone

    plus2 = timezone(timedelta(hours=2))
    result = NCronTab("0 0 12 * * *").next_after(datetime(2026, 1, 1, 13, 0, tzinfo=plus2))
    assert result == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)


def test_five_fields_mean_second_zero() -> None:
    assert NCronTab("*/10 * * * *").next_after(T0) == T0 + timedelta(minutes=10)


@pytest.mark.parametrize(
    "bad", ["", "* * *", "61 * * * * *", "0 0 25 * * *", "a b c d e f", "0 0 0 0 0 0 0"]
)
def test_invalid_expressions(bad: str) -> None:
    with pytest.raises(ScheduleError):
        NCronTab(bad)


def test_timespan_schedule_and_setting_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    schedule = parse_schedule("00:05:00")
    assert isinstance(schedule, Interval)
    assert schedule.next_after(T0) == T0 + timedelta(minutes=5)
    monkeypatch.setenv("SWEEP_SCHEDULE", "30 * * * * *")
    assert parse_schedule("%SWEEP_SCHEDULE%").next_after(T0) == T0 + timedelta(seconds=30)


class _Trigger:
    type = "timerTrigger"
    name = "timer"
    run_on_startup = False


def _spec(function: object) -> FunctionSpec:
    return FunctionSpec(
        name="tick",
        trigger=_Trigger(),
        output_bindings=(),
        user_function=function,  # type: ignore[arg-type]
        is_async=True,
        wants_context=False,
        parameters=frozenset({"timer"}),
        directory="",
    )


def test_a_run_still_going_makes_the_next_tick_skip() -> None:
    started: list[float] = []

    async def tick(timer: object) -> None:
        started.append(asyncio.get_running_loop().time())
        await asyncio.sleep(1.6)  # longer than one period of the schedule below

    async def scenario() -> None:
        pool = make_pool()
        invoker = Invoker(pool)
        scheduler = TimerScheduler(invoker, [(_spec(tick), NCronTab("* * * * * *"))])
        scheduler.start()
        await asyncio.sleep(3.5)
        await scheduler.stop()
        await invoker.drain(5)
        pool.shutdown()

    asyncio.run(scenario())
    # Every second for 3.5 s would be 3 or 4 runs; each run blocks the next tick.
    assert 1 <= len(started) <= 2
    assert all(b - a >= 1.5 for a, b in pairwise(started))
