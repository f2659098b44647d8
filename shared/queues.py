"""Agents' queues: one range query on the index per page.

The most selective of the given filters picks the index range (assignee, then team, then
status, else all tickets); the others become server-side filters on the row's summary,
passed as query parameters, never pasted into the filter text.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import BadRequest, ValidationFailed
from shared.helpdesk import Helpdesk
from shared.indexing import UNASSIGNED, queue_prefix
from shared.intake import field_errors
from shared.lifecycle import Status
from shared.models import Priority


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    team: str | None = Field(None, description="a team id, or `none`")
    assignee: str | None = Field(None, description="`me`, an agent id, or `none`")
    priority: Priority | None = None
    category: str | None = None
    sort: Literal["created", "updated", "due"] = "created"
    limit: int = Field(50, ge=1, le=200)
    continuation: str | None = None


class QueueItem(BaseModel):
    number: str
    subject: str
    status: str
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


async def list_queue(query: QueueQuery, *, me: str, desk: Helpdesk) -> QueuePage:
    assignee = me if query.assignee == "me" else _none(query.assignee)
    team = _none(query.team)
    filters: list[tuple[str, str]] = []
    if assignee is not None:
        prefix = queue_prefix("assignee", assignee, query.sort)
        if team is not None:
            filters.append(("team", "" if team == UNASSIGNED else team))
        if query.status is not None:
            filters.append(("status", query.status.value))
    elif team is not None:
        prefix = queue_prefix("team", team, query.sort)
        if query.status is not None:
            filters.append(("status", query.status.value))
    elif query.status is not None:
        prefix = queue_prefix("status", query.status.value, query.sort)
    else:
        prefix = queue_prefix("all", None, query.sort)
    if query.priority is not None:
        filters.append(("priority", query.priority.value))
    if query.category is not None:
        filters.append(("category", query.category))

    after = _decode(query.continuation, prefix) if query.continuation else None
    rows = await desk.tickets.list_index(prefix, limit=query.limit + 1, after=after,
                                         filters=filters)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return QueuePage(
        items=[QueueItem(**{**row, "team": row.get("team") or None,
                            "assignee": row.get("assignee") or None})
               for row in rows],
        continuation=_encode(rows[-1]["RowKey"]) if more and rows else None,
    )


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
