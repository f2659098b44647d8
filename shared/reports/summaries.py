"""Reports: folding tickets into the daily summaries, reading them back, the CSV export
and the rebuild.

`fold` runs in the ticket-events queue handler after the emails: it brings the
summaries up to date with the ticket as it is now (see shared/reports/metrics.py for why that
makes a repeated or late event harmless). A read of the summary costs the days and
dimension rows asked for, whatever the number of tickets.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.core.counters import Contribution, Counters, add_into
from shared.core.csvcells import safe_cell
from shared.core.directory import CategoryDef
from shared.core.errors import ValidationFailed, field_errors
from shared.core.fields import as_text
from shared.reports import metrics
from shared.storage.indexing import created_bound
from shared.storage.reports import MetricsRecord, record_from_entity
from shared.storage.tickets import StoredTicket

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

MAX_DAYS = 731
RETRIES = 10


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    first: date = Field(alias="from", description="first day (UTC), inclusive; without from "
                        "and to, the last 30 days (the answer says so)")
    last: date = Field(alias="to", description="last day (UTC), inclusive; default today")
    group: Literal["day", "team", "category", "agent", "channel", "priority"] = "day"
    dimension: Literal["team", "category", "agent", "channel", "priority"] | None = Field(
        None, description="filter: count only this dimension's `value` (then grouped by day)")
    value: str | None = None

    @model_validator(mode="after")
    def _sane(self) -> ReportQuery:
        if self.last < self.first:
            raise ValueError("`to` is before `from`")
        if (self.last - self.first).days >= MAX_DAYS:
            raise ValueError(f"at most {MAX_DAYS} days at a time")
        if (self.dimension is None) != (self.value is None):
            raise ValueError("give both `dimension` and `value`, or neither")
        if self.dimension and self.group != "day":
            raise ValueError("a filtered report is grouped by day")
        return self


DEFAULT_DAYS = 30


def with_default_range(params: dict[str, str], *, today: date) -> tuple[dict[str, str], bool]:
    """`params` with `from` and `to` filled in when missing, and whether they were.

    Without both, the range is the last `DEFAULT_DAYS` days, today (UTC) included; with
    only `to`, the 30 days ending then; with only `from`, from then to today (or that one
    day, if it is later). A date that is not one is left for `parse_query` to name."""
    params = dict(params)
    if params.get("from") and params.get("to"):
        return params, False
    try:
        if params.get("to"):
            params["from"] = (date.fromisoformat(params["to"])
                              - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        elif params.get("from"):
            params["to"] = max(date.fromisoformat(params["from"]), today).isoformat()
        else:
            params["from"] = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
            params["to"] = today.isoformat()
    except (ValueError, OverflowError):
        pass
    return params, True


def parse_query(params: dict[str, str]) -> ReportQuery:
    try:
        return ReportQuery.model_validate(params)
    except ValidationError as exc:
        raise ValidationFailed("Invalid report query.", errors=field_errors(exc)) from None


def range_note(query: ReportQuery, defaulted: bool) -> str:
    """How the answer says which days it covers, and whether they were chosen for the caller."""
    days = (query.last - query.first).days + 1
    how = "default range, pass from and to (YYYY-MM-DD) to choose" if defaulted else "as asked"
    return f"{query.first.isoformat()}..{query.last.isoformat()} ({days} days, UTC; {how})"


# -- keeping the summaries up to date ----------------------------------------------------


async def fold(stored: StoredTicket, *, desk: Helpdesk) -> None:
    """Bring the daily summaries up to date with the ticket as stored now."""
    number = stored.ticket.number
    record = record_from_entity(stored.metrics)
    for _ in range(RETRIES):
        if record.pending is not None:
            # A handler stopped half-way (or another one is at it): finish its addition.
            await _finish(number, record, desk=desk)
        else:
            wanted = metrics.contributions(stored.ticket, stored.thread)
            if not metrics.difference(wanted, record.applied):
                return
            etag = await desk.reports.write_record(number, record, revision=record.revision + 1,
                                                   applied=record.applied, pending=wanted)
            if etag is not None:
                await _finish(number, MetricsRecord(record.revision + 1, record.applied, wanted, etag),
                              desk=desk)
                return
        # Another handler of this ticket changed the record: read the ticket again.
        stored = await desk.tickets.get(number) or stored
        record = record_from_entity(stored.metrics)
    raise RuntimeError(f"could not fold ticket {number} into the reports")


async def _finish(number: str, record: MetricsRecord, *, desk: Helpdesk) -> None:
    """Add `pending - applied` to the days (each at most once), then make it `applied`."""
    if record.pending is None:
        return
    by_day: dict[str, dict[str, Counters]] = defaultdict(dict)
    for (day, row), counters in metrics.difference(record.pending, record.applied).items():
        by_day[day][row] = counters
    for day, rows in sorted(by_day.items()):
        await desk.reports.add_to_day(day, rows, marker=f"{number}|{record.revision}", shard=int(number))
    await desk.reports.write_record(number, record, revision=record.revision,
                                    applied=record.pending, pending=None)


async def rebuild(desk: Helpdesk) -> int:
    """Recompute every summary from the tickets themselves; returns the tickets read."""
    await desk.reports.clear()
    parts: list[Contribution] = []
    count = 0
    async for number in desk.reports.ticket_numbers():
        stored = await desk.tickets.get(number)
        if stored is None:
            continue
        count += 1
        part = metrics.contributions(stored.ticket, stored.thread)
        parts.append(part)
        record = record_from_entity(stored.metrics)
        await desk.reports.write_record(number, record, revision=record.revision + 1,
                                        applied=part, pending=None, force=True)
    by_day: dict[str, dict[str, Counters]] = defaultdict(dict)
    for (day, row), counters in metrics.total(parts).items():
        by_day[day][row] = counters
    for day, rows in sorted(by_day.items()):
        await desk.reports.write_day(day, rows)
    return count


async def expected(desk: Helpdesk) -> Contribution:
    """What the summaries must hold: every ticket's contribution, summed (for checks)."""
    parts = []
    async for number in desk.reports.ticket_numbers():
        stored = await desk.tickets.get(number)
        if stored is not None:
            parts.append(metrics.contributions(stored.ticket, stored.thread))
    return metrics.total(parts)


# -- reading ----------------------------------------------------------------------------


async def summary(query: ReportQuery, *, desk: Helpdesk, defaulted: bool = False) -> dict[str, Any]:
    """The figures for the query's days; `defaulted` says the caller gave no range."""
    rows = f"{query.dimension}" if query.dimension else ("all" if query.group == "day" else query.group)
    grouped: dict[str, dict[str, float]] = {}
    overall: dict[str, float] = {}
    backlog: dict[str, float] = {}
    per_day: dict[str, dict[str, float]] = {}
    async for day, row, counters in desk.reports.read_days(query.first.isoformat(), query.last.isoformat(),
                                                           rows=rows):
        if query.dimension and row != f"{query.dimension}|{query.value}":
            continue
        key = day if query.group == "day" else row.partition("|")[2]
        grouped[key] = add_into(grouped.get(key, {}), counters)
        overall = add_into(overall, counters) if query.group == "day" else overall
        if query.group == "day" and counters.get("backlog"):
            backlog[day] = backlog.get(day, 0) + counters["backlog"]
        per_day[day] = add_into(per_day.get(day, {}), {k: v for k, v in counters.items()
                                                              if k in ("created", "resolved")})
    if query.group != "day":
        # Each ticket counts in exactly one row of a dimension: the groups add up to all.
        for counters in grouped.values():
            overall = add_into(overall, counters)
    today = desk.clock().date()
    return {
        "from": query.first.isoformat(), "to": query.last.isoformat(),
        "default_range": defaulted, "range": range_note(query, defaulted), "group": query.group,
        "filter": {query.dimension: query.value} if query.dimension else None,
        "totals": metrics.figures(overall),
        "groups": [{"key": key, **metrics.figures(counters)} for key, counters in sorted(grouped.items())],
        "created_resolved_per_day": [
            {"day": (query.first + timedelta(days=i)).isoformat(),
             "created": int(per_day.get((query.first + timedelta(days=i)).isoformat(), {}).get("created", 0)),
             "resolved": int(per_day.get((query.first + timedelta(days=i)).isoformat(), {}).get("resolved", 0))}
            for i in range((query.last - query.first).days + 1)] if query.group == "day" else None,
        "backlog_by_age": metrics.backlog_by_age(backlog, today) if query.group == "day" else None,
    }


CSV_COLUMNS = ["number", "subject", "status", "priority", "category", "channel", "team", "assignee",
               "requester_email", "created_at", "first_response_at", "resolved_at", "closed_at",
               "satisfied"]


async def tickets_csv(first: date, last: date, *, desk: Helpdesk) -> AsyncIterator[str]:
    """One line per ticket created first..last, oldest first: the active rows created in
    that range (one read) merged with the closed tickets' rows of those days (paged)."""
    low = created_bound(datetime.combine(first, time(), UTC))
    high = created_bound(datetime.combine(last + timedelta(days=1), time(), UTC))
    active = await desk.tickets.active_rows([], low=low, high=high)
    # A column per category field (`field.<id>`: an id shared by categories is one
    # column), in the categories' order; a retired field's values stay on the tickets.
    field_ids = list(dict.fromkeys(f.id for c in await desk.directory.list(CategoryDef)
                                   for f in c.fields))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *(f"field.{i}" for i in field_ids)])
    yield out.getvalue()
    after: str | None = None
    while True:
        closed = await desk.tickets.closed_rows([], after=after, first_day=low[:8],
                                                end_day=high[:8], limit=1000)
        done = len(closed) < 1000
        # A ticket closing right now may have both rows for a moment: the closed one counts.
        numbers = {row["number"] for row in closed}
        until = None if done else closed[-1]["RowKey"]
        ready = [row for row in active if until is None or row["RowKey"] <= until]
        active = active[len(ready):]
        rows = sorted([*closed, *(r for r in ready if r["number"] not in numbers)],
                      key=lambda r: r["RowKey"])
        out.seek(0)
        out.truncate()
        for row in rows:
            values = json.loads(row.get("fields") or "{}") if field_ids else {}
            writer.writerow([*(safe_cell(row.get(column)) for column in CSV_COLUMNS),
                             *(safe_cell(as_text(values.get(i))) for i in field_ids)])
        yield out.getvalue()
        if done:
            return
        after = closed[-1]["RowKey"]
