"""The audit log's entries for HTTP requests, written here so that no handler has to
remember them.

Which requests get an entry is decided from the route and the role it needs, never by
the handler:

- every POST, PUT, PATCH or DELETE on a route that needs the admin or supervisor role
  (the role `functions.http.agent` is asked for, or the one the route documents in
  `functions/openapi_spec.py`): a route added later is audited by being an admin route;
- every request made with an API key (the osTicket API, the email pipe), once the key
  is accepted;
- every agent's download of a ticket's attachment (`AUDITED_READS`).

An entry is written when the caller is authorized, before the handler changes anything,
and completed with the answer's status once the handler is done (`recorded`, which
`functions.http.handles_errors` applies to every handler). If the entry cannot be
written, the request is refused with 503 and nothing changes: no change is unaudited.
If only the completion fails, the change stands and its entry shows no status (logged).
A refused write by a signed-in person (403: no role, no CSRF header, a removed agent), or
a real API key refused for its scope or address, gets a complete entry with its status;
requests nobody is known for (401) get none, so that anonymous traffic cannot fill the
log.

The client's address is `shared.admin.apikeys.client_address` (the last X-Forwarded-For
entry, the one App Service's front end adds), as for the rate limits.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import azure.functions as func

from functions.deps import helpdesk
from functions.openapi_spec import OPERATIONS, Operation
from shared.admin.apikeys import ApiKey, client_address
from shared.core.audit import Actor, AuditEntry, clip, sent_fields
from shared.core.auth import Principal
from shared.core.errors import HelpdeskError
from shared.storage.audit import Written

log = logging.getLogger(__name__)

Handler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDITED_ROLES = frozenset({"admin", "supervisor"})
# Reads that are audited whoever makes them: (method, route template).
AUDITED_READS = frozenset({("GET", "/api/tickets/{number}/attachments/{id}")})
_TICKET_LOCATION = re.compile(r"^/api/tickets/(\d{8})$")


def _pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p)
                                    for p in parts) + "$")


# The most literal template first: `/api/tickets/{number}/merge` before `.../{action}`.
_ROUTES = sorted(((op.method.upper(), _pattern(op.path), op) for op in OPERATIONS),
                 key=lambda r: r[2].path.count("{"))


def operation(method: str, path: str) -> Operation | None:
    """The documented operation a request's method and path belong to."""
    for verb, pattern, op in _ROUTES:
        if verb == method and pattern.match(path):
            return op
    return None


def wanted(method: str, path: str, role: str | None) -> bool:
    """Whether a request authorized for `role` gets an entry (see the module docstring)."""
    op = operation(method, path)
    if method in WRITE_METHODS and (role in AUDITED_ROLES or (op and op.role in AUDITED_ROLES)):
        return True
    return op is not None and (method, op.path) in AUDITED_READS


@dataclass
class _Slot:
    written: Written | None = None
    summary: str | None = None
    target: str | None = None
    ticket: str | None = None


_slot: ContextVar[_Slot | None] = ContextVar("audit_slot", default=None)


def note(*, summary: str | None = None, target: str | None = None,
         ticket: str | None = None) -> None:
    """Say more about the change than the route can (which fields it changed); optional."""
    slot = _slot.get()
    if slot is not None:
        slot.summary = summary if summary is not None else slot.summary
        slot.target = target or slot.target
        slot.ticket = ticket or slot.ticket


def _entry(req: func.HttpRequest, actor: Actor, *, at: datetime, status: int | None = None,
           summary: str = "") -> AuditEntry:
    method = req.method.upper()
    path = urlsplit(req.url).path
    op = operation(method, path)
    params = {clip(k, 64): clip(str(v)) for k, v in (req.route_params or {}).items()}
    return AuditEntry(
        at=at, actor=actor, method=method, route=op.path if op else clip(path),
        params=params, ticket=params.get("number"), target=params.get("id"),
        status=status, summary=summary,
        address=clip(address, 64) if (address := client_address(
            req.headers.get("x-forwarded-for"))) else None)


def _body_fields(req: func.HttpRequest) -> str:
    mimetype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        return ""
    try:
        return sent_fields(json.loads(req.get_body() or b"null"))
    except (ValueError, RecursionError):
        return ""


def _principal(who: Principal) -> Actor:
    return Actor(kind="principal", id=clip(who.user_id), name=clip(who.name),
                 roles=sorted(clip(r, 64) for r in who.roles))


async def _begin(req: func.HttpRequest, actor: Actor, summary: str) -> None:
    slot = _slot.get()
    if slot is not None and slot.written is not None:
        return  # this request's entry is written already
    desk = await helpdesk()
    written = await desk.audit.begin(_entry(req, actor, at=desk.clock(), summary=summary))
    if slot is None:
        log.warning("audit entry %s written outside `recorded`: it will not be completed",
                    written.id)
    else:
        slot.written = written


async def begin_principal(req: func.HttpRequest, who: Principal, role: str) -> None:
    """The entry of an authorized request, if it needs one; raises 503 when it cannot
    be written, before anything changes."""
    if wanted(req.method.upper(), urlsplit(req.url).path, role):
        await _begin(req, _principal(who), _body_fields(req))


async def begin_key(req: func.HttpRequest, key: ApiKey) -> None:
    """The entry of a request made with an accepted API key (never the key itself)."""
    await _begin(req, _key(key), "")


def _key(key: ApiKey) -> Actor:
    return Actor(kind="apikey", id=key.id, name=clip(key.name), roles=list(key.scopes))


async def refused(req: func.HttpRequest, who: Principal, role: str, error: HelpdeskError
                  ) -> None:
    """A complete entry for a write refused to a signed-in person; best effort (the
    refusal is answered whether or not it could be written)."""
    if not wanted(req.method.upper(), urlsplit(req.url).path, role):
        return
    try:
        desk = await helpdesk()
        await desk.audit.begin(_entry(req, _principal(who), at=desk.clock(), status=error.status,
                                      summary="refused: " + clip(error.detail)))
    except HelpdeskError as exc:
        log.error("audit: a refused %s %s was not recorded: %s", req.method, req.url, exc)


async def refused_key(req: func.HttpRequest, key: ApiKey, error: HelpdeskError) -> None:
    """A complete entry for a real API key refused here (another scope, another
    address): a key used where it should not be may have leaked. Best effort."""
    try:
        desk = await helpdesk()
        await desk.audit.begin(_entry(req, _key(key), at=desk.clock(), status=error.status,
                                      summary="refused: " + clip(error.detail)))
    except HelpdeskError as exc:
        log.error("audit: a refused use of API key %s was not recorded: %s", key.id, exc)


def _outcome(slot: _Slot, response: func.HttpResponse) -> tuple[str | None, str | None,
                                                                   str | None]:
    """What the answer tells about the change: the ticket and the item it made, and
    what happened to a keyed request (the email pipe's outcome)."""
    ticket, target, summary = slot.ticket, slot.target, slot.summary
    if found := _TICKET_LOCATION.match(response.headers.get("Location", "")):
        ticket = ticket or found.group(1)
    if outcome := response.headers.get("X-Helpdesk-Outcome"):
        summary = summary or f"outcome: {clip(outcome, 64)}"
    if 200 <= response.status_code < 300 and response.mimetype == "application/json" \
            and target is None:
        try:
            body = json.loads(response.get_body()[:65536] or b"null")
        except ValueError:
            body = None
        if isinstance(body, dict):
            info = body.get("info")
            made: dict[str, object] = info if isinstance(info, dict) else body
            if isinstance(made_id := made.get("id"), str):
                target = clip(made_id)
            if isinstance(number := made.get("number"), str):
                ticket = ticket or clip(number)
    return ticket, target, summary


async def _finish(slot: _Slot, response: func.HttpResponse | None) -> None:
    assert slot.written is not None
    status = response.status_code if response is not None else 500
    ticket, target, summary = _outcome(slot, response) if response is not None else \
        (slot.ticket, slot.target, slot.summary)
    try:
        desk = await helpdesk()
        await desk.audit.finish(slot.written, status=status, summary=summary, ticket=ticket,
                                target=target)
    except HelpdeskError as exc:
        log.error("audit entry %s: the outcome %s was not recorded: %s", slot.written.id,
                  status, exc)


def recorded(handler: Handler) -> Handler:
    """Complete the request's audit entry, if it got one, with the answer's status."""

    @functools.wraps(handler)
    async def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        slot = _Slot()
        token = _slot.set(slot)
        response: func.HttpResponse | None = None
        try:
            response = await handler(req)
            return response
        finally:
            _slot.reset(token)
            if slot.written is not None:
                await _finish(slot, response)

    return wrapper
