"""Agents' queues: the active rows that meet a queue's filters, and their counts.

The index holds one row per ticket that can still be worked (every status but closed),
spread over 16 partitions (`shared/storage/indexing.py`). A queue is a set of conditions
on those rows' properties (status, team, assignee, priority, category; `overdue`: a due
time before now), passed to the service as query parameters, never pasted into the
filter text. `created` order is the rows' key: a page reads at most `limit + 1` rows of
each partition after the continuation key. `updated` and `due` read every matching active
row and sort them in memory: bounded by the active backlog, whatever the desk's history.
Closed tickets are not in the agents' queues: `status=closed` lists the closed tickets'
own table, in creation order whatever the sort.

A queue may also ask for values of the categories' choice fields (`field.<id>=<choice>`,
shared/core/fields.py): the index row carries the ticket's field values as one JSON
property, which the table service cannot look into, so these conditions are applied to
the rows read (never one row per field): such a queue reads every active row that meets
its other conditions, as the `updated` and `due` sorts do; a closed queue pages through
the closed rows until a page is full.

Counts (the agent page's sidebar, refreshed every 30 seconds per open page) come from one
read of the active rows (five properties each), each queue's conditions evaluated on
them; counts stop at `COUNT_CAP` (past it the page shows "1000+").
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.core.directory import Agent
from shared.core.errors import BadRequest, ValidationFailed, field_errors
from shared.core.fields import FIELD_ID, as_text
from shared.core.lifecycle import Category, Status, is_closed, statuses
from shared.core.models import Priority
from shared.storage.indexing import sort_key

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = Field(None, description="closed tickets are listed only with "
                                  "`closed`, in creation order")
    team: str | None = Field(None, description="a team id, or `none`")
    assignee: str | None = Field(None, description="`me`, an agent id, or `none`")
    priority: Priority | None = None
    category: str | None = None
    overdue: bool = Field(False, description="only tickets past their SLA due time "
                          "(sorted by due time)")
    active: bool = Field(False, description="only tickets not resolved or closed")
    sort: Literal["created", "updated", "due"] = "created"
    limit: int = Field(50, ge=1, le=200)
    continuation: str | None = None
    fields: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=dict, max_length=5, description="choice fields' values: sent as "
        "`field.<id>=<choice>` (a multi-choice field matches when it holds that choice)")


class QueueItem(BaseModel):
    number: str
    subject: str
    status: Status
    priority: str
    category: str
    channel: str
    team: str | None
    assignee: str | None
    requester_name: str
    requester_email: str
    created_at: Any
    updated_at: Any
    due_at: Any = None
    overdue: bool = False


class QueuePage(BaseModel):
    items: list[QueueItem]
    continuation: str | None = Field(None, description="pass back to get the next page")


def parse_query(params: dict[str, str]) -> QueueQuery:
    plain = {k: v for k, v in params.items() if not k.startswith("field.")}
    chosen = {k[len("field."):]: v for k, v in params.items() if k.startswith("field.")}
    bad = [k for k in chosen if not re.match(FIELD_ID, k)]
    if bad:
        raise ValidationFailed("Invalid queue filters.", errors=[
            {"field": f"field.{k}", "message": "not a field id"} for k in bad])
    if chosen:
        plain["fields"] = chosen  # type: ignore[assignment]
    try:
        return QueueQuery.model_validate(plain)
    except ValidationError as exc:
        raise ValidationFailed("Invalid queue filters.", errors=field_errors(exc)) from None


def _none(value: str | None) -> str | None:
    return "" if value == "none" else value


Condition = tuple[str, str, Any]


@dataclass(frozen=True)
class Plan:
    """The conditions on a row's properties, the order, and which table: the active rows,
    or (`status=closed`) the closed ones."""

    conditions: list[Condition]
    sort: str
    closed: bool
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def queue(self) -> str:
        """What a continuation token names: the same queue, whatever the time (`overdue`
        compares with now)."""
        shape = [[n, op, "now" if n == "due_at" else v] for n, op, v in self.conditions]
        text = json.dumps([shape, self.sort, self.closed, self.fields], default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan(query: QueueQuery, *, me: str, now: datetime) -> Plan:
    assignee = me if query.assignee == "me" else _none(query.assignee)
    team = _none(query.team)
    closed = query.status is not None and is_closed(query.status)
    conditions: list[Condition] = []
    if assignee is not None:
        conditions.append(("assignee", "eq", assignee))
    if team is not None:
        conditions.append(("team", "eq", team))
    if query.status is not None and not closed:
        conditions.append(("status", "eq", query.status.value))
    if query.priority is not None:
        conditions.append(("priority", "eq", query.priority.value))
    if query.category is not None:
        conditions.append(("category", "eq", query.category))
    if query.active and query.status is None:
        conditions += [("status", "ne", s.value) for s in statuses(Category.DONE)
                       if not is_closed(s)]
    if query.overdue:
        conditions.append(("due_at", "lt", now))
    sort = "created" if closed else "due" if query.overdue else query.sort
    return Plan(conditions, sort, closed, tuple(sorted(query.fields.items())))


def fields_match(row: dict[str, Any], wanted: tuple[tuple[str, str], ...]) -> bool:
    """Whether a row's field values hold each wanted choice (compared case-insensitively;
    a multi-choice value when one of its choices is it)."""
    if not wanted:
        return True
    try:
        values = json.loads(row.get("fields") or "{}")
    except ValueError:
        return False
    for name, choice in wanted:
        value = values.get(name)
        items = value if isinstance(value, list) else [] if value is None else [value]
        if choice.casefold() not in {as_text(v).casefold() for v in items}:
            return False
    return True


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
    "gt": operator.gt, "ge": operator.ge}


def matches(row: dict[str, Any], conditions: list[Condition]) -> bool:
    """Whether a row meets the conditions, as the table service decides: a property the
    row does not have meets none."""
    return all(row.get(name) is not None and _COMPARE[op](row[name], value)
               for name, op, value in conditions)


# What a page shows of each row (the rest of the summary is the export's).
ITEM_FIELDS = ["number", "subject", "status", "priority", "category", "channel", "team",
               "assignee", "requester_name", "requester_email", "created_at", "updated_at",
               "due_at", "overdue"]


async def list_queue(query: QueueQuery, *, me: str, desk: Helpdesk) -> QueuePage:
    found = plan(query, me=me, now=desk.clock())
    after = _decode(query.continuation, found.queue) if query.continuation else None
    want = query.limit + 1
    if found.fields:
        rows = await _with_fields(found, after=after, want=want, desk=desk)
    elif found.closed:
        rows = await desk.tickets.closed_rows(found.conditions, after=after, limit=want,
                                              select=ITEM_FIELDS)
    elif found.sort == "created":
        rows = await desk.tickets.active_rows(found.conditions, after=after, limit=want,
                                              select=ITEM_FIELDS)
    else:
        every = await desk.tickets.active_rows(found.conditions, select=ITEM_FIELDS)
        every.sort(key=lambda r: _key(r, found.sort))
        rows = [r for r in every if after is None or _key(r, found.sort) > after][:want]
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return QueuePage(
        items=[item(row) for row in rows],
        continuation=_encode(_key(rows[-1], found.sort), found.queue)
        if more and rows else None,
    )


async def _with_fields(found: Plan, *, after: str | None, want: int, desk: Helpdesk
                       ) -> list[dict[str, Any]]:
    """A queue with conditions on field values: those are checked on the rows read."""
    select = [*ITEM_FIELDS, "fields"]
    if not found.closed:
        every = [r for r in await desk.tickets.active_rows(found.conditions, select=select)
                 if fields_match(r, found.fields)]
        every.sort(key=lambda r: _key(r, found.sort))
        return [r for r in every if after is None or _key(r, found.sort) > after][:want]
    rows: list[dict[str, Any]] = []
    while len(rows) < want:
        page = await desk.tickets.closed_rows(found.conditions, after=after, limit=1000,
                                              select=select)
        rows += [r for r in page if fields_match(r, found.fields)]
        if len(page) < 1000:
            break
        after = page[-1]["RowKey"]
    return rows[:want]


def _key(row: dict[str, Any], sort: str) -> str:
    """A row's place in its queue's order: created order is the row's own key."""
    return row["RowKey"] if sort == "created" else sort_key(row, sort)


def item(row: dict[str, Any]) -> QueueItem:
    # A selected property a row lacks may come back as null: leave it at its default.
    return QueueItem(**{**{k: v for k, v in row.items()
                           if k in QueueItem.model_fields and v is not None},
                        "team": row.get("team") or None,
                        "assignee": row.get("assignee") or None})


COUNT_CAP = 1000

# The agent page's sidebar; `teams` is added per agent (one range per team of theirs).
SIDEBAR: dict[str, QueueQuery] = {
    "unassigned": QueueQuery(assignee="none", active=True),
    "mine": QueueQuery(assignee="me", active=True),
    "pending": QueueQuery(status=Status.PENDING),
    "escalated": QueueQuery(status=Status.ESCALATED),
    "overdue": QueueQuery(overdue=True, active=True),
    "resolved": QueueQuery(status=Status.RESOLVED),
}
# The properties the counts' conditions look at.
COUNTED = ["status", "team", "assignee", "priority", "category", "due_at"]


class QueueCounts(BaseModel):
    cap: int = Field(description="counts stop here; a count equal to it means at least")
    queues: dict[str, int] = Field(description="the sidebar's queues: unassigned, mine, "
                                   "teams (the agent's teams together), pending, escalated, "
                                   "overdue, resolved")
    teams: dict[str, int] = Field(description="active tickets of each of the agent's teams")
    statuses: dict[str, int] | None = Field(None, description="per status, when asked for")


async def count(query: QueueQuery, *, me: str, desk: Helpdesk, cap: int = COUNT_CAP) -> int:
    found = plan(query, me=me, now=desk.clock())
    if found.closed:
        return len(await desk.tickets.closed_rows(found.conditions, limit=cap,
                                                  select=["RowKey"]))
    return await desk.tickets.count_active(found.conditions, cap=cap)


async def queue_counts(*, me: str, desk: Helpdesk, statuses: bool = False) -> QueueCounts:
    record, rows = await asyncio.gather(desk.directory.get(Agent, me),
                                        desk.tickets.active_rows([], select=COUNTED))
    teams = list(record.teams) if record else []
    now = desk.clock()

    def counted(query: QueueQuery) -> int:
        conditions = plan(query, me=me, now=now).conditions
        return min(COUNT_CAP, sum(1 for r in rows if matches(r, conditions)))

    queues = {name: counted(query) for name, query in SIDEBAR.items()}
    by_team = {t: counted(QueueQuery(team=t, active=True)) for t in teams}
    queues["teams"] = min(sum(by_team.values()), COUNT_CAP)
    per_status = None
    if statuses:
        per_status = {s.value: counted(QueueQuery(status=s)) for s in Status
                      if not is_closed(s)}
        per_status[Status.CLOSED.value] = await count(QueueQuery(status=Status.CLOSED),
                                                      me=me, desk=desk)
    return QueueCounts(cap=COUNT_CAP, queues=queues, teams=by_team, statuses=per_status)


def _encode(key: str, queue: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": key, "queue": queue}).encode()).decode()


def _decode(token: str, queue: str) -> str:
    try:
        found = json.loads(base64.urlsafe_b64decode(token.encode()))
        after, of = found["after"], found["queue"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise BadRequest("The continuation token is not valid.") from None
    if not isinstance(after, str) or of != queue:
        raise BadRequest("The continuation token belongs to another queue.")
    return after
