"""A ticket's collaborators: the people copied on it besides its requester (`Ticket.cc`).

They come from an email's To and Cc at intake, from agents (`add`, `remove` under the
ticket's version, like any action) and from the requester in the portal; each leaves by
the "stop copying me" link in the emails they get. Every change is one thread entry of
kind `collaborators` (internal: the requester's emails and the portal never show it),
naming the address, who made the change and how (`via`), written with the new head in
one transaction as the agents' actions are (shared/tickets/workflow.py), and it makes a
new version of the ticket. Adding an address that is already there changes nothing;
neither does a "stop copying me" for an address that is no longer there.

An address is kept lower-cased, never the requester's nor one of the desk's own (the
sender, `HELPDESK_MAIL_ADDRESSES`, every fetched mailbox and its reply address), and a
ticket has at most `MAX_COLLABORATORS`.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, TypeAdapter, ValidationError

from shared.core.errors import Conflict, NotFound, ValidationFailed, field_errors
from shared.core.mailboxes import Mailbox
from shared.core.models import AgentTicketView, EntryKind, ThreadEntry
from shared.storage.tickets import Stale, StoredTicket
from shared.tickets.views import view_of
from shared.tickets.workflow import RETRIES, Precondition, _announce, _load, _stale

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

MAX_COLLABORATORS = 20
MAX_ADDRESS = 254  # RFC 5321's limit on a forward path

Via = Literal["email", "agent", "portal", "unsubscribe"]

# What an address taken from mail headers must look like to be copied on our emails: one
# `@`, no spaces, quotes, angle brackets, control characters or encoded words.
_PLAIN = re.compile(r"^[^@\s\"<>(),;:\\\[\]\x00-\x1f\x7f]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)


class CollaboratorBody(BaseModel):
    """What an agent sends to copy someone on a ticket."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=MAX_ADDRESS, description="the address to copy")


def parse_body(raw: object) -> str:
    """The address of a `CollaboratorBody`, parsed; 422 naming the bad field."""
    try:
        body = CollaboratorBody.model_validate(raw or {})
    except ValidationError as exc:
        raise ValidationFailed("The request has invalid fields.",
                               errors=field_errors(exc)) from None
    return parse_address(body.email)


def clean(addresses: Iterable[str], *, exclude: Iterable[str],
          limit: int = MAX_COLLABORATORS) -> list[str]:
    """The addresses to keep as collaborators, in order: lower-cased, plain, once each,
    none of `exclude`, at most `limit`."""
    skip = {a.strip().lower() for a in exclude if a}
    kept: list[str] = []
    for address in addresses:
        address = (address or "").strip().lower()
        if not address or address in skip or address in kept or len(address) > MAX_ADDRESS:
            continue
        if "=?" in address or not _PLAIN.match(address):
            continue
        kept.append(address)
        if len(kept) >= limit:
            break
    return kept


def parse_address(text: object, *, field: str = "email") -> str:
    """A collaborator's address as a person typed it, lower-cased; `ValidationFailed`
    naming `field` if it is not one that mail can be sent to."""
    value = text.strip() if isinstance(text, str) else ""
    problem = None
    if not value:
        problem = "required"
    elif len(value) > MAX_ADDRESS or "=?" in value or not _PLAIN.match(value):
        problem = "not an address mail can be sent to"
    else:
        try:
            _EMAIL.validate_python(value)
        except ValidationError:
            problem = "not an address mail can be sent to"
    if problem:
        raise ValidationFailed("The address is not valid.",
                               errors=[{"field": field, "message": problem}])
    return value.lower()


async def own_addresses(desk: Helpdesk) -> set[str]:
    """The desk's own addresses: never a collaborator (mail to them would come back)."""
    mail = desk.settings.mail
    own = {mail.sender.lower(), *(a.lower() for a in mail.own_addresses)}
    for box in await desk.directory.list(Mailbox):
        own |= {str(a).lower() for a in (box.address, box.reply_from) if a}
    return own


def added_by(stored: StoredTicket, email: str) -> str | None:
    """Who added `email` last (the actor of its latest `collaborators` entry), if anyone
    did after intake."""
    for entry in reversed(stored.thread):
        if entry.kind is EntryKind.COLLABORATORS and entry.data.get("added") == email:
            return entry.actor
    return None


async def add(number: str, email: str, *, actor: str, via: Via, if_match: str | None,
              desk: Helpdesk) -> AgentTicketView:
    """Copy `email` (already parsed) on the ticket; 422 for the requester's or the
    desk's own address, or past `MAX_COLLABORATORS`."""
    own = await own_addresses(desk)

    def change(stored: StoredTicket) -> list[str] | None:
        ticket = stored.ticket
        if email in ticket.cc:
            return None
        problem = None
        if email == ticket.requester_email.lower():
            problem = "the requester gets every public email already"
        elif email in own:
            problem = "the help desk's own address cannot be copied"
        elif len(ticket.cc) >= MAX_COLLABORATORS:
            problem = f"a ticket has at most {MAX_COLLABORATORS} collaborators"
        if problem:
            raise ValidationFailed("This address cannot be added.",
                                   errors=[{"field": "email", "message": problem}])
        return [*ticket.cc, email]

    return await _change(number, change, {"added": email, "via": via}, actor=actor,
                         if_match=if_match, desk=desk)


async def remove(number: str, email: str, *, actor: str, via: Via, if_match: str | None,
                 desk: Helpdesk, missing_ok: bool = False) -> AgentTicketView:
    """Stop copying `email`; 404 if it is not copied (unless `missing_ok`: unchanged)."""

    def change(stored: StoredTicket) -> list[str] | None:
        if email not in stored.ticket.cc:
            if missing_ok:
                return None
            raise NotFound(f"{email} is not copied on ticket {number}.")
        return [a for a in stored.ticket.cc if a != email]

    return await _change(number, change, {"removed": email, "via": via}, actor=actor,
                         if_match=if_match, desk=desk)


async def _change(number: str, change, data: dict[str, str], *, actor: str,
                  if_match: str | None, desk: Helpdesk) -> AgentTicketView:
    """Decide `change` on the ticket as stored and write it with its entry under the
    stored ETag; a lost race is decided again, a stale `If-Match` gets 412."""
    precondition = Precondition.parse(if_match)
    for attempt in range(RETRIES):
        stored = await _load(number, desk=desk)
        if precondition is not None and not precondition.holds(stored):
            raise _stale("The ticket changed since you read it; here is the current one.",
                         stored)
        cc = change(stored)
        if cc is None:
            return view_of(stored)
        now = desk.clock()
        entry = ThreadEntry(seq=stored.ticket.last_seq + 1, kind=EntryKind.COLLABORATORS,
                            at=now, actor=actor, public=False, data=data)
        ticket = stored.ticket.model_copy(update={"cc": cc, "updated_at": now,
                                                  "last_seq": entry.seq})
        try:
            etag = await desk.tickets.update(ticket, entry, [], etag=stored.etag,
                                             version=stored.version + 1)
        except Stale:
            await asyncio.sleep(random.uniform(0, 0.01 * (attempt + 1)))
            continue
        await _announce(ticket, entry.seq, entry.kind.value, stale=stored.index_keys,
                        escalate=False, desk=desk)
        return view_of(StoredTicket(
            ticket=ticket, thread=[*stored.thread, entry], attachments=stored.attachments,
            blob_names=stored.blob_names, index_keys=[], etag=etag,
            version=stored.version + 1))
    raise Conflict("The ticket is changing too fast; try again.", extra={"retry_after": 1})
