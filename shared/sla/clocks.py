"""SLA plans and clocks: when a ticket's first response and resolution fall due. Pure: no I/O.

Two layers over the working time of a business calendar (`shared/sla/workhours.py`):

- Plans: an `SlaPlan` gives every priority a `Target`; `pick_plan` chooses a ticket's plan.
- Clocks: an `SlaClock` is what a ticket stores. The operations take a clock and `now` and
  return a new clock plus the `SlaEvent`s to publish; none of them reads the time itself.

Pauses are kept as one number, the working time spent paused (or resolved, before a reopen).
A target's due instant is therefore `started_at` plus its hours plus that paused time, in
working time. Time spent paused after every open target was already overdue is not credited,
since it could not change anything but would move the reported due instants away from the
real breach.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.core.models import Priority
from shared.sla.workhours import (
    NOTHING,
    Calendar,
    CALENDAR_24x7,
    add_working,
    as_utc,
    working_time_between,
)

TargetName = Literal["first_response", "resolution"]
FIRST_RESPONSE: TargetName = "first_response"
RESOLUTION: TargetName = "resolution"
TARGETS: tuple[TargetName, ...] = (FIRST_RESPONSE, RESOLUTION)



# --- plans ------------------------------------------------------------------------------


class Target(BaseModel):
    """How long a priority may wait, in working hours (or calendar hours)."""

    model_config = ConfigDict(frozen=True)

    first_response_hours: float = Field(gt=0, allow_inf_nan=False)
    resolution_hours: float = Field(gt=0, allow_inf_nan=False)
    business_hours: bool = True  # False: every hour counts, whatever the calendar says

    @model_validator(mode="after")
    def _resolution_not_before_response(self) -> Target:
        if self.resolution_hours < self.first_response_hours:
            raise ValueError("the resolution target cannot be shorter than the first response target")
        return self


class SlaPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    calendar: Calendar
    targets: dict[Priority, Target]
    warn_at: float = Field(0.8, gt=0, le=1)  # fraction of a target used before warning; 1 never warns early

    @model_validator(mode="after")
    def _every_priority(self) -> SlaPlan:
        missing = [p.value for p in Priority if p not in self.targets]
        if missing:
            raise ValueError(f"plan {self.id!r} has no target for: {', '.join(missing)}")
        return self


DEFAULT_PLAN = SlaPlan(
    id="default",
    name="Standard (Mon-Fri 09:00-17:00 UTC)",
    calendar=Calendar(id="business-utc"),
    targets={
        Priority.URGENT: Target(first_response_hours=1, resolution_hours=4, business_hours=False),
        Priority.HIGH: Target(first_response_hours=4, resolution_hours=8),
        Priority.NORMAL: Target(first_response_hours=8, resolution_hours=24),
        Priority.LOW: Target(first_response_hours=24, resolution_hours=40),
    },
)


def pick_plan(plans: dict[str, SlaPlan], *, priority: Priority, category: str | None, team: str | None,
              overrides: Mapping[str, str]) -> SlaPlan:
    """The plan for a ticket. `overrides` maps "team:<id>", "category:<id>" or "priority:<p>"
    to a plan id, in that order of precedence, before the "default" plan (else DEFAULT_PLAN).
    An override naming an unknown plan is skipped: a configuration slip should cost the
    ticket its special plan, not its intake."""
    keys = [f"team:{team}" if team else None, f"category:{category}" if category else None,
            f"priority:{priority.value}"]
    for key in keys:
        plan_id = overrides.get(key) if key else None
        if plan_id is not None and plan_id in plans:
            return plans[plan_id]
    return plans.get("default", DEFAULT_PLAN)


# --- clocks -----------------------------------------------------------------------------


class SlaClock(BaseModel):
    """What is stored on a ticket: the plan's targets fixed at start, and pause bookkeeping."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    calendar: Calendar
    first_response_target_hours: float = Field(gt=0, allow_inf_nan=False)
    resolution_target_hours: float = Field(gt=0, allow_inf_nan=False)
    business_hours: bool
    warn_at: float = Field(0.8, gt=0, le=1)  # copied from the plan, so later plan edits don't move it
    started_at: AwareDatetime
    paused_at: AwareDatetime | None = None
    paused_working_seconds: float = Field(0.0, ge=0, allow_inf_nan=False)  # not counted against targets
    first_response_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    warned: list[str] = Field(default_factory=list)    # targets whose warning was given
    breached: list[str] = Field(default_factory=list)  # targets whose breach was recorded

    @field_validator("started_at", "paused_at", "first_response_at", "resolved_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)


class SlaEvent(BaseModel):
    """Something to publish. `at` is when it was noticed; `due_at` the target's due instant."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["sla_started", "sla_paused", "sla_resumed", "sla_warning", "sla_breached", "sla_met",
                  "sla_stopped"]
    target: TargetName | None
    at: AwareDatetime
    due_at: AwareDatetime | None = None


def _calendar_of(clock: SlaClock) -> Calendar:
    return clock.calendar if clock.business_hours else CALENDAR_24x7


def _target_hours(clock: SlaClock, target: TargetName) -> float:
    return clock.first_response_target_hours if target == FIRST_RESPONSE else clock.resolution_target_hours


def _unmet(clock: SlaClock) -> list[TargetName]:
    done = {FIRST_RESPONSE: clock.first_response_at, RESOLUTION: clock.resolved_at}
    return [target for target in TARGETS if done[target] is None]


def _instant(clock: SlaClock, target: TargetName, credit: timedelta, fraction: float = 1.0) -> datetime:
    """When `fraction` of the target is used, given `credit` of paused working time."""
    allowed = timedelta(hours=_target_hours(clock, target) * fraction)
    return add_working(clock.started_at, allowed + credit, _calendar_of(clock))


def _stored_credit(clock: SlaClock) -> timedelta:
    return timedelta(seconds=clock.paused_working_seconds)


def _credit_for(clock: SlaClock, since: datetime, until: datetime) -> timedelta:
    """Working time in [since, until) to credit as paused: none if every open target was
    already overdue at `since` (see the module docstring)."""
    stored = _stored_credit(clock)
    if all(_instant(clock, target, stored) <= since for target in _unmet(clock)):
        return NOTHING
    return working_time_between(since, until, _calendar_of(clock))


def _credit_at(clock: SlaClock, now: datetime) -> timedelta:
    """Paused working time as of `now`, counting a pause still running."""
    if clock.paused_at is None:
        return _stored_credit(clock)
    return _stored_credit(clock) + _credit_for(clock, clock.paused_at, now)


def _with_credit(clock: SlaClock, credit: timedelta, **update: object) -> SlaClock:
    seconds = clock.paused_working_seconds + credit.total_seconds()
    return clock.model_copy(update={"paused_working_seconds": seconds, **update})


def _end_pause(clock: SlaClock, now: datetime) -> SlaClock:
    assert clock.paused_at is not None
    return _with_credit(clock, _credit_for(clock, clock.paused_at, now), paused_at=None)


def _added(names: list[str], name: str) -> list[str]:
    return names if name in names else [*names, name]


def due_times(clock: SlaClock) -> dict[str, datetime | None]:
    """The due instant of each target; None once it is met, and for every target while the
    clock is paused (a paused clock has no due time until it resumes)."""
    due: dict[str, datetime | None] = dict.fromkeys(TARGETS)
    if clock.paused_at is None:
        for target in _unmet(clock):
            due[target] = _instant(clock, target, _stored_credit(clock))
    return due


def _earliest_due(clock: SlaClock) -> datetime | None:
    return min((due for due in due_times(clock).values() if due is not None), default=None)


def next_due(clock: SlaClock, now: datetime) -> datetime | None:
    """The earliest instant at which `check` has something to say: an open target's warning
    not yet given, or its breach not yet recorded. It may be in the past (overdue work for the
    timer). None while paused or when nothing is left to announce. A warning whose target is
    already due by `now` is left out, because `check` then reports only the breach."""
    if clock.paused_at is not None:
        return None
    now = as_utc(now)
    credit = _stored_credit(clock)
    instants: list[datetime] = []
    for target in _unmet(clock):
        if target in clock.breached:
            continue
        due = _instant(clock, target, credit)
        instants.append(due)
        if target not in clock.warned and due > now:
            instants.append(_instant(clock, target, credit, clock.warn_at))
    return min(instants, default=None)


def start_clock(plan: SlaPlan, priority: Priority, now: datetime) -> tuple[SlaClock, list[SlaEvent]]:
    now = as_utc(now)
    target = plan.targets[priority]
    clock = SlaClock(plan_id=plan.id, calendar=plan.calendar, first_response_target_hours=target.first_response_hours,
                     resolution_target_hours=target.resolution_hours, business_hours=target.business_hours,
                     warn_at=plan.warn_at, started_at=now)
    due = due_times(clock)
    return clock, [SlaEvent(kind="sla_started", target=name, at=now, due_at=due[name]) for name in TARGETS]


def check(clock: SlaClock, now: datetime) -> tuple[SlaClock, list[SlaEvent]]:
    """Warnings and breaches that have come due by `now` and were not announced yet, each at
    most once. A target found already due gets only its breach: a warning then says nothing new."""
    now = as_utc(now)
    credit = _credit_at(clock, now)
    warned, breached, events = list(clock.warned), list(clock.breached), []
    for target in _unmet(clock):
        if target in breached:
            continue
        due = _instant(clock, target, credit)
        if due <= now:
            events.append(SlaEvent(kind="sla_breached", target=target, at=now, due_at=due))
            breached, warned = _added(breached, target), _added(warned, target)
        elif target not in warned and _instant(clock, target, credit, clock.warn_at) <= now:
            events.append(SlaEvent(kind="sla_warning", target=target, at=now, due_at=due))
            warned = _added(warned, target)
    if not events:
        return clock, []
    return clock.model_copy(update={"warned": warned, "breached": breached}), events


def pause(clock: SlaClock, now: datetime) -> tuple[SlaClock, list[SlaEvent]]:
    """Stop counting (waiting on the requester). Announces anything already due first, since
    a paused clock has no next due instant to wake the timer. No-op if paused or all met."""
    now = as_utc(now)
    if clock.paused_at is not None or not _unmet(clock):
        return clock, []
    clock, events = check(clock, now)
    return clock.model_copy(update={"paused_at": now}), [*events, SlaEvent(kind="sla_paused", target=None, at=now)]


def resume(clock: SlaClock, now: datetime) -> tuple[SlaClock, list[SlaEvent]]:
    """Count again; the working time spent paused moves the due instants. No-op if not paused."""
    now = as_utc(now)
    if clock.paused_at is None:
        return clock, []
    clock = _end_pause(clock, now)
    return clock, [SlaEvent(kind="sla_resumed", target=None, at=now, due_at=_earliest_due(clock))]


def _record(clock: SlaClock, target: TargetName, now: datetime) -> tuple[SlaClock, list[SlaEvent]]:
    due = _instant(clock, target, _credit_at(clock, now))
    # Once a breach was announced the target stays missed, even at the very instant it fell due.
    late = target in clock.breached or now > due
    field = "first_response_at" if target == FIRST_RESPONSE else "resolved_at"
    update: dict[str, object] = {field: now}
    if late:
        update["breached"] = _added(clock.breached, target)
    # A late answer stops the target without a fresh sla_breached: escalating a ticket that has
    # just been answered would only be noise. The late stop is visible in `breached` and the event.
    event = SlaEvent(kind="sla_stopped" if late else "sla_met", target=target, at=now, due_at=due)
    return clock.model_copy(update=update), [event]


def record_first_response(clock: SlaClock, now: datetime) -> tuple[SlaClock, list[SlaEvent]]:
    """The first public answer: sla_met if on time, sla_stopped if late. Only the first counts."""
    now = as_utc(now)
    if clock.first_response_at is not None:
        return clock, []
    return _record(clock, FIRST_RESPONSE, now)


def record_resolution(clock: SlaClock, now: datetime) -> tuple[SlaClock, list[SlaEvent]]:
    """The ticket is resolved. The resolution reaches the requester, so it also stands as the
    first response if there was none. A running pause ends: a resolved clock is stopped."""
    now = as_utc(now)
    if clock.resolved_at is not None:
        return clock, []
    if clock.paused_at is not None:
        clock = _end_pause(clock, now)
    events: list[SlaEvent] = []
    if clock.first_response_at is None:
        clock, events = _record(clock, FIRST_RESPONSE, now)
    clock, resolved = _record(clock, RESOLUTION, now)
    return clock, [*events, *resolved]


def reopen(clock: SlaClock, now: datetime) -> tuple[SlaClock, list[SlaEvent]]:
    """A resolved ticket comes back: the resolution clock runs on from where it stopped, the
    time spent resolved counting as paused. If it had already run out when the ticket was
    resolved, its due instant is in the past and the reopened ticket is overdue at once.
    The resolution's warning and breach marks are cleared so `check` announces the reopened
    ticket's state afresh (the team working on it again needs to hear it). No-op if not resolved."""
    now = as_utc(now)
    if clock.resolved_at is None:
        return clock, []
    since = clock.resolved_at
    running = clock.model_copy(update={
        "resolved_at": None,
        "warned": [name for name in clock.warned if name != RESOLUTION],
        "breached": [name for name in clock.breached if name != RESOLUTION],
    })
    running = _with_credit(running, _credit_for(running, since, now))
    return running, [SlaEvent(kind="sla_resumed", target=RESOLUTION, at=now, due_at=due_times(running)[RESOLUTION])]
