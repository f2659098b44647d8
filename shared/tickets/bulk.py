"""One action on many tickets at once (an agent's selection in a queue).

The request is checked whole first (the numbers, the action, its body and the directory
names it uses): anything wrong there refuses all of it with one 4xx and changes nothing.
Then each ticket is changed by the agents' own `act`, one guarded write per ticket, as if
the agent had sent the action for each alone: the lifecycle and the roles decide per
ticket, and a ticket someone changed since the agent saw it (`expected`) is refused, not
overwritten. One ticket refused does not undo the others; the answer says, per number,
what happened and why, in the words of the problem JSON a single action would have had.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from shared.core.errors import HelpdeskError, ValidationFailed, field_errors
from shared.core.lifecycle import Action
from shared.core.numbering import is_valid
from shared.tickets.actionbodies import check_references, for_actor, parse_body
from shared.tickets.workflow import Precondition, act

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

# What an agent may do to a selection. Replies and questions to the requester are left
# out on purpose: the same words emailed to many people are written one by one.
BULK_ACTIONS = (Action.ASSIGN, Action.CHANGE, Action.NOTE, Action.RESOLVE, Action.CLOSE)
MAX_TICKETS = 100
# Tickets changed at once: each is a few storage round trips; more would only queue up
# behind one another on the storage account (and the same host serves other agents).
CONCURRENCY = 8

_WHEN = TypeAdapter(datetime)


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[str] = Field(min_length=1, max_length=MAX_TICKETS,
                               description=f"the tickets, at most {MAX_TICKETS}, each once")
    action: str = Field(description="one of: " + ", ".join(a.value for a in BULK_ACTIONS))
    body: dict[str, Any] = Field(default_factory=dict,
                                 description="the action's body, as for one ticket")
    expected: dict[str, str] = Field(
        default_factory=dict,
        description="optional, per number: what the agent last saw of that ticket, its ETag "
                    "(`W/\"v<n>\"`, as for If-Match) or its `updated_at` as a queue page "
                    "lists it; a ticket changed since is refused with 412")

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, numbers: list[str]) -> list[str]:
        bad = [n for n in numbers if not is_valid(n)]
        if bad:
            raise ValueError("not ticket numbers (8 digits, the last a check digit): "
                             + ", ".join(repr(n)[:20] for n in bad[:5]))
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise ValueError("each number once; repeated: " + ", ".join(repeated[:5]))
        return numbers


class BulkResult(BaseModel):
    number: str
    ok: bool
    status: int = Field(description="the HTTP status this ticket's action alone would have had")
    title: str | None = Field(None, description="why it was refused (problem JSON's title)")
    detail: str | None = None
    etag: str | None = Field(None, description="the ticket's version after the action; on "
                             "412, the current one")
    updated_at: datetime | None = Field(None, description="after the action (send it back "
                                        "as `expected` for the next one)")
    ticket_status: str | None = Field(None, description="the ticket's status: after the "
                                      "action, or on 409 the one that refused it")
    allowed_actions: list[str] | None = Field(None, description="on 409")


class BulkOutcome(BaseModel):
    action: str
    succeeded: int
    refused: int
    results: list[BulkResult] = Field(description="one per number, in the request's order")


def parse_request(raw: dict[str, Any]) -> tuple[BulkRequest, Action, dict[str, Precondition]]:
    """The request, its action and each ticket's precondition; 422 naming every bad field."""
    try:
        request = BulkRequest.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed("The bulk request has invalid fields.",
                               errors=field_errors(exc)) from None
    errors: list[dict[str, str]] = []
    allowed = {a.value: a for a in BULK_ACTIONS}
    action = allowed.get(request.action)
    if action is None:
        errors.append({"field": "action",
                       "message": f"one of: {', '.join(allowed)} (got {request.action[:40]!r})"})
    preconditions: dict[str, Precondition] = {}
    for number, seen in request.expected.items():
        if number not in request.numbers:
            errors.append({"field": f"expected.{number[:20]}",
                           "message": "not one of the numbers"})
            continue
        condition = _precondition(seen)
        if condition is None:
            errors.append({"field": f"expected.{number}",
                           "message": "an ETag (W/\"v<n>\") or a date and time"})
        else:
            preconditions[number] = condition
    if errors:
        raise ValidationFailed("The bulk request has invalid fields.", errors=errors)
    assert action is not None
    return request, action, preconditions


def _precondition(seen: str) -> Precondition | None:
    seen = seen.strip()
    if seen.startswith(('"', 'W/"')):
        return Precondition.parse(seen)
    try:
        when = _WHEN.validate_python(seen)
    except ValidationError:
        return None
    return Precondition(updated_at=when) if when.tzinfo is not None else None


async def act_on_many(raw: dict[str, Any], *, actor: str, roles: frozenset[str],
                      desk: Helpdesk) -> BulkOutcome:
    request, action, preconditions = parse_request(raw)
    body = for_actor(parse_body(action, request.body), actor)
    await check_references(body, desk=desk)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(number: str) -> BulkResult:
        async with gate:
            try:
                view = await act(number, action, body, actor=actor, roles=roles,
                                 if_match=preconditions.get(number), desk=desk)
            except HelpdeskError as exc:
                return _refused(number, exc)
            except Exception:  # one ticket's bug must not lose the others' answers
                log.exception("bulk %s on %s failed", action.value, number)
                return _refused(number, HelpdeskError("Something went wrong on our side."))
        return BulkResult(number=number, ok=True, status=200, etag=view.etag,
                          updated_at=view.ticket.updated_at,
                          ticket_status=view.ticket.status.value)

    results = await asyncio.gather(*(one(n) for n in request.numbers))
    succeeded = sum(1 for r in results if r.ok)
    return BulkOutcome(action=action.value, succeeded=succeeded,
                       refused=len(results) - succeeded, results=list(results))


def _refused(number: str, exc: HelpdeskError) -> BulkResult:
    extra = exc.extra
    current = extra.get("current") or {}
    detail = exc.detail
    if exc.errors:
        detail += " " + "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
    return BulkResult(
        number=number, ok=False, status=exc.status, title=exc.title, detail=detail,
        etag=extra.get("etag"),
        updated_at=(current.get("ticket") or {}).get("updated_at"),
        ticket_status=extra.get("current_status") or (current.get("ticket") or {}).get("status"),
        allowed_actions=extra.get("allowed_actions"))
