"""The requester portal's service: emailing links on request, spending a link's one-time
code, and what a session's holder may see and do with its ticket (read the public
thread, answer, rate the resolution).

"Check a ticket" never tells whether a number belongs to an address: the request only
queues a `LinkRequest`, and the queue handler (`send_link`) looks the pair up and emails
the link if it matches, so neither the answer nor its timing differs.

Answers through the portal are limited per ticket: `REPLIES_PER_HOUR` messages an hour
(whoever holds a session could otherwise flood the agents' queue and mailboxes) and, with
the files already on the ticket, `attachments_per_ticket` files in all.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.core.directory import Agent, CategoryDef
from shared.core.errors import Forbidden, NotFound, ValidationFailed
from shared.core.events import LinkRequest
from shared.core.fields import as_text, public_values
from shared.core.lifecycle import Action, Role, Status, is_closed, may
from shared.core.links import PortalGrant
from shared.core.models import AgentTicketView, AttachmentInfo, AttachmentUpload, EntryKind, Ticket
from shared.notifications.notify import send_portal_link
from shared.storage.ratelimit import TooManyRequests
from shared.storage.tickets import StoredTicket
from shared.tickets import collaborators, workflow

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

REPLIES_PER_HOUR = 20  # portal messages on one ticket; a person answering writes a few

# Entries the portal shows, and only when they are public: never notes, assignments,
# escalations, SLA events or sent-mail records.
PORTAL_KINDS = frozenset({
    EntryKind.CREATED, EntryKind.MESSAGE, EntryKind.REPLY, EntryKind.INFO_REQUESTED,
    EntryKind.RESOLVED, EntryKind.CLOSED, EntryKind.REOPENED, EntryKind.REMINDER,
    EntryKind.RATED, EntryKind.MERGED_INTO,
})
FROM_REQUESTER = frozenset({EntryKind.CREATED, EntryKind.MESSAGE, EntryKind.RATED})

STATUS_WORDS = {
    Status.NEW: "Received: waiting for an agent to pick it up",
    Status.OPEN: "Open: we are working on it",
    Status.PENDING: "Waiting for your answer",
    Status.ESCALATED: "Open: a specialist team is working on it",
    Status.RESOLVED: "Resolved",
    Status.CLOSED: "Closed",
}


# -- "check a ticket" ---------------------------------------------------------------


async def request_link(number: str, email: str, *, desk: Helpdesk) -> None:
    """Queue the lookup; the caller answers the same whatever the pair."""
    number, email = number.strip().replace(" ", ""), email.strip().lower()
    if not number or len(number) > 20 or "@" not in email or len(email) > 320:
        return  # nothing could match; still the same answer
    await desk.portal_links.publish(LinkRequest(id=uuid.uuid4().hex, number=number,
                                                email=email))


async def send_link(request: LinkRequest, *, desk: Helpdesk) -> bool:
    """Email the link if `number` is a ticket of `email`; True if it was sent (or had been)."""
    email = request.email.strip().lower()
    stored = await desk.tickets.get(request.number) if request.number.isdigit() else None
    if stored is None or not is_participant(stored, email):
        log.info("portal link request %s: no matching ticket; nothing sent", request.id)
        return False
    try:
        # Per address, so that a flood of requests cannot fill one mailbox.
        await desk.link_limit.hit(email, desk.clock())
    except TooManyRequests:
        log.warning("portal link request %s: too many links for one address this hour",
                    request.id)
        return False
    await send_portal_link(stored, request.id, desk=desk, email=email)
    return True


# -- spending a link's code ------------------------------------------------------------


async def code_spent(grant: PortalGrant, *, desk: Helpdesk) -> bool:
    return await desk.spent_codes.is_spent(grant.code_id)


async def spend_code(grant: PortalGrant, *, desk: Helpdesk) -> bool:
    """Spend the link's code; False if it was spent before (the link opens nothing now)."""
    return await desk.spent_codes.spend(grant.code_id, number=grant.number, at=desk.clock())


async def renew_link(grant: PortalGrant, *, desk: Helpdesk) -> None:
    """A spent or expired link asks for a new one: emailed to the ticket's requester, never
    shown to whoever holds the old link, and limited per address like any other."""
    await request_link(grant.number, grant.email, desk=desk)


# -- the requester's view -----------------------------------------------------------


@dataclass
class PortalEntry:
    seq: int
    kind: EntryKind
    at: str
    who: str
    mine: bool
    body: str
    label: str
    attachments: list[AttachmentInfo] = field(default_factory=list)
    solved: bool | None = None


@dataclass
class PortalCollaborator:
    email: str
    removable: bool  # by the viewer: the requester's own additions, or the viewer


@dataclass
class PortalView:
    ticket: Ticket
    status_words: str
    entries: list[PortalEntry]
    can_reply: bool
    can_rate: bool
    viewer: str = ""
    is_requester: bool = True
    collaborators: list[PortalCollaborator] = field(default_factory=list)
    can_add: bool = False
    details: list[tuple[str, str]] = field(default_factory=list)  # requester fields shown


def is_requester(stored: StoredTicket, email: str) -> bool:
    return stored.ticket.requester_email.strip().lower() == email


def is_participant(stored: StoredTicket, email: str) -> bool:
    """The requester, or an address copied on the ticket (a collaborator)."""
    return is_requester(stored, email) or email in stored.ticket.cc


async def open_ticket(grant: PortalGrant, *, desk: Helpdesk) -> StoredTicket:
    """The ticket a valid link names, if the link's address still takes part in it."""
    stored = await desk.tickets.get(grant.number)
    if stored is None:
        raise NotFound("This ticket no longer exists.")
    if not is_participant(stored, grant.email):
        raise Forbidden("This link no longer matches the ticket's requester or anyone "
                        "copied on it.")
    return stored


_LABELS = {
    EntryKind.CREATED: "Your request", EntryKind.MESSAGE: "You wrote",
    EntryKind.REPLY: "Answer", EntryKind.INFO_REQUESTED: "We asked for more information",
    EntryKind.RESOLVED: "Resolved", EntryKind.CLOSED: "Closed",
    EntryKind.REOPENED: "Reopened", EntryKind.REMINDER: "Reminder",
    EntryKind.RATED: "Your rating", EntryKind.MERGED_INTO: "Merged",
}


async def portal_view(stored: StoredTicket, *, desk: Helpdesk, viewer: str | None = None
                      ) -> PortalView:
    """The ticket as `viewer` (the requester by default, or a collaborator) sees it: the
    public thread, their own messages as "You", who is copied, and the values of the
    category's requester fields (the ticket it carries holds no others)."""
    category = await desk.directory.get(CategoryDef, stored.ticket.category)
    defs = category.fields if category else []
    ticket = stored.ticket.model_copy(update={"fields": public_values(defs, stored.ticket.fields)})
    details = [(d.label, as_text(ticket.fields[d.id])) for d in defs if d.id in ticket.fields]
    requester_email = ticket.requester_email.strip().lower()
    viewer = viewer or requester_email
    requester = viewer == requester_email
    names = {a.id: a.name for a in await desk.directory.list(Agent)}
    files: dict[int, list[AttachmentInfo]] = {}
    for info in stored.attachments:
        files.setdefault(info.entry, []).append(info)
    entries = []
    for e in stored.thread:
        if not e.public or e.kind not in PORTAL_KINDS:
            continue
        # The requester's side: their request and rating, and messages, theirs or a
        # collaborator's (whose actor is the collaborator's address).
        author = e.actor.lower() if e.kind is EntryKind.MESSAGE else requester_email
        mine = e.kind in FROM_REQUESTER and author == viewer
        label = _LABELS[e.kind]
        who = names.get(e.actor, desk.settings.helpdesk_name)
        if mine:
            who = "You"
        elif e.kind in FROM_REQUESTER:
            who = ticket.requester_name if author == requester_email else e.actor
            label = {EntryKind.CREATED: "The request", EntryKind.MESSAGE: "Wrote",
                     EntryKind.RATED: "Rating"}[e.kind]
        entries.append(PortalEntry(
            seq=e.seq, kind=e.kind, at=e.at.strftime("%Y-%m-%d %H:%M UTC"),
            who=who, mine=mine, body=e.body, label=label, attachments=files.get(e.seq, []),
            solved=e.data.get("solved") if e.kind is EntryKind.RATED else None))
    roles = {Role.REQUESTER.value}
    people = [PortalCollaborator(email=a, removable=a == viewer or (
        requester and collaborators.added_by(stored, a) == viewer)) for a in ticket.cc]
    return PortalView(ticket=ticket, status_words=STATUS_WORDS[ticket.status], entries=entries,
                      can_reply=may(Action.REQUESTER_REPLY, ticket.status, roles),
                      can_rate=requester and may(Action.RATE, ticket.status, roles),
                      viewer=viewer, is_requester=requester, collaborators=people,
                      can_add=requester and not is_closed(ticket.status)
                      and len(ticket.cc) < collaborators.MAX_COLLABORATORS, details=details)


def public_attachment(stored: StoredTicket, attachment_id: str) -> AttachmentInfo:
    """An attachment of one of the ticket's public entries, or `NotFound`."""
    public = {e.seq for e in stored.thread if e.public and e.kind in PORTAL_KINDS}
    for info in stored.attachments:
        if info.id == attachment_id and info.entry in public:
            return info
    raise NotFound("No such attachment on this request.")


async def reply(grant: PortalGrant, text: str, uploads: list[AttachmentUpload], *,
                desk: Helpdesk) -> AgentTicketView:
    """The requester's message; refused before anything is written when it would take the
    ticket past its files (422) or past `REPLIES_PER_HOUR` (429 with `retry_after`)."""
    limit = desk.settings.limits.attachments_per_ticket
    if uploads:
        # Checked on the ticket as read; two replies racing could pass together, which
        # the hourly limit below bounds.
        stored = await open_ticket(grant, desk=desk)
        if len(stored.attachments) + len(uploads) > limit:
            have = len(stored.attachments)
            raise ValidationFailed(
                f"A request can carry at most {limit} files; this one has {have} "
                f"already, so {max(0, limit - have)} more can be added.",
                errors=[{"field": "attachments",
                         "message": f"{have} + {len(uploads)} files; at most {limit} "
                                    "per ticket"}])
    try:
        await desk.portal_reply_limit.hit(grant.number, desk.clock())
    except TooManyRequests as error:
        wait = int(error.extra.get("retry_after", 3600))
        raise TooManyRequests(
            f"At most {REPLIES_PER_HOUR} messages an hour can be added to one request "
            f"here; try again in {wait // 60 + 1} minutes, or answer our email.",
            extra=error.extra) from None
    return await workflow.requester_reply(grant.number, text, requester=grant.email,
                                          uploads=uploads, entry_data={"channel": "portal"},
                                          desk=desk)


async def rate(grant: PortalGrant, *, solved: bool, comment: str, desk: Helpdesk
               ) -> AgentTicketView:
    """Only the requester says whether the resolution solved their problem."""
    if not is_requester(await open_ticket(grant, desk=desk), grant.email):
        raise Forbidden("Only the person who made the request can rate its resolution.")
    return await workflow.rate(grant.number, solved=solved, comment=comment,
                               requester=grant.email, desk=desk)


# -- collaborators -----------------------------------------------------------------


async def add_collaborator(grant: PortalGrant, text: str, *, desk: Helpdesk
                           ) -> AgentTicketView:
    """The requester copies a colleague on their request (collaborators can only leave).
    Counted with the portal's messages, so that adding and removing cannot flood the
    thread either."""
    email = collaborators.parse_address(text)
    stored = await open_ticket(grant, desk=desk)
    if not is_requester(stored, grant.email):
        raise Forbidden("Only the person who made the request can copy others on it.")
    if is_closed(stored.ticket.status):
        raise Forbidden("This request is closed.")
    await _count_portal_change(grant, desk=desk)
    return await collaborators.add(grant.number, email, actor=grant.email, via="portal",
                                   if_match=None, desk=desk)


async def remove_collaborator(grant: PortalGrant, text: str, *, desk: Helpdesk
                              ) -> AgentTicketView:
    """A collaborator leaves, or the requester removes one they added themselves."""
    email = str(text or "").strip().lower()
    stored = await open_ticket(grant, desk=desk)
    if email not in stored.ticket.cc:
        raise NotFound(f"{email or 'That address'} is not copied on this request.")
    if email != grant.email and not (is_requester(stored, grant.email) and
                                     collaborators.added_by(stored, email) == grant.email):
        raise Forbidden("You can remove only the people you added yourself.")
    await _count_portal_change(grant, desk=desk)
    return await collaborators.remove(grant.number, email, actor=grant.email, via="portal",
                                      if_match=None, desk=desk)


async def _count_portal_change(grant: PortalGrant, *, desk: Helpdesk) -> None:
    try:
        await desk.portal_reply_limit.hit(grant.number, desk.clock())
    except TooManyRequests as error:
        wait = int(error.extra.get("retry_after", 3600))
        raise TooManyRequests(
            f"At most {REPLIES_PER_HOUR} changes an hour can be made to one request here; "
            f"try again in {wait // 60 + 1} minutes.", extra=error.extra) from None


async def stop_copying(grant: PortalGrant, *, desk: Helpdesk) -> bool:
    """The "stop copying me" link: the address leaves the ticket's collaborators (it may
    have left already); False if the ticket is gone."""
    if await desk.tickets.get(grant.number) is None:
        return False
    await collaborators.remove(grant.number, grant.email, actor=grant.email,
                               via="unsubscribe", if_match=None, desk=desk, missing_ok=True)
    return True
