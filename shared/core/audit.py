"""The audit log's entries and queries (pure).

An entry says who (a signed-in person with their roles, or an API key by its id and
name, never the key itself), when (UTC), what (method, route template, the ids the
route named, the outcome's status and a short summary) and from where (the client's
address). The summary names the fields a change touched, never their values, so no
secret, password, key or message body can reach the log.

Entries are written when a request is authorized, before it changes anything, with no
status (`status` None: under way); the outcome completes the entry once. An entry still
without a status after its request ended means the outcome could not be recorded.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from shared.core.errors import BadRequest, ValidationFailed, field_errors

# Limits on what a client's request can put into an entry.
MAX_FIELDS = 40
MAX_NAME = 64
MAX_ID = 200
PAGE_LIMIT = 200


class Actor(BaseModel):
    kind: Literal["principal", "apikey"]
    id: str = Field(description="the principal's id, or the API key's id")
    name: str = ""
    roles: list[str] = Field(default_factory=list)


class AuditEntry(BaseModel):
    id: str = Field("", description="the entry's key: newest first")
    at: datetime
    actor: Actor
    method: str
    route: str = Field(description="the route's template, e.g. /api/directory/{kind}/{id}")
    params: dict[str, str] = Field(default_factory=dict, description="the ids the route named")
    ticket: str | None = None
    target: str | None = Field(None, description="the item changed or read: its id")
    status: int | None = Field(None, description="the answer's status; none: not recorded")
    summary: str = ""
    address: str | None = Field(None, description="the client's address")


def clip(value: str, limit: int = MAX_ID) -> str:
    """A client-supplied value cut to size, without control characters."""
    text = "".join(ch for ch in value if ch.isprintable())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def field_names(body: object) -> list[str]:
    """The top-level field names of a JSON object (never its values), sorted, bounded."""
    if not isinstance(body, dict):
        return []
    names = sorted(clip(str(k), MAX_NAME) for k in body)
    return names if len(names) <= MAX_FIELDS else [*names[:MAX_FIELDS], "…"]


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any],
                   sent: dict[str, Any]) -> str:
    """A summary of a replacement (names only): 'created' with the fields `sent`, or
    which fields of the stored item differ from the new one."""
    if before is None:
        return "created: " + ", ".join(field_names(sent))
    names = sorted(set(before) | set(after))
    changed = [n for n in names if before.get(n) != after.get(n)]
    return "changed: " + (", ".join(field_names(dict.fromkeys(changed))) or "nothing")


def sent_fields(body: object) -> str:
    names = field_names(body)
    return "fields: " + ", ".join(names) if names else ""


class AuditQuery(BaseModel):
    """`GET /api/audit`'s filters. Days are UTC; both ends are included."""

    model_config = {"populate_by_name": True}

    first: date | None = Field(None, alias="from")
    last: date | None = Field(None, alias="to")
    actor: str | None = Field(None, max_length=MAX_ID, description="principal or API key id")
    route: str | None = Field(None, max_length=MAX_ID,
                              description="a route template, or a part of one")
    method: str | None = Field(None, pattern=r"^(GET|POST|PUT|PATCH|DELETE)$")
    target: str | None = Field(None, max_length=MAX_ID, description="a ticket or item id")
    limit: int = Field(50, ge=1, le=PAGE_LIMIT)
    continuation: str | None = Field(None, max_length=500)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ordered(self) -> AuditQuery:
        if self.first and self.last and self.first > self.last:
            raise ValueError("from must not be after to")
        return self

    def days(self, today: date, retention_days: int) -> tuple[date, date]:
        """The range asked for, within what the log keeps."""
        return (self.first or today - timedelta(days=retention_days), self.last or today)

    def matches(self, entry: AuditEntry) -> bool:
        """The filters that are not keys: what the store cannot ask the table for."""
        return not self.route or self.route.lower() in entry.route.lower()


def parse_query(params: dict[str, str]) -> AuditQuery:
    allowed = {"from", "to", "actor", "route", "method", "target", "limit", "continuation"}
    try:
        return AuditQuery.model_validate({k: v for k, v in params.items()
                                          if k in allowed and v != ""})
    except ValidationError as exc:
        raise ValidationFailed("Invalid audit filters.", errors=field_errors(exc)) from None


def encode_continuation(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_continuation(token: str) -> tuple[str, str]:
    try:
        found = json.loads(base64.urlsafe_b64decode(token.encode()))
        if isinstance(found, list) and len(found) == 2 and all(isinstance(p, str) for p in found):
            return found[0], found[1]
    except ValueError:
        pass
    raise BadRequest("The continuation token is not valid.")


CSV_COLUMNS = ["at", "actor_kind", "actor_id", "actor_name", "actor_roles", "method", "route",
               "ticket", "target", "params", "status", "summary", "address", "id"]


def csv_row(entry: AuditEntry) -> list[Any]:
    return [entry.at.astimezone(UTC).isoformat(), entry.actor.kind, entry.actor.id,
            entry.actor.name, " ".join(entry.actor.roles), entry.method, entry.route,
            entry.ticket, entry.target,
            " ".join(f"{k}={v}" for k, v in sorted(entry.params.items())),
            "" if entry.status is None else entry.status, entry.summary, entry.address,
            entry.id]
