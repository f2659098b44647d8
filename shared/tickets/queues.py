"""Agents' queues: one range query on the index per page, and their counts.

The most selective of the given filters picks the index range (assignee, then team, then
status, else all tickets); the others become server-side filters on the row's summary,
passed as query parameters, never pasted into the filter text. `overdue` reads the
range's `due`-sorted rows up to now: a ticket has a due time only while an SLA target is
open and its clock runs, so that part of the range is exactly the overdue work.

Counts (the agent page's sidebar, refreshed every 30 seconds per open page) are the same
range queries selecting only RowKey, capped at `COUNT_CAP`: each count is one request
of at most 1,000 keys, whatever the backlog; past the cap the page shows "1000+".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.core.directory import Agent
from shared.core.errors import BadRequest, ValidationFailed, field_errors
from shared.core.lifecycle import Category, Status, statuses
from shared.core.models import Priority
from shared.storage.indexing import UNASSIGNED, due_before, queue_prefix

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
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
    try:
        return QueueQuery.model_validate(params)
    except ValidationError as exc:
        raise ValidationFailed("Invalid queue filters.", errors=field_errors(exc)) from None


def _none(value: str | None) -> str | None:
    return UNASSIGNED if value == "none" else value


@dataclass(frozen=True)
class Plan:
    """One index range and the filters within it."""

    prefix: str
    before: str | None
    filters: list[tuple[str, str]]
    exclude: list[tuple[str, str]]


def plan(query: QueueQuery, *, me: str, now: datetime) -> Plan:
    assignee = me if query.assignee == "me" else _none(query.assignee)
    team = _none(query.team)
    sort = "due" if query.overdue else query.sort
    filters: list[tuple[str, str]] = []
    if assignee is not None:
        prefix = queue_prefix("assignee", assignee, sort)
        if team is not None:
            filters.append(("team", "" if team == UNASSIGNED else team))
        if query.status is not None:
            filters.append(("status", query.status.value))
    elif team is not None:
        prefix = queue_prefix("team", team, sort)
        if query.status is not None:
            filters.append(("status", query.status.value))
    elif query.status is not None:
        prefix = queue_prefix("status", query.status.value, sort)
    else:
        prefix = queue_prefix("all", None, sort)
    if query.priority is not None:
        filters.append(("priority", query.priority.value))
    if query.category is not None:
        filters.append(("category", query.category))
    exclude = [("status", s.value) for s in statuses(Category.DONE)] if query.active and query.status is None else []
    before = due_before(prefix, now) if query.overdue else None
    return Plan(prefix, before, filters, exclude)


async def list_queue(query: QueueQuery, *, me: str, desk: Helpdesk) -> QueuePage:
    found = plan(query, me=me, now=desk.clock())
    after = _decode(query.continuation, found.prefix) if query.continuation else None
    rows = await desk.tickets.list_index(found.prefix, limit=query.limit + 1, after=after,
                                         before=found.before, filters=found.filters,
                                         exclude=found.exclude)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return QueuePage(
        items=[item(row) for row in rows],
        continuation=_encode(rows[-1]["RowKey"]) if more and rows else None,
    )


def item(row: dict[str, Any]) -> QueueItem:
    return QueueItem(**{**{k: v for k, v in row.items() if k in QueueItem.model_fields},
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


class QueueCounts(BaseModel):
    cap: int = Field(description="counts stop here; a count equal to it means at least")
    queues: dict[str, int] = Field(description="the sidebar's queues: unassigned, mine, "
                                   "teams (the agent's teams together), pending, escalated, "
                                   "overdue, resolved")
    teams: dict[str, int] = Field(description="active tickets of each of the agent's teams")
    statuses: dict[str, int] | None = Field(None, description="per status, when asked for")


async def count(query: QueueQuery, *, me: str, desk: Helpdesk, cap: int = COUNT_CAP) -> int:
    found = plan(query, me=me, now=desk.clock())
    return await desk.tickets.count_index(found.prefix, cap=cap, before=found.before,
                                          filters=found.filters, exclude=found.exclude)


async def queue_counts(*, me: str, desk: Helpdesk, statuses: bool = False) -> QueueCounts:
    record = await desk.directory.get(Agent, me)
    teams = list(record.teams) if record else []
    names = list(SIDEBAR)
    queries = [SIDEBAR[n] for n in names]
    queries += [QueueQuery(team=t, active=True) for t in teams]
    if statuses:
        queries += [QueueQuery(status=s) for s in Status]
    found = await asyncio.gather(*(count(q, me=me, desk=desk) for q in queries))
    queues = dict(zip(names, found[:len(names)], strict=True))
    by_team = dict(zip(teams, found[len(names):len(names) + len(teams)], strict=True))
    queues["teams"] = min(sum(by_team.values()), COUNT_CAP)
    per_status = None
    if statuses:
        per_status = dict(zip([s.value for s in Status], found[len(names) + len(teams):],
                              strict=True))
    return QueueCounts(cap=COUNT_CAP, queues=queues, teams=by_team, statuses=per_status)


def _encode(row_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": row_key}).encode()).decode()


def _decode(token: str, prefix: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise BadRequest("The continuation token is not valid.") from None
    if not isinstance(after, str) or not after.startswith(prefix):
        raise BadRequest("The continuation token belongs to another queue.")
    return after
