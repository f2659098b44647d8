"""Turning ticket events into emails (the queue handlers' service).

At-least-once delivery means a message may arrive twice. Each email is keyed by the
event that caused it (`mail-<seq>-<purpose>` in the ticket's partition): once that
record says sent, a redelivery sends nothing. The Message-ID is derived from the same
key, so even the rare duplicate (a crash between sending and recording) carries the
same Message-ID, which mail clients collapse into one message. A send that fails
certainly undelivered gives its claim back; one that may have been delivered (the
connection broke while the server took it) is recorded as sent, not sent twice. Every email to the
requester threads onto the ones before it (`In-Reply-To`, `References`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shared.core import telemetry
from shared.core.directory import Agent, Team
from shared.core.errors import NotFound, StorageFailed
from shared.core.events import TicketEvent
from shared.core.links import link_for, stop_link_for
from shared.core.models import EntryKind, ThreadEntry, Ticket
from shared.core.settings import Settings
from shared.kb import knowledge
from shared.mail import messageids
from shared.mail.compose import REPLY_MARKER, compose
from shared.mail.mailer import MailError
from shared.reports import summaries
from shared.storage.ratelimit import RateLimiter
from shared.storage.tickets import StoredTicket
from shared.tickets import workflow
from shared.webhooks import delivery as webhooks

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

# How long a claim to send an email holds before another handler may take it over: longer
# than one SMTP delivery (its timeout is 20 s) and the recording after it (`_record`).
CLAIM_TIMEOUT = timedelta(seconds=60)
BUSY_WAIT = CLAIM_TIMEOUT.total_seconds() + 10
BUSY_POLL = 2.0


class MailInProgress(Exception):
    """Another handler is sending this email now; the queue retries the message later."""


@dataclass(frozen=True)
class RequesterMail:
    purpose: str
    intro: str
    outro: str = ""


REQUESTER_MAILS: dict[EntryKind, RequesterMail] = {
    EntryKind.REPLY: RequesterMail("reply", "{actor} answered your request:"),
    EntryKind.INFO_REQUESTED: RequesterMail(
        "info", "We need a little more information to go on with your request:",
        "Please reply to this email with the answer; until then the ticket waits for you."),
    EntryKind.RESOLVED: RequesterMail(
        "resolved", "We have resolved your request. This is what we did:",
        "If this did not solve your problem, just reply to this email and the ticket "
        "opens again."),
    EntryKind.REMINDER: RequesterMail(
        "reminder", "We are still waiting for your answer on this request:",
        "If we do not hear from you, we will resolve the request in {resolve_days} days. "
        "Just reply to this email to keep it open."),
    EntryKind.CLOSED: RequesterMail(
        "closed", "Your request is now closed.",
        "If you need more help with it, reply to this email."),
    # Once per merge: the entry that closes the duplicate (shared/tickets/relations.py).
    EntryKind.MERGED_INTO: RequesterMail(
        "merged", "Your request was merged into another request about the same thing, "
        "where we go on with it:",
        "Replies to this email reach that request."),
}


# Emails that went to the requester: the ones a new one threads onto.
REQUESTER_PURPOSES = {"ack", *(m.purpose for m in REQUESTER_MAILS.values())}


@dataclass(frozen=True)
class Copy:
    """How one participant's copy of a requester email looks: the To and Cc every copy
    shows, and headers of its own (a collaborator's List-Unsubscribe)."""

    to: list[str]
    cc: list[str]
    headers: dict[str, str] | None = None


def copy_purpose(purpose: str, address: str) -> str:
    """The record (and Message-ID) of a collaborator's copy of the email `purpose`."""
    return f"{purpose}-cc-{hashlib.sha256(address.encode()).hexdigest()[:12]}"


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("shared.notifications", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def message_id(number: str, seq: int, purpose: str, settings: Settings) -> str:
    """The email's Message-ID: signed, so that only we can make one a reply threads on
    (shared/mail/messageids.py)."""
    return messageids.make(number, seq, purpose, settings=settings)


def _render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    env = _templates()
    return (env.get_template(f"{name}.txt.j2").render(context),
            env.get_template(f"{name}.html.j2").render(context))


async def _load(event: TicketEvent, *, desk: Helpdesk) -> StoredTicket:
    stored = await desk.tickets.get(event.ticket)
    if stored is None:
        raise NotFound(f"ticket {event.ticket} of event {event.id} does not exist")
    return stored


async def handle_event(event: TicketEvent, *, desk: Helpdesk) -> None:
    """Write the ticket's index rows if the request could not (and a new ticket's search
    words), send the email the event
    calls for (and, for a new ticket, the replies its rules asked for), note a resolution
    in the search log, then bring the daily reports up to date with the ticket."""
    stored = await _load(event, desk=desk)
    if not event.indexed:
        await desk.tickets.write_index(stored.ticket, had=event.stale_index_keys)
    if event.kind == EntryKind.CREATED.value:
        # The search words: written here, once, off the intake request (rewriting them
        # on a repeated delivery changes nothing).
        await desk.tickets.write_words(stored.ticket)
    entry = next((e for e in stored.thread
                  if e.seq == event.seq and e.kind != EntryKind.EMAIL_SENT), None)
    if entry is not None:
        # Before the emails: a webhook's receiver need not wait on the mail server.
        await webhooks.fan_out(stored, entry, desk=desk)
    await _mail_for(event, stored, desk=desk)
    if event.kind == EntryKind.CREATED.value:
        await _rule_replies(stored, desk=desk)
    if entry is not None:
        await knowledge.record_resolution(stored, entry, desk=desk)
    await summaries.fold(stored, desk=desk)


async def _rule_replies(stored: StoredTicket, *, desk: Helpdesk) -> None:
    """The canned replies the rules asked for at intake, after the acknowledgement."""
    created = next((e for e in stored.thread if e.kind == EntryKind.CREATED), None)
    for canned_id in (created.data.get("canned_replies") or []) if created else []:
        await workflow.rule_reply(stored.ticket.number, str(canned_id), desk=desk)


async def _mail_for(event: TicketEvent, stored: StoredTicket, *, desk: Helpdesk) -> None:
    if event.kind == EntryKind.CREATED.value:
        created = next((e for e in stored.thread if e.kind == EntryKind.CREATED), None)
        if created is not None and created.data.get("autorespond", True):
            await send_acknowledgement(stored, seq=event.seq, desk=desk)
        return
    entry = next((e for e in stored.thread
                  if e.seq == event.seq and e.kind != EntryKind.EMAIL_SENT), None)
    if entry is not None and entry.kind in REQUESTER_MAILS:
        await send_requester_update(stored, entry, desk=desk)
    if entry is not None and entry.kind == EntryKind.SLA and \
            entry.data.get("event") in ("sla_warning", "sla_breached"):
        await send_sla_alert(stored, entry, desk=desk)
    if entry is not None and entry.kind == EntryKind.ASSIGNED and entry.data.get("agent") \
            and entry.data.get("agent") != entry.actor:
        await send_assignment(stored, entry, desk=desk)


async def _send_once(stored: StoredTicket, seq: int, purpose: str, *, to: list[str],
                     subject: str, text: str, html: str, desk: Helpdesk,
                     thread: bool, limit: RateLimiter | None = None,
                     copy: Copy | None = None) -> None:
    """Send one email once. With `copy`, the message shows `copy.to` and `copy.cc` as its
    To and Cc and goes to `to` alone (each participant of a ticket gets their own)."""
    number = stored.ticket.number
    # The partition read that loaded `stored` also brought every sent-mail record.
    if any(e.kind == EntryKind.EMAIL_SENT and e.seq == seq and e.data.get("purpose") == purpose
           for e in stored.thread):
        log.info("mail %s for %s #%d already sent; redelivery ignored", purpose, number, seq)
        return
    # Two deliveries at once (a lease that ran out, a replay beside a retry): only the one
    # holding the claim sends; the other tries again later and then finds it sent.
    # A claim left by a handler that died (or whose storage stopped answering) before it
    # recorded anything is taken over once stale: wait for that here rather than fail
    # every delivery of the message into the poison queue meanwhile.
    waited = 0.0
    while (claim := await desk.tickets.claim_mail(number, seq, purpose, now=desk.clock(),
                                                  stale_after=CLAIM_TIMEOUT)) == "busy":
        if waited >= BUSY_WAIT:
            raise MailInProgress(f"mail {purpose} for {number} #{seq} is being sent by "
                                 "another handler; retrying later")
        await asyncio.sleep(BUSY_POLL)
        waited += BUSY_POLL
    if claim == "sent":
        return
    if limit is not None and not await limit.take(to[0], desk.clock()):
        # Counted once the claim is ours, so a redelivery does not count it again.
        log.info("mail %s for %s #%d not sent: %s has had its hourly limit", purpose,
                 number, seq, to[0])
        await _record(number, seq, purpose, desk=desk, to=", ".join(to),
                      subject=f"(not sent: the hourly limit of emails to this address was "
                              f"reached) {subject}",
                      message_id="", sent_at=desk.clock(), skipped="rate-limit")
        return
    earlier = [e.data["message_id"] for e in stored.thread
               if e.kind == EntryKind.EMAIL_SENT and e.data.get("purpose") in REQUESTER_PURPOSES
               and e.data.get("message_id")] if thread else []
    mid = message_id(number, seq, purpose, desk.settings)
    # A ticket from a fetched mailbox is answered from that mailbox (its reply_from).
    reply_to = next((e.data.get("reply_to") for e in stored.thread
                     if e.kind == EntryKind.CREATED), None)
    message = compose(settings=desk.settings.mail,
                      to=", ".join(copy.to if copy else to), subject=subject,
                      text=text, html=html, message_id=mid,
                      in_reply_to=earlier[-1] if earlier else None,
                      references=earlier or None, reply_to=reply_to,
                      cc=copy.cc if copy else None, headers=copy.headers if copy else None)
    unconfirmed = False
    with telemetry.span("mail.send", attributes={"helpdesk.ticket": number,
                                                 "helpdesk.mail.purpose": purpose}):
        try:
            if copy is not None:
                await desk.mailer.send(message, recipients=to)
            else:
                await desk.mailer.send(message)
        except MailError as exc:
            if not exc.maybe_sent:
                # Certainly not sent: give the claim back, so the retry sends at once.
                await desk.tickets.release_mail(number, seq, purpose)
                raise
            # The server may have taken it (the connection broke mid-transfer). Sending
            # again could give the recipient two; this email is counted as sent instead.
            log.warning("mail %s for %s #%d may or may not have been delivered (%s); "
                        "not sending it again", purpose, number, seq, exc)
            unconfirmed = True
    await _record(number, seq, purpose, desk=desk, to=", ".join(to), subject=subject,
                  message_id=mid, sent_at=desk.clock(),
                  **({"unconfirmed": True} if unconfirmed else {}))


# A failed record after a delivered email would, after `CLAIM_TIMEOUT`, send it again:
# the record is retried for a while first (storage that stopped answering comes back).
RECORD_TRIES = 6


async def _record(number: str, seq: int, purpose: str, *, desk: Helpdesk, **props: Any
                  ) -> None:
    for attempt in range(RECORD_TRIES):
        try:
            await desk.tickets.record_mail(number, seq, purpose, **props)
            return
        except StorageFailed:
            if attempt == RECORD_TRIES - 1:
                raise
            log.warning("could not record mail %s for %s #%d; trying again", purpose,
                        number, seq)
            await asyncio.sleep(min(2 ** attempt, 8))


def portal_link(ticket: Ticket, *, desk: Helpdesk, email: str | None = None) -> str:
    """The signed link every email to the requester (or to `email`, a collaborator)
    carries (shared/core/links.py)."""
    return link_for(ticket.number, email or ticket.requester_email, settings=desk.settings,
                    now=desk.clock())


async def send_acknowledgement(stored: StoredTicket, *, seq: int, desk: Helpdesk) -> None:
    ticket = stored.ticket
    text, html = _render("acknowledgement", {
        "ticket": ticket, "attachments": stored.attachments,
        "helpdesk_name": desk.settings.helpdesk_name, "marker": REPLY_MARKER,
        "portal_link": portal_link(ticket, desk=desk)})
    # Anyone can type anyone's address into the form: past a few an hour, the ticket is
    # still created but that address is not sent more of a stranger's text (backscatter).
    await _send_once(stored, seq, "ack", to=[ticket.requester_email],
                     subject=f"[#{ticket.number}] {ticket.subject}", text=text, html=html,
                     desk=desk, thread=False, limit=desk.ack_limit)


async def send_requester_update(stored: StoredTicket, entry: ThreadEntry, *,
                                desk: Helpdesk) -> None:
    ticket = stored.ticket
    if not ticket.requester_email:
        return  # a caller who left only a phone number
    kind = REQUESTER_MAILS[entry.kind]
    actor = entry.actor
    if agent := await desk.directory.get(Agent, entry.actor):
        actor = agent.name
    context = {
        "ticket": ticket, "intro": kind.intro.format(actor=actor), "body": entry.body,
        "outro": kind.outro.format(resolve_days=entry.data.get("resolve_days", "a few")),
        "helpdesk_name": desk.settings.helpdesk_name, "marker": REPLY_MARKER,
        "portal_link": portal_link(ticket, desk=desk), "stop_link": None}
    subject = f"Re: [#{ticket.number}] {ticket.subject}"
    text, html = _render("update", context)
    # The requester's copy shows the collaborators on Cc; each of them gets a copy of
    # their own, with their own portal link and a link to stop being copied.
    shown = Copy(to=[ticket.requester_email], cc=list(ticket.cc)) if ticket.cc else None
    await _send_once(stored, entry.seq, kind.purpose, to=[ticket.requester_email],
                     subject=subject, text=text, html=html, desk=desk, thread=True,
                     copy=shown)
    whose = f"the request of {ticket.requester_name}"
    for address in ticket.cc:
        stop = stop_link_for(ticket.number, address, settings=desk.settings, now=desk.clock())
        intro = kind.intro.format(actor=actor)
        text, html = _render("update", {
            **context, "intro": intro.replace("your request", whose)
                                     .replace("Your request", whose.capitalize()),
            "portal_link": portal_link(ticket, desk=desk, email=address), "stop_link": stop})
        assert shown is not None
        await _send_once(stored, entry.seq, copy_purpose(kind.purpose, address),
                         to=[address], subject=subject, text=text, html=html, desk=desk,
                         thread=True, copy=Copy(to=shown.to, cc=shown.cc, headers={
                             "List-Unsubscribe": f"<{stop}>",
                             "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}))


async def send_portal_link(stored: StoredTicket, request_id: str, *, desk: Helpdesk,
                           email: str | None = None) -> None:
    """The answer to "check a ticket": a fresh link, once per request (`request_id`), to
    the requester or to `email` (a collaborator), for that address."""
    ticket = stored.ticket
    to = email or ticket.requester_email
    text, html = _render("portal_link", {
        "ticket": ticket, "helpdesk_name": desk.settings.helpdesk_name,
        "portal_link": portal_link(ticket, desk=desk, email=to),
        "days": desk.settings.portal_link_days, "copied": to != ticket.requester_email})
    # Keyed by the request, not by a thread entry: each request sends its own email.
    await _send_once(stored, 0, f"link-{request_id}", to=[to],
                     subject=f"[#{ticket.number}] Your link to {ticket.subject}",
                     text=text, html=html, desk=desk, thread=False)


async def send_assignment(stored: StoredTicket, entry: ThreadEntry, *, desk: Helpdesk) -> None:
    """Tell an agent a ticket was given to them (not when they took it themselves)."""
    agent = await desk.directory.get(Agent, entry.data["agent"])
    if agent is None:
        return
    by = await desk.directory.get(Agent, entry.actor)
    ticket = stored.ticket
    text, html = _render("assigned", {"ticket": ticket, "by": by.name if by else entry.actor,
                                      "helpdesk_name": desk.settings.helpdesk_name})
    await _send_once(stored, entry.seq, "assigned", to=[agent.email],
                     subject=f"[#{ticket.number}] Assigned to you: {ticket.subject}",
                     text=text, html=html, desk=desk, thread=False)


async def send_sla_alert(stored: StoredTicket, entry: ThreadEntry, *, desk: Helpdesk) -> None:
    """An SLA warning or breach: to the ticket's owner and its team's supervisors."""
    ticket = stored.ticket
    # The owner and team when the clock ran out (an escalation may have moved it since).
    owner = entry.data.get("assignee", ticket.assignee)
    team = entry.data.get("team", ticket.team)
    agents = await desk.directory.list(Agent)
    to = {a.email for a in agents if owner and a.id == owner}
    to |= {a.email for a in agents if team in a.teams and
           ("supervisor" in a.roles or "admin" in a.roles)}
    if not to:
        log.warning("SLA alert on %s: no owner or supervisor to tell", ticket.number)
        return
    text, html = _render("sla", {"ticket": ticket, "entry": entry,
                                 "helpdesk_name": desk.settings.helpdesk_name})
    word = "breached" if entry.data.get("event") == "sla_breached" else "warning"
    await _send_once(stored, entry.seq, f"sla-{word}", to=sorted(to),
                     subject=f"[#{ticket.number}] SLA {word}: {ticket.subject}",
                     text=text, html=html, desk=desk, thread=False)


async def handle_escalation(event: TicketEvent, *, desk: Helpdesk) -> None:
    """Tell the members of the team a ticket was escalated to, once."""
    stored = await _load(event, desk=desk)
    entry = next((e for e in stored.thread
                  if e.seq == event.seq and e.kind == EntryKind.ESCALATED), None)
    if entry is None:
        raise NotFound(f"event {event.id} is not an escalation")
    # An escalation by the SLA comes only this way; one by an agent also through the
    # ticket-events queue, and the fan-out delivers it once either way.
    await webhooks.fan_out(stored, entry, desk=desk)
    team_id = entry.data.get("team", "")
    team = await desk.directory.get(Team, team_id)
    members = [a for a in await desk.directory.list(Agent)
               if team_id in a.teams and a.available]
    if team is None or not members:
        log.warning("escalation %s: team %r has no available members to notify",
                    event.id, team_id)
        return
    ticket = stored.ticket
    text, html = _render("escalation", {"ticket": ticket, "team": team, "entry": entry,
                                        "helpdesk_name": desk.settings.helpdesk_name})
    await _send_once(stored, entry.seq, "escalation", to=[a.email for a in members],
                     subject=f"[#{ticket.number}] Escalated to {team.name}: {ticket.subject}",
                     text=text, html=html, desk=desk, thread=False)
