"""Agent actions and requester answers on a stored ticket: the orchestration around the
pure `apply_action`.

Each action is one entity group transaction in the ticket's partition (the new head,
guarded by the storage ETag it was read with, and the action's entry), then the ticket's
index rows, then an event on the queue for its side effects. Optimistic concurrency:
- with `If-Match`, a ticket that another person changed since the caller read it answers
  412 with the current ticket; nothing is overwritten. The ETag agents hold is the
  ticket's agent-visible version (`shared/core/actions.py` `moves_version`): a record the desk
  added on its own meanwhile (a sent email, an SLA warning) moves the storage ETag but not
  the version, and the action is decided again on the fresh ticket and written;
- without it, the action is decided again on the fresh ticket and retried, so every
  accepted action lands exactly once and no update is lost.
The desk's own jobs may send a storage ETag instead: the head exactly as they read it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from shared.automation.engine import apply_rules
from shared.core.actions import (
    ActionBody,
    ChangeBody,
    FieldEdit,
    ReplyBody,
    apply_action,
    moves_version,
)
from shared.core.directory import CategoryDef
from shared.core.errors import (
    Conflict,
    HelpdeskError,
    NotFound,
    PreconditionFailed,
    StorageFailed,
    StorageUnavailable,
    ValidationFailed,
)
from shared.core.events import TicketEvent
from shared.core.fields import check_edit
from shared.core.lifecycle import Action, NotAllowed, Role, allowed_actions, effective_roles
from shared.core.models import (
    AgentTicketView,
    AttachmentUpload,
    EntryKind,
    LinkKind,
    ThreadEntry,
    Ticket,
)
from shared.core.relations import children, is_merged, links_back, open_children
from shared.sla import flow
from shared.storage.failures import SETTLE_TIMEOUT
from shared.storage.tickets import Stale, StoredTicket
from shared.tickets.actionbodies import (
    SYSTEM_ACTIONS,
    check_references,
    decode_uploads,
    expand_canned,
    for_actor,
    parse_body,
)
from shared.tickets.validation import check_attachments
from shared.tickets.views import version_tag, view_of

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

RETRIES = 40

_ROUNDING = timedelta(microseconds=1)
_VERSION_TAG = re.compile(r'(?:W/)?"v(\d+)"')


@dataclass(frozen=True)
class Precondition:
    """What an `If-Match` asks of the ticket: its agent-visible version (the ETag the API
    hands out, `W/"v<n>"`, compared by value whether or not a proxy weakened it), or
    another tag: the head exactly as read (a storage ETag, which the desk's own jobs send,
    so that they act only on what they decided from). A bulk action may instead name the
    `updated_at` a queue page showed (`shared/tickets/bulk.py`): queue rows carry no
    version, and every version an agent makes moves that time too."""

    version: int | None = None
    exact: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def parse(cls, if_match: str | None) -> Precondition | None:
        """None when nothing is asked (no header, or `*`: the ticket exists)."""
        tag = (if_match or "").strip()
        if not tag or tag == "*":
            return None
        if match := _VERSION_TAG.fullmatch(tag):
            return cls(version=int(match.group(1)))
        return cls(exact=tag)

    def holds(self, stored: StoredTicket) -> bool:
        if self.version is not None:
            return stored.version == self.version
        if self.updated_at is not None:
            # Equal to the microsecond, give or take the one a float timestamp may round
            # off (shared/storage/entities.py reads times through one).
            return abs(stored.ticket.updated_at - self.updated_at) <= _ROUNDING
        return stored.etag == self.exact


def _stale(message: str, current: StoredTicket) -> PreconditionFailed:
    return PreconditionFailed(message, extra={
        "current": view_of(current).model_dump(mode="json"),
        "etag": version_tag(current.version)})


def not_allowed(exc: NotAllowed, roles: frozenset[str]) -> Conflict:
    return Conflict(
        str(exc).capitalize() + ".",
        extra={"current_status": exc.status.value,
               "allowed_actions": [a.value for a in allowed_actions(exc.status, roles)]},
    )


async def act(
    number: str,
    action: Action,
    body: ActionBody,
    *,
    actor: str,
    roles: frozenset[str],
    if_match: str | Precondition | None,
    desk: Helpdesk,
    uploads: list[AttachmentUpload] | None = None,
    entry_data: dict[str, Any] | None = None,
) -> AgentTicketView:
    """Apply one action; returns the ticket as it is afterwards (with its new ETag).

    `if_match` is the `If-Match` header's value, or a `Precondition` already parsed.
    `uploads` are files that came with it other than in the body (an email's
    attachments); `entry_data` is kept on its entry (the channel's details)."""
    body = for_actor(body, actor)
    await check_references(body, desk=desk)
    if isinstance(body, ReplyBody) and body.canned:
        body = await expand_canned(number, body, actor=actor, desk=desk)
    uploads = [*decode_uploads(body), *(uploads or [])]
    check_attachments(uploads, desk.settings)

    precondition = if_match if isinstance(if_match, Precondition) \
        else Precondition.parse(if_match)
    stored_blobs: list[tuple[Any, str]] = []
    writing = False
    try:
        for _attempt in range(RETRIES):
            stored = await _load(number, desk=desk)
            if precondition is not None and not precondition.holds(stored):
                raise _stale("The ticket changed since you read it; here is the current one.",
                             stored)
            if is_merged(stored.ticket) and action is not Action.NOTE:
                raise _merged(stored.ticket, action, roles)
            edit = await _field_edit(stored.ticket, body, desk=desk)
            try:
                ticket, entry = apply_action(stored.ticket, action, body, actor=actor,
                                             roles=roles, now=desk.clock(), field_edit=edit)
                if action in (Action.RESOLVE, Action.CLOSE) and (
                        forced := await _children_done(stored.ticket, body, roles, desk=desk)):
                    entry = entry.model_copy(update={
                        "data": {**entry.data, "forced_open_children": forced}})
                if action not in SYSTEM_ACTIONS or action is Action.REQUESTER_REPLY:
                    ticket, outcome = await apply_rules(ticket, event="update", desk=desk,
                                                        now=entry.at)
                    if outcome.fired:
                        entry_data = {**(entry_data or {}), "rules": outcome.fired}
                if entry_data:
                    entry = entry.model_copy(update={"data": {**entry.data, **entry_data}})
                ticket, sla_events = flow.after_action(stored.ticket, ticket, action,
                                                          entry.at)
                sla_entries = flow.entries_for(sla_events, first_seq=entry.seq + 1)
                ticket = ticket.model_copy(update={"last_seq": entry.seq + len(sla_entries)})
                version = stored.version + (1 if moves_version(action, stored.ticket, ticket)
                                            else 0)
            except NotAllowed as exc:
                raise not_allowed(exc, roles) from None
            if uploads and not stored_blobs:
                stored_blobs = list(await asyncio.gather(*(
                    desk.attachments.put(u, number=number, entry=entry.seq) for u in uploads)))
            attachments = [(info.model_copy(update={"entry": entry.seq}), blob)
                           for info, blob in stored_blobs]
            try:
                writing = True
                etag = await desk.tickets.update(ticket, entry, attachments, etag=stored.etag,
                                                 version=version, more=sla_entries)
                writing = False
            except Stale:
                writing = False
                current = await _load(number, desk=desk)
                if _holds(current, entry):
                    # An earlier try of this very write landed (its answer was lost and
                    # the SDK sent it again): it is done, once.
                    etag, version = current.etag, current.version
                    break
                if precondition is not None and not precondition.holds(current):
                    raise _stale("Another agent changed the ticket at the same moment; "
                                 "here is the current one.", current) from None
                # Someone else won this round, or the desk added a record of its own (an
                # SLA warning) that the caller's version does not count: decide again on
                # the fresh ticket, after a short random pause so the losers do not
                # collide again in lockstep.
                await asyncio.sleep(random.uniform(0, 0.01 * (_attempt + 1)))
                continue
            break
        else:
            raise Conflict("The ticket is changing too fast; try again.",
                           extra={"retry_after": 1})
    except StorageFailed as exc:
        landed = await _confirm(number, entry, desk=desk) if writing else False
        if landed is None:
            # Unknown: the write may yet land, with these blobs. A retry with the same
            # If-Match cannot apply it twice; tools.repair removes blobs nothing uses.
            raise StorageUnavailable("Could not reach storage; the action may not have been "
                                     "applied. Retry with the same If-Match.") from exc
        if landed is False:
            await _discard(stored_blobs, desk=desk)
            raise StorageUnavailable("Could not reach storage; the action was not applied.") \
                from exc
        etag, version = landed.etag, landed.version
    except Exception:
        await _discard(stored_blobs, desk=desk)
        raise

    await _announce(ticket, entry.seq, entry.kind.value, stale=stored.index_keys,
                    escalate=action is Action.ESCALATE, desk=desk)
    after = StoredTicket(
        ticket=ticket,
        thread=[*stored.thread, entry, *sla_entries],
        attachments=[*stored.attachments, *(info for info, _ in attachments)],
        blob_names={**stored.blob_names, **{info.id: blob for info, blob in attachments}},
        index_keys=[], etag=etag, version=version)
    return view_of(after)


async def _field_edit(ticket: Ticket, body: ActionBody, *, desk: Helpdesk) -> FieldEdit | None:
    """A change's fields checked against the definitions of the ticket's category (the new
    one when the same change moves it): 422 naming each bad field."""
    if not isinstance(body, ChangeBody) or not body.fields:
        return None
    category = await desk.directory.get(CategoryDef, body.category or ticket.category)
    values, changes, errors = check_edit(category.fields if category else [], ticket.fields,
                                         body.fields)
    if errors:
        raise ValidationFailed("The change has invalid fields.", errors=errors)
    return values, changes


def _merged(ticket: Ticket, action: Action, roles: frozenset[str]) -> Conflict:
    into = ticket.merged_into or ticket.merging_into
    return Conflict(f"Ticket {ticket.number} was merged into {into}: act on {into} "
                    f"(only notes are added here).",
                    extra={"merged_into": into, "current_status": ticket.status.value,
                           "allowed_actions": [Action.NOTE.value]})


async def _children_done(ticket: Ticket, body: ActionBody, roles: frozenset[str], *,
                         desk: Helpdesk) -> list[str]:
    """A parent is resolved or closed only once its children are done, or when a
    supervisor forces it (`force`: then the children still open, to record). Only links
    both tickets hold count (a half-written one is not a link yet)."""
    kids = children(ticket)
    if not kids:
        return []
    heads = await asyncio.gather(*(desk.tickets.head(kid) for kid in kids))
    still_open = open_children([h for h in heads
                                if h is not None and links_back(h, ticket.number, LinkKind.CHILD)])
    if not still_open:
        return []
    force = bool(getattr(body, "force", False))
    if force and Role.SUPERVISOR in effective_roles(roles):
        return still_open
    why = ("only a supervisor may force it" if force
           else "a supervisor may force it with \"force\": true")
    raise Conflict(f"Ticket {ticket.number} has children that are not done "
                   f"({', '.join(still_open)}): resolve them first, or {why}.",
                   extra={"open_children": still_open, "current_status": ticket.status.value})


def _holds(stored: StoredTicket, entry: ThreadEntry) -> bool:
    """Whether the stored thread has this very entry (same number, kind, author, moment)."""
    return any(e.seq == entry.seq and e.kind == entry.kind and e.actor == entry.actor
               and abs((e.at - entry.at).total_seconds()) < 0.001 for e in stored.thread)


async def _confirm(number: str, entry: ThreadEntry, *, desk: Helpdesk
                   ) -> StoredTicket | Literal[False] | None:
    """After a failed write: the ticket if the entry landed, False if it did not, None if
    storage cannot tell within `SETTLE_TIMEOUT`."""
    try:
        current = await asyncio.wait_for(_load(number, desk=desk), SETTLE_TIMEOUT)
    except (StorageFailed, TimeoutError):
        return None
    return current if _holds(current, entry) else False


async def _load(number: str, *, desk: Helpdesk) -> StoredTicket:
    stored = await desk.tickets.get(number)
    if stored is None:
        raise NotFound(f"No ticket {number}.")
    return stored


async def _discard(blobs: list[tuple[Any, str]], *, desk: Helpdesk) -> None:
    try:
        await asyncio.gather(*(desk.attachments.delete(blob) for _, blob in blobs))
    except StorageFailed:
        log.exception("could not remove blobs of a failed action: %s", blobs)


async def announce(ticket: Ticket, seq: int, kind: str, *, stale: list[str], desk: Helpdesk
                   ) -> None:
    """Index rows and the event of a write made elsewhere (merges and links,
    shared/tickets/relations.py); accepted whatever happens here."""
    await _announce(ticket, seq, kind, stale=stale, escalate=False, desk=desk)


async def _announce(ticket, seq: int, kind: str, *, stale: list[str], escalate: bool,
                    desk: Helpdesk) -> None:
    """Index rows and events; the action is accepted whatever happens here."""
    indexed = False
    try:
        await desk.tickets.write_index(ticket, had=stale)
        indexed = True
    except StorageFailed:
        log.exception("index write for %s failed; its event will repair it", ticket.number)
    event = TicketEvent(ticket=ticket.number, seq=seq, kind=kind, indexed=indexed,
                        stale_index_keys=[] if indexed else stale)
    try:
        await desk.events.publish(event)
        if escalate:
            await desk.escalations.publish(event)
    except StorageFailed:
        log.exception("could not queue event %s", event.id)


REQUESTER = frozenset({"requester"})


async def requester_reply(number: str, text: str, *, requester: str, desk: Helpdesk,
                          uploads: list[AttachmentUpload] | None = None,
                          entry_data: dict[str, Any] | None = None) -> AgentTicketView:
    """The requester answers (portal or email): `pending`/`resolved` go back to `open`."""
    body = parse_body(Action.REQUESTER_REPLY, {"body": text})
    return await act(number, Action.REQUESTER_REPLY, body, actor=requester, roles=REQUESTER,
                     if_match=None, desk=desk, uploads=uploads, entry_data=entry_data)


async def rate(number: str, *, solved: bool, comment: str, requester: str, desk: Helpdesk
               ) -> AgentTicketView:
    """The requester's answer to "did this solve your problem?" on a resolved or closed
    ticket; a second answer replaces the first on the ticket, both stay in the thread."""
    body = parse_body(Action.RATE, {"solved": solved, "comment": comment})
    return await act(number, Action.RATE, body, actor=requester, roles=REQUESTER,
                     if_match=None, desk=desk)


RULES_ACTOR = "rules"


async def rule_reply(number: str, canned_id: str, *, desk: Helpdesk) -> None:
    """Post the canned reply a rule asked for at intake, once however often the created
    event is delivered: the reply records which canned response it was, and it is sent
    only against the version in which it is still missing (a concurrent delivery gets 412
    and then finds it). A reply that is no longer possible (the ticket was resolved
    meanwhile, the canned response deleted) is logged and dropped; storage failures
    propagate, so the event is delivered again."""
    for _attempt in range(3):
        stored = await _load(number, desk=desk)
        if any(e.kind is EntryKind.REPLY and e.data.get("canned_by_rule") == canned_id
               for e in stored.thread):
            return
        try:
            await act(number, Action.REPLY, parse_body(Action.REPLY, {"canned": canned_id}),
                      actor=RULES_ACTOR, roles=frozenset({"agent"}),
                      if_match=version_tag(stored.version), desk=desk,
                      entry_data={"canned_by_rule": canned_id})
            return
        except PreconditionFailed:
            continue
        except StorageFailed:
            raise
        except HelpdeskError as exc:
            log.warning("canned reply %s on %s dropped: %s", canned_id, number, exc.detail)
            return
