"""What one ticket adds to the desk's daily figures, and the figures read back. Pure: no I/O.

A ticket's contribution is computed from the ticket and its whole thread, never from a
single event: `contributions()` gives, for each (day, dimension row), the counters the
ticket adds there. The aggregator stores what it last added for each ticket and applies
only the difference to the daily summaries, so an event delivered twice, late or out of
order changes nothing the second time, and a rebuild from the tickets (the sum of every
ticket's contribution) equals the live summaries.

Counters are plain numbers in a flat dict:
- `created`, `resolved`, `reopened`, `closed`, `backlog` (on the creation day, while the
  ticket is open: the sum over creation days is the backlog by age), `status:<s>`;
- `frt_n`, `frt_s`, `frt:<bucket>`: first responses, their total seconds and histogram;
- `res_n`, `res_s`, `res:<bucket>`: resolutions (the last one, on its day), likewise;
- `sla_resolved`, `sla_resolved_breached`, `sla_breached`: tickets with an SLA that were
  resolved (and of those, the breached), and breaches on the day they happened;
- `tier_n:<tier>`, `tier_s:<tier>`: stays in an escalation tier, counted when they end;
- `csat_yes`, `csat_no`: the requester's latest rating, on its day.

Durations are working time when the ticket's SLA clock counts business hours, calendar
time otherwise, less the time the ticket waited on the requester (pending) or stood
resolved before a reopening. Histogram buckets are 10% wide, so a percentile read from
them is within 5% of the exact figure.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.core.counters import Contribution, Counters, add_into
from shared.core.lifecycle import is_active, is_closed, is_done, requesters_turn
from shared.core.models import EntryKind, ThreadEntry, Ticket
from shared.sla import clocks, workhours

DIMENSIONS = ("team", "category", "agent", "channel", "priority")
ALL = "all"
NONE = "~none"
BUCKET_BASE = 1.1
DURATION_METRICS = ("frt", "res")

def day_of(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def bucket(seconds: float) -> int:
    return int(math.floor(math.log(max(seconds, 1.0)) / math.log(BUCKET_BASE)))


def bucket_value(index: int) -> float:
    """The bucket's geometric middle, in seconds."""
    return float(BUCKET_BASE ** (index + 0.5))


def rows_of(ticket: Ticket) -> list[str]:
    """The dimension rows a ticket counts in: everything, and one per dimension."""
    values = {"team": ticket.team, "category": ticket.category, "agent": ticket.assignee,
              "channel": ticket.channel.value, "priority": ticket.priority.value}
    return [ALL, *(f"{dim}|{values[dim] or NONE}" for dim in DIMENSIONS)]


@dataclass(frozen=True)
class _Span:
    start: datetime
    end: datetime


def _calendar(ticket: Ticket) -> workhours.Calendar | None:
    """The working calendar of the ticket's SLA plan, or None for calendar time."""
    if not ticket.sla:
        return None
    clock = clocks.SlaClock.model_validate(ticket.sla)
    return clock.calendar if clock.business_hours else None


def _length(a: datetime, b: datetime, calendar: workhours.Calendar | None) -> timedelta:
    if b <= a:
        return timedelta(0)
    return workhours.working_time_between(a, b, calendar) if calendar else b - a


def _paused_spans(thread: list[ThreadEntry], until: datetime) -> list[_Span]:
    """When the ticket waited on the requester or stood resolved (the requester's turn,
    until the agents work on it again): the clock does not run."""
    spans, since = [], None
    for entry in thread:
        to, came_from = entry.data.get("to"), entry.data.get("from")
        if requesters_turn(to) and not requesters_turn(came_from):
            since = entry.at
        elif since is not None and is_active(to):
            spans.append(_Span(since, entry.at))
            since = None
    if since is not None:
        spans.append(_Span(since, until))
    return spans


def active_time(a: datetime, b: datetime, *, calendar: workhours.Calendar | None,
                paused: list[_Span]) -> float:
    total = _length(a, b, calendar)
    for span in paused:
        total -= _length(max(a, span.start), min(b, span.end), calendar)
    return max(total.total_seconds(), 0.0)


def _is_reopen(entry: ThreadEntry) -> bool:
    to = entry.data.get("to")
    return is_done(entry.data.get("from")) and to is not None and not is_done(to)


def _is_resolution(entry: ThreadEntry) -> bool:
    """The ticket became done: resolved, or closed without a resolution first."""
    return is_done(entry.data.get("to")) and not is_done(entry.data.get("from"))


def contributions(ticket: Ticket, thread: list[ThreadEntry]) -> Contribution:
    """What the ticket adds to each day's figures, in each of its dimension rows."""
    # Sent-mail records are bookkeeping, not events of the ticket.
    thread = sorted((e for e in thread if e.kind != EntryKind.EMAIL_SENT), key=lambda e: (e.at, e.seq))
    per_day: dict[str, dict[str, float]] = {}

    def add(at: datetime, name: str, amount: float = 1) -> None:
        counters = per_day.setdefault(day_of(at), {})
        counters[name] = counters.get(name, 0) + amount

    calendar = _calendar(ticket)
    last = thread[-1].at if thread else ticket.updated_at
    paused = _paused_spans(thread, max(last, ticket.updated_at))

    add(ticket.created_at, "created")
    add(ticket.created_at, f"status:{ticket.status.value}")
    if not is_done(ticket.status):
        add(ticket.created_at, "backlog")

    first_reply = next((e for e in thread if e.kind == EntryKind.REPLY), None)
    if first_reply is not None:
        seconds = active_time(ticket.created_at, first_reply.at, calendar=calendar, paused=paused)
        add(first_reply.at, "frt_n")
        add(first_reply.at, "frt_s", round(seconds))
        add(first_reply.at, f"frt:{bucket(seconds)}")

    resolutions = [e for e in thread if _is_resolution(e)]
    for entry in resolutions:
        add(entry.at, "resolved")
    for entry in thread:
        if _is_reopen(entry):
            add(entry.at, "reopened")
        if is_closed(entry.data.get("to")):
            add(entry.at, "closed")
    final = resolutions[-1] if resolutions and is_done(ticket.status) else None
    if final is not None:
        seconds = active_time(ticket.created_at, final.at, calendar=calendar, paused=paused)
        add(final.at, "res_n")
        add(final.at, "res_s", round(seconds))
        add(final.at, f"res:{bucket(seconds)}")

    breaches = [e for e in thread
                if e.kind == EntryKind.SLA and e.data.get("event") == "sla_breached"]
    for entry in breaches:
        add(entry.at, "sla_breached")
    if ticket.sla and final is not None:
        add(final.at, "sla_resolved")
        if breaches:
            add(final.at, "sla_resolved_breached")

    tier, since = None, None
    for entry in thread:
        leaves = entry.kind == EntryKind.ESCALATED or (
            entry.kind == EntryKind.ASSIGNED and entry.data.get("team")) or _is_resolution(entry)
        if tier is not None and since is not None and leaves:
            seconds = active_time(since, entry.at, calendar=calendar, paused=paused)
            add(entry.at, f"tier_n:{tier}")
            add(entry.at, f"tier_s:{tier}", round(seconds))
            tier, since = None, None
        if entry.kind == EntryKind.ESCALATED and entry.data.get("tier"):
            tier, since = entry.data["tier"], entry.at

    if ticket.satisfied is not None and ticket.rated_at is not None:
        add(ticket.rated_at, "csat_yes" if ticket.satisfied else "csat_no")

    return {(day, row): dict(counters) for day, counters in per_day.items()
            for row in rows_of(ticket)}


def difference(new: Contribution, old: Contribution) -> Contribution:
    """What to add to the summaries to go from `old` to `new` (zero counters dropped)."""
    delta: Contribution = {}
    for key in set(new) | set(old):
        a, b = new.get(key, {}), old.get(key, {})
        changed = {name: a.get(name, 0) - b.get(name, 0) for name in set(a) | set(b)}
        changed = {name: value for name, value in changed.items() if value}
        if changed:
            delta[key] = changed
    return delta




def total(parts: Iterable[Contribution]) -> Contribution:
    summed: Contribution = {}
    for part in parts:
        for key, counters in part.items():
            summed[key] = add_into(summed.get(key, {}), counters)
    return {k: v for k, v in summed.items() if v}


# --- reading the figures back ------------------------------------------------------------


def percentile(counters: Mapping[str, float], metric: str, q: float) -> float | None:
    """The q-quantile (0..1) of a duration metric's histogram, in seconds."""
    buckets = sorted((int(name.split(":", 1)[1]), n) for name, n in counters.items()
                     if name.startswith(f"{metric}:") and n > 0)
    count = sum(n for _, n in buckets)
    if not count:
        return None
    rank, seen = q * count, 0.0
    for index, n in buckets:
        seen += n
        if seen >= rank:
            return round(bucket_value(index), 1)
    return round(bucket_value(buckets[-1][0]), 1)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def figures(counters: Counters) -> dict[str, Any]:
    """The readable figures of summed counters."""
    c = Counter(counters)
    tiers = sorted({name.split(":", 1)[1] for name in c if name.startswith("tier_n:")})
    return {
        "created": int(c["created"]),
        "resolved": int(c["resolved"]),
        "closed": int(c["closed"]),
        "reopened": int(c["reopened"]),
        "reopen_rate": _ratio(c["reopened"], c["resolved"]),
        "status": {name.split(":", 1)[1]: int(n) for name, n in sorted(c.items())
                   if name.startswith("status:") and n},
        "first_response": _durations(c, "frt"),
        "resolution": _durations(c, "res"),
        "sla": {"breaches": int(c["sla_breached"]), "resolved": int(c["sla_resolved"]),
                "resolved_breached": int(c["sla_resolved_breached"]),
                "breach_rate": _ratio(c["sla_resolved_breached"], c["sla_resolved"])},
        "tiers": {t: {"stays": int(c[f"tier_n:{t}"]),
                      "mean_seconds": _ratio(c[f"tier_s:{t}"], c[f"tier_n:{t}"])} for t in tiers},
        "satisfaction": {"yes": int(c["csat_yes"]), "no": int(c["csat_no"]),
                         "rate": _ratio(c["csat_yes"], c["csat_yes"] + c["csat_no"])},
    }


def _durations(c: Counter[str], metric: str) -> dict[str, Any]:
    n = c[f"{metric}_n"]
    return {"count": int(n), "mean_seconds": _ratio(c[f"{metric}_s"], n),
            "median_seconds": percentile(c, metric, 0.5),
            "p90_seconds": percentile(c, metric, 0.9)}


AGE_BUCKETS = ((1, "under 1 day"), (3, "1-3 days"), (7, "3-7 days"), (30, "7-30 days"),
               (None, "over 30 days"))


def backlog_by_age(backlog_per_day: dict[str, float], today: date) -> list[dict[str, Any]]:
    """Open tickets by age, from the `backlog` counter of each creation day."""
    counts = dict.fromkeys((label for _, label in AGE_BUCKETS), 0)
    for day, n in backlog_per_day.items():
        age = (today - date.fromisoformat(day)).days
        label = next(lbl for limit, lbl in AGE_BUCKETS if limit is None or age < limit)
        counts[label] += int(n)
    return [{"age": label, "open": counts[label]} for _, label in AGE_BUCKETS]
