"""Timer triggers: NCRONTAB schedules and the scheduler that fires them.

Azure Functions takes six-field NCRONTAB, `sec min hour day month day-of-week`, in
UTC. croniter does the arithmetic (`second_at_beginning=True` reads the seconds field
first) with `day_or=False`, because NCrontab requires both the day-of-month and the
day-of-week fields to match where classic cron accepts either. A five-field
expression is read with seconds = 0; a TimeSpan (`00:05:00`) means a fixed interval,
as on a dedicated plan. `%Setting%` references are expanded from app settings.

Like the real host, a timer whose previous run is still going when the next
occurrence comes skips that occurrence (the host holds a singleton lock per timer),
`run_on_startup` fires once at start, and `past_due` is true when the run starts
noticeably after its scheduled time.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

from azure.functions.timer import TimerRequest
from croniter import croniter

from devhost.functions import FunctionSpec
from devhost.invoker import Invoker, invoke_logged
from devhost.loader import parse_timespan, resolve_setting_refs

log = logging.getLogger("devhost")

PAST_DUE_AFTER = timedelta(seconds=1)
_MAX_SLEEP = 30.0  # re-check the clock at least this often, in case the wall clock jumps


class ScheduleError(ValueError):
    """A timer schedule devhost cannot read."""


class Schedule(Protocol):
    text: str

    def next_after(self, moment: datetime) -> datetime: ...


class NCronTab:
    """A six-field NCRONTAB expression, evaluated in UTC."""

    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) == 5:
            fields.insert(0, "0")
        if len(fields) != 6:
            raise ScheduleError(
                f"NCRONTAB needs six fields (sec min hour day month dow), got {expression!r}"
            )
        self.text = " ".join(fields)
        if not croniter.is_valid(self.text, second_at_beginning=True):
            raise ScheduleError(f"invalid NCRONTAB expression {expression!r}")

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after moment (an aware datetime)."""
        it = croniter(self.text, moment.astimezone(UTC), day_or=False, second_at_beginning=True)
        return it.get_next(datetime).astimezone(UTC)  # type: ignore[no-any-return]


class Interval:
    """A TimeSpan schedule: every fixed interval."""

    def __init__(self, every: timedelta) -> None:
        if every <= timedelta(0):
            raise ScheduleError("a TimeSpan schedule must be positive")
        self.every = every
        self.text = f"every {every}"

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.every


def parse_schedule(expression: str) -> Schedule:
    """Read a timer trigger's schedule (NCRONTAB or TimeSpan, `%Setting%` expanded)."""
    text = resolve_setting_refs(expression).strip()
    if re.fullmatch(r"(\d+\.)?\d{1,2}:\d{1,2}:\d{1,2}", text):
        return Interval(parse_timespan(text))
    return NCronTab(text)


def _now() -> datetime:
    return datetime.now(UTC)


class TimerScheduler:
    """Fires every timer-triggered function on its schedule until stopped."""

    def __init__(self, invoker: Invoker, timers: list[tuple[FunctionSpec, Schedule]]) -> None:
        self._invoker = invoker
        self._timers = list(timers)
        self._loops: list[asyncio.Task[None]] = []
        self._runs: set[asyncio.Task[bool]] = set()

    @property
    def schedules(self) -> list[tuple[FunctionSpec, Schedule]]:
        return list(self._timers)

    def start(self) -> None:
        for spec, schedule in self._timers:
            self._loops.append(asyncio.create_task(self._loop(spec, schedule), name=spec.name))

    async def stop(self) -> None:
        """Stop scheduling; runs already started are left to the invoker's drain."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()

    async def _loop(self, spec: FunctionSpec, schedule: Schedule) -> None:
        running: asyncio.Task[bool] | None = None
        last: datetime | None = None
        if getattr(spec.trigger, "run_on_startup", False):
            now = _now()
            running = self._fire(spec, schedule, due=now, last=None)
            last = now
        due = schedule.next_after(_now())
        while True:
            await _sleep_until(due)
            if running is not None and not running.done():
                log.warning("Timer %s: previous run still going; skipping %s", spec.name, due)
            else:
                running = self._fire(spec, schedule, due=due, last=last)
                last = due
            due = schedule.next_after(max(_now(), due))

    def _fire(
        self, spec: FunctionSpec, schedule: Schedule, *, due: datetime, last: datetime | None
    ) -> asyncio.Task[bool]:
        now = _now()
        request = TimerRequest(
            past_due=now - due > PAST_DUE_AFTER,
            schedule_status={
                "Last": last.isoformat() if last else None,
                "Next": schedule.next_after(max(now, due)).isoformat(),
                "LastUpdated": now.isoformat(),
            },
            schedule={"AdjustForDST": True},
        )
        task = asyncio.create_task(invoke_logged(self._invoker, spec, request))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return task


async def _sleep_until(moment: datetime) -> None:
    while True:
        remaining = (moment - _now()).total_seconds()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, _MAX_SLEEP))
