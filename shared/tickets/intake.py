"""Intake: turning a submission into a stored ticket, once.

Order of writes, and why:
1. the Idempotency-Key claim (if any), so two retries cannot both create a ticket;
2. attachment blobs, so the ticket never points at a file that is not there;
3. the ticket head, its `created` entry and attachment metadata, in one transaction
   (the moment the ticket exists; everything before it is undone on failure);
4. its queue-index rows and 5. the `created` event on the queue. Failures here do not
   undo the ticket (it is accepted); the event carries what a handler needs to rebuild
   the index rows, and the handler does so before it sends the acknowledgement.

When storage fails, the request answers 503 and the outcome is settled so that nothing
half-written stays visible:
- a failure before step 3, or one after which the ticket is provably absent, undoes
  steps 1–2 (blobs deleted, the key released);
- when the outcome of step 3 is unknown (storage stopped answering mid-write), the key
  stays claimed and the blobs stay: the client's retry with the same Idempotency-Key finds
  the ticket (and completes steps 4–5) or, once the claim is `CLAIM_TIMEOUT` old, takes
  the claim over and writes the ticket under the same number, so a late write of the
  first attempt and the retry can never make two tickets;
- with a key, a lost event also answers 503: the retry queues it (steps 4–5 are
  idempotent). tools.repair settles whatever no retry came back for.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from shared.automation.engine import apply_rules, auto_assign
from shared.core import numbering
from shared.core.directory import CategoryDef
from shared.core.errors import (
    Conflict,
    HelpdeskError,
    StorageFailed,
    StorageUnavailable,
    ValidationFailed,
)
from shared.core.events import TicketEvent
from shared.core.lifecycle import AUTOMATIC, INITIAL, Action, decide
from shared.core.models import (
    AttachmentInfo,
    AttachmentUpload,
    Channel,
    EntryKind,
    ThreadEntry,
    Ticket,
    TicketCreated,
)
from shared.sla import flow
from shared.storage.failures import SETTLE_TIMEOUT
from shared.storage.tickets import NumberTaken, StoredTicket
from shared.tickets.idempotency import CLAIM_TIMEOUT, claim_age, record_key, submission_fingerprint
from shared.tickets.validation import check_attachments, validate_submission

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

NUMBER_ATTEMPTS = 8


def created_answer(ticket: Ticket, attachments: list[AttachmentInfo]) -> TicketCreated:
    return TicketCreated(
        number=ticket.number, status=ticket.status, subject=ticket.subject,
        priority=ticket.priority, category=ticket.category,
        created_at=ticket.created_at, attachments=attachments,
    )


async def submit_ticket(
    raw: Mapping[str, Any],
    uploads: list[AttachmentUpload],
    *,
    desk: Helpdesk,
    channel: Channel = Channel.WEB,
    idempotency_key: str | None = None,
    record: str | None = None,
    actor: str | None = None,
    cc: list[str] | None = None,
    autorespond: bool = True,
    entry_data: dict[str, Any] | None = None,
    team: str | None = None,
    tags: list[str] | None = None,
) -> TicketCreated:
    """Validate, store and announce a new ticket. Raises a `HelpdeskError`.

    `idempotency_key` is a client's Idempotency-Key; `record` a key a channel derived
    itself with `record_key` (the email channel's Message-ID record).
    `actor` is who typed it in when that is not the requester (an agent taking a call);
    `entry_data` is kept on the `created` entry (the channel's own details); with
    `autorespond=False` no acknowledgement is sent. `team` is where the channel sends its
    tickets (a fetched mailbox's team); the rules may still change it. `tags` are the
    channel's own (`sender-not-verified`); the rules see them."""
    settings = desk.settings
    defs = await desk.directory.list(CategoryDef)
    submission = validate_submission(raw, settings, [c.id for c in defs], channel=channel,
                                     definitions={c.id: c.fields for c in defs})
    check_attachments(uploads, settings)
    number = numbering.new_number()
    now = desk.clock()
    draft = Ticket(
        number=number, subject=submission.subject, description=submission.description,
        requester_name=submission.name, requester_email=str(submission.email or "").lower(),
        priority=submission.priority, category=submission.category or "",
        status=INITIAL, channel=channel, created_at=now, updated_at=now, last_seq=1,
        cc=[c.lower() for c in cc or []], phone=getattr(submission, "phone", None),
        team=team, tags=list(tags or []), fields=submission.fields,
    )

    key_hash = record
    if idempotency_key is not None:
        key_hash = record_key("web", idempotency_key)
    if key_hash is not None:
        fingerprint = submission_fingerprint(submission, uploads)
        try:
            prior = await desk.idempotency.claim(key_hash, number=number,
                                                 fingerprint=fingerprint, now=now)
            if prior is not None:
                replayed = await _replay(prior, fingerprint, key_hash, desk=desk)
                if isinstance(replayed, TicketCreated):
                    return replayed
                number = replayed  # a stale claim taken over: its number, written once
        except StorageFailed as exc:
            raise StorageUnavailable("Could not reach storage; nothing was stored.") from exc
    # Marks the ticket as this submission's, so that a write that landed although its
    # answer was lost is recognised as ours, not as another ticket that drew the number.
    submission_id = key_hash or uuid.uuid4().hex

    # After the claim, so a replayed submission neither runs the rules again nor advances
    # a team's round-robin. A spam rule refuses it here, before anything else is written.
    try:
        draft, outcome = await apply_rules(draft, event="intake", desk=desk, now=now)
        draft = await auto_assign(draft, desk=desk)
        if draft.team or draft.assignee:  # assigned by a rule: as an agent's assignment
            draft = draft.model_copy(update={"status": decide(Action.ASSIGN, draft.status,
                                                              AUTOMATIC)})
        draft, sla_events = await flow.start(draft, desk=desk, now=now)
    except HelpdeskError as exc:
        await _undo([], key_hash, desk=desk)
        if isinstance(exc, StorageFailed):
            raise StorageUnavailable("Could not reach storage; nothing was stored.") from exc
        raise
    sla_entries = flow.entries_for(sla_events, first_seq=2)
    draft = draft.model_copy(update={"last_seq": 1 + len(sla_entries)})

    blobs: list[str] = []
    writing = False
    try:
        stored = await asyncio.gather(
            *(desk.attachments.put(u, number=number, entry=1) for u in uploads)
        )
        blobs = [blob for _, blob in stored]
        for attempt in range(NUMBER_ATTEMPTS):
            ticket = draft.model_copy(update={"number": number})
            created = ThreadEntry(
                seq=1, kind=EntryKind.CREATED, at=now,
                actor=actor or ticket.requester_email or ticket.requester_name,
                public=True, body=ticket.description,
                data={"channel": channel.value, "subject": ticket.subject,
                      "autorespond": autorespond and bool(ticket.requester_email),
                      "submission": submission_id,
                      **({"rules": outcome.fired} if outcome.fired else {}),
                      # Replies the rules asked for: sent by the created event's handler
                      # (shared/notifications/notify.py), like every other side effect.
                      **({"canned_replies": outcome.canned_replies}
                         if outcome.canned_replies else {}),
                      **(entry_data or {})},
            )
            try:
                writing = True
                await desk.tickets.create(ticket, [created, *sla_entries], list(stored))
                break
            except NumberTaken:
                mine = await _submitted(number, submission_id, desk=desk)
                if mine is not None:
                    # Written by this submission already (an earlier attempt whose answer
                    # was lost): that ticket is the answer, not a second one.
                    ticket = mine.ticket
                    await _delete_blobs(blobs, desk=desk)
                    stored = [(info, mine.blob_names[info.id]) for info in mine.attachments]
                    break
                if attempt == NUMBER_ATTEMPTS - 1:
                    raise
                number = numbering.new_number()
                if key_hash:
                    await desk.idempotency.repoint(key_hash, number)
    except (StorageFailed, NumberTaken) as exc:
        log.warning("intake failed before the ticket was known stored: %s", exc)
        landed = await _settle(writing, number, submission_id, desk=desk)
        if landed is None:
            # Unknown: the write may still land. The key stays claimed and the blobs stay
            # for the retry or tools.repair to settle; nothing is visible until then.
            raise StorageUnavailable("Could not store the ticket; please try again with the "
                                     "same Idempotency-Key.") from exc
        if landed is False:
            await _undo(blobs, key_hash, desk=desk)
            raise StorageUnavailable("Could not store the ticket; nothing was stored. "
                                     "Please try again.") from exc
        ticket = landed.ticket

    announced = await _announce(ticket, desk=desk)
    if key_hash:
        if not announced:
            raise StorageUnavailable("The ticket was stored but could not be announced; "
                                     "please try again with the same Idempotency-Key.")
        await _finish(key_hash, desk=desk)
    return created_answer(ticket, [info for info, _ in stored])


async def _submitted(number: str, submission_id: str, *, desk: Helpdesk) -> StoredTicket | None:
    """Ticket `number` if this submission wrote it (its created entry says so)."""
    found = await desk.tickets.get(number)
    if found is None:
        return None
    first = next((e for e in found.thread if e.kind == EntryKind.CREATED), None)
    return found if first is not None and first.data.get("submission") == submission_id \
        else None


async def _settle(writing: bool, number: str, submission_id: str, *, desk: Helpdesk
                  ) -> StoredTicket | Literal[False] | None:
    """After a failure: the ticket if the write landed after all, False if it provably
    did not, None if storage cannot tell (bounded, so the request still ends soon)."""
    if not writing:
        return False
    try:
        found = await asyncio.wait_for(_submitted(number, submission_id, desk=desk),
                                       SETTLE_TIMEOUT)
    except (StorageFailed, TimeoutError):
        return None
    return found if found is not None else False


async def _finish(key_hash: str, *, desk: Helpdesk) -> None:
    try:
        await desk.idempotency.finish(key_hash)
    except StorageFailed:
        # A retry then queues the created event again: harmless (handlers are idempotent).
        log.warning("could not mark idempotency claim %s done", key_hash[:12])


async def _announce(ticket: Ticket, *, desk: Helpdesk) -> bool:
    """Index and event: the ticket is accepted whatever happens here. False if the event
    could not be queued (then nothing would acknowledge the ticket: the caller retries,
    or tools.repair queues it)."""
    indexed = False
    try:
        await desk.tickets.write_index(ticket, had=[])
        indexed = True
    except StorageFailed:
        log.exception("index write for %s failed; the created event will repair it",
                      ticket.number)
    event = TicketEvent(ticket=ticket.number, seq=1, kind=EntryKind.CREATED.value,
                        indexed=indexed)
    try:
        await desk.events.publish(event)
    except StorageFailed:
        log.exception("could not queue the created event of %s", ticket.number)
        return False
    return True


async def announce_created(ticket: Ticket, *, desk: Helpdesk) -> bool:
    """Write the index rows and queue the created event again (tools.repair)."""
    return await _announce(ticket, desk=desk)


async def _delete_blobs(blobs: list[str], *, desk: Helpdesk) -> None:
    try:
        await asyncio.wait_for(asyncio.gather(*(desk.attachments.delete(b) for b in blobs)),
                               SETTLE_TIMEOUT)
    except (StorageFailed, TimeoutError):
        log.exception("could not delete blobs %s; tools.repair removes them", blobs)


async def _undo(blobs: list[str], key_hash: str | None, *, desk: Helpdesk) -> None:
    await _delete_blobs(blobs, desk=desk)
    if key_hash:
        try:
            await asyncio.wait_for(desk.idempotency.release(key_hash), SETTLE_TIMEOUT)
        except (StorageFailed, TimeoutError):
            log.exception("could not release idempotency claim %s; tools.repair does",
                          key_hash[:12])


async def _replay(prior: dict[str, Any], fingerprint: str, key_hash: str, *, desk: Helpdesk
                  ) -> TicketCreated | str:
    """The answer for a key claimed before: its ticket (completing its announcement if
    that was cut short), or the claim's number to write the ticket under when the claim
    is stale and no ticket exists; 409 with Retry-After while its request may still run."""
    if prior.get("fingerprint") != fingerprint:
        raise ValidationFailed(
            "This Idempotency-Key was already used for a different submission.",
            errors=[{"field": "Idempotency-Key", "message": "reused with a different body"}],
        )
    stored = await desk.tickets.get(prior["number"])
    if stored is not None:
        if prior.get("state") == "claimed":
            if not await _announce(stored.ticket, desk=desk):
                raise StorageUnavailable("The ticket was stored but could not be announced; "
                                         "please try again with the same Idempotency-Key.")
            await _finish(key_hash, desk=desk)
        return created_answer(stored.ticket, stored.attachments)
    age = claim_age(prior, desk.clock())
    if age is not None and age >= CLAIM_TIMEOUT \
            and await desk.idempotency.take_over(key_hash, prior, now=desk.clock()):
        return str(prior["number"])
    wait = 1 if age is None else max(1, min(10, int((CLAIM_TIMEOUT - age).total_seconds()) + 1))
    raise Conflict(
        "A submission with this Idempotency-Key is still being processed; retry shortly.",
        extra={"retry_after": wait},
    )
