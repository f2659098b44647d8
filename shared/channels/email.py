"""The email channel: a raw message from the mail gateway becomes a ticket, or joins one.

Which ticket a message joins, in order:
1. `in-reply-to`: a Message-ID in In-Reply-To (its first few) or the last
   `MAX_REFERENCES` of References is one of ours (signed: shared/mail/messageids.py, so a
   stranger cannot make one up from a ticket number) or one we received before for a
   ticket;
2. `subject-token`: a `[#NUMBER]` token in the subject;
3. otherwise a new ticket. A message to a closed ticket starts a new ticket that
   points back to it.
Either way the sender must be the ticket's requester or an address copied on it: a
Message-ID travels with every quoted or forwarded copy of our email, so knowing one is
not proof of who is writing. Anyone else's mail becomes a new ticket of their own, as in
osTicket and Zammad.

And a From address is only what the sender typed. Mail that joins by its subject token
or by naming a message we received (not by one of our own signed Message-IDs, which only
someone who got our email holds) must come from an authenticated sender: DMARC, or DKIM
or SPF aligned with its From domain, as the mailbox's (or the desk's) sender check
decides it (shared/mail/inbound/senders.py). Mail that is not becomes a new ticket
tagged `sender-not-verified`, its first entry naming the ticket it claimed
(`claims_ticket`) and why it was not believed.

The same Message-ID twice is one entry: each message's id is recorded with its ticket,
and the record is claimed before anything is written. Auto-replies, bulk mail, loops and
bounces make no ticket and trigger no auto-reply; a bounce is noted on the ticket whose
email it bounced. The raw message is kept in Blob Storage, and the quoted history the
parser cut from the text on the entry (`quoted`, its first MAX_QUOTED characters).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from shared.core.errors import BadRequest, Conflict, HelpdeskError, StorageFailed, StorageUnavailable
from shared.core.lifecycle import Action, NotAllowed, Role, may
from shared.core.models import AttachmentUpload, Channel, Ticket
from shared.core.numbering import is_valid
from shared.mail import messageids
from shared.mail.inbound.message import MailParseError, ParsedEmail, parse_email
from shared.mail.inbound.senders import SenderCheck, Verdict, check_sender
from shared.tickets import collaborators
from shared.tickets.actionbodies import parse_body
from shared.tickets.idempotency import record_key
from shared.tickets.intake import submit_ticket
from shared.tickets.workflow import act

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

# How many ids of a message's ancestry are looked up: a reply names its parent in
# In-Reply-To and its nearest ancestors last in References; older ones add nothing but
# lookups (a 1.3 MB References header once made 50,000).
MAX_IN_REPLY_TO = 3
MAX_REFERENCES = 10
TRUNCATED = "\n\n[… the rest of this message is in the original email]"
# The quoted history kept on an entry, in characters: the entry's data is one table property
# of JSON (64 KiB, and json.dumps writes a non-ASCII character as six), the raw message has all.
MAX_QUOTED = 4000

Outcome = Literal["created", "appended", "duplicate", "ignored", "bounce-noted"]
UNVERIFIED_TAG = "sender-not-verified"


@dataclass(frozen=True)
class Inbox:
    """The mailbox a fetched message came from (shared/channels/mailfetch.py): its new
    tickets get its team, category and priority, and the desk's emails on them its
    reply address. Mail from its own addresses is a loop, never a ticket."""

    mailbox: str
    address: str
    team: str | None = None
    category: str | None = None
    priority: str | None = None
    reply_to: str | None = None
    sender_check: SenderCheck | None = None  # None: the desk's (HELPDESK_MAIL_SENDER_CHECK)


class EmailResult(BaseModel):
    outcome: Outcome
    number: str | None = None
    matched_by: str | None = None
    reason: str | None = None


def _key(message_id: str) -> str:
    """The record of a received message, in the email channel's own key namespace."""
    return record_key("mail", message_id.lower())


async def receive_email(raw: bytes, *, desk: Helpdesk, inbox: Inbox | None = None
                        ) -> EmailResult:
    own = {desk.settings.mail.sender.lower()}
    if inbox is not None:
        own |= {a.lower() for a in (inbox.address, inbox.reply_to) if a}
    try:
        mail = parse_email(raw, own_addresses=own)
    except MailParseError as exc:
        raise BadRequest(f"The message could not be read: {exc}") from None
    message_id = mail.message_id or f"<sha256-{hashlib.sha256(raw).hexdigest()}@inbound>"

    if mail.bounce is not None:
        return await _note_bounce(mail, message_id, raw, desk=desk)
    if mail.auto_reason:
        log.info("email %s ignored: %s", message_id, mail.auto_reason)
        return EmailResult(outcome="ignored", reason=mail.auto_reason)

    key = _key(message_id)
    found = await desk.idempotency.read(key)
    # A new ticket's claim still `claimed` is not a duplicate yet: its worker may have died
    # before the ticket was written. Intake settles it below (the ticket, a 409 while it may
    # still be written, or a stale claim taken over), so the message is never dropped.
    if found is not None and found[0].get("number") and found[0].get("state") != "claimed":
        return EmailResult(outcome="duplicate", number=found[0]["number"],
                           matched_by=found[0].get("matched_by"))

    number, rule, named = await _thread_of(mail, desk=desk)
    verdict: Verdict | None = None
    claimed: str | None = None
    if number is not None and rule != SIGNED_REPLY:
        verdict = await _verdict(raw, mail, inbox, desk=desk)
        if not verdict.verified:
            log.info("%s to #%s from %s not verified (%s): a new ticket", rule, number,
                     mail.from_address, verdict.how)
            number, claimed = None, number
    if rule == SIGNED_REPLY:
        rule = "in-reply-to"
    blob = await _keep_raw(raw, desk=desk)
    html_blob = await _keep_html(mail, desk=desk)
    uploads = [AttachmentUpload(filename=a.filename, content_type=a.content_type, data=a.data)
               for a in mail.attachments]
    details = {"message_id": message_id, "raw_blob": blob, "html_blob": html_blob,
               "from": mail.from_address,
               "matched_by": rule, "inline_images": sum(a.inline for a in mail.attachments),
               # What the parser cut as quoted history, so that an agent can check it.
               **({"quoted": _capped(mail.quoted, MAX_QUOTED)} if mail.quoted.strip() else {}),
               **({"mailbox": inbox.mailbox} if inbox is not None else {}),
               **({"reply_to": inbox.reply_to} if inbox is not None and inbox.reply_to
                  else {}),
               # For the agent: it answered that ticket, but its sender is not on it.
               **({"names_ticket": named} if named else {}),
               **({"sender": {"verified": verdict.verified, "how": verdict.how}}
                  if verdict is not None and verdict.checked else {})}
    if number is not None:
        if not await desk.idempotency.insert(key, {"number": number, "matched_by": rule}):
            again = await desk.idempotency.read(key)
            return EmailResult(outcome="duplicate", number=again[0]["number"] if again else None)
        try:
            view = await act(number, Action.REQUESTER_REPLY,
                             parse_body(Action.REQUESTER_REPLY, {"body": _body(mail, desk)}),
                             actor=mail.from_address, roles=frozenset({"requester"}),
                             if_match=None, desk=desk, uploads=uploads, entry_data=details)
        except HelpdeskError as exc:
            await desk.idempotency.release(key)
            # Not allowed now (closed): the mail starts a follow-up ticket instead.
            current = exc.extra.get("current_status") if isinstance(exc, Conflict) else None
            if current is not None and not may(Action.REQUESTER_REPLY, current,
                                               {Role.REQUESTER.value}):
                return await _new_ticket(mail, message_id, uploads,
                                         {**details, "follow_up_of": number}, desk=desk,
                                         inbox=inbox)
            raise
        except Exception:
            await desk.idempotency.release(key)
            raise
        return EmailResult(outcome="appended", number=view.ticket.number, matched_by=rule)
    if verdict is not None and not verdict.verified:
        details["claims_ticket"] = claimed
        return await _new_ticket(mail, message_id, uploads, details, desk=desk, inbox=inbox,
                                 tags=[UNVERIFIED_TAG])
    return await _new_ticket(mail, message_id, uploads, details, desk=desk, inbox=inbox)


async def _verdict(raw: bytes, mail: ParsedEmail, inbox: Inbox | None, *, desk: Helpdesk
                   ) -> Verdict:
    mail_settings = desk.settings.mail
    check = (inbox.sender_check if inbox is not None and inbox.sender_check is not None
             else SenderCheck(mail_settings.sender_check, mail_settings.authserv_id))
    # DNS and RSA: off the event loop.
    return await asyncio.to_thread(check_sender, raw, mail.from_address, check, desk.dns)


async def _new_ticket(mail: ParsedEmail, message_id: str, uploads: list[AttachmentUpload],
                      details: dict, *, desk: Helpdesk, inbox: Inbox | None = None,
                      tags: list[str] | None = None) -> EmailResult:
    details = {**details, "matched_by": "new"}
    raw = {"name": mail.from_name or mail.from_address.split("@")[0],
           "email": mail.from_address,
           "subject": (mail.subject or "(no subject)")[:desk.settings.limits.subject_chars],
           "description": _body(mail, desk)}
    if inbox is not None:
        raw |= {k: v for k, v in (("category", inbox.category), ("priority", inbox.priority))
                if v}
    own = {inbox.address.lower(), (inbox.reply_to or "").lower()} if inbox else set()
    created = await submit_ticket(
        raw, uploads, desk=desk, channel=Channel.EMAIL,
        # The people copied on it become its collaborators; the mailbox's own address is
        # on every message it received, and neither it nor the sender is one.
        cc=collaborators.clean([*mail.to, *mail.cc], exclude={
            mail.from_address, *own, *await collaborators.own_addresses(desk)}),
        record=_key(message_id), entry_data=details, team=inbox.team if inbox else None,
        tags=tags)
    return EmailResult(outcome="created", number=created.number, matched_by="new")


def _body(mail: ParsedEmail, desk: Helpdesk) -> str:
    return _capped(mail.text.strip() or "(no text)", desk.settings.limits.description_chars)


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - len(TRUNCATED)] + TRUNCATED


def _ancestry(mail: ParsedEmail) -> list[str]:
    """The ids to look up, nearest first, bounded whatever the headers hold."""
    refs = [*mail.in_reply_to[:MAX_IN_REPLY_TO], *reversed(mail.references[-MAX_REFERENCES:])]
    return list(dict.fromkeys(refs))


# How a message found its ticket when it names one of our own signed Message-IDs: proof
# enough, without the sender check (only someone who got our email holds one).
SIGNED_REPLY = "in-reply-to-signed"


async def _thread_of(mail: ParsedEmail, *, desk: Helpdesk
                     ) -> tuple[str | None, str, str | None]:
    """(ticket to join, how it was found, a ticket the mail named but may not join)."""
    for ref in _ancestry(mail):
        ours = messageids.verify(ref, settings=desk.settings)
        if ours is not None:
            return await _if_known_sender(mail, ours.number, SIGNED_REPLY, desk=desk)
        found = await desk.idempotency.read(_key(ref))
        if found is not None and (number := found[0].get("number")):
            return await _if_known_sender(mail, number, "in-reply-to", desk=desk)
    if mail.ticket_number and is_valid(mail.ticket_number):
        return await _if_known_sender(mail, mail.ticket_number, "subject-token", desk=desk)
    return None, "new", None


async def _if_known_sender(mail: ParsedEmail, number: str, rule: str, *, desk: Helpdesk
                           ) -> tuple[str | None, str, str | None]:
    stored = await desk.tickets.get(number)
    if stored is None:
        return None, "new", None
    known = {stored.ticket.requester_email.lower(), *stored.ticket.cc}
    number, known = await _follow_merges(stored.ticket, known, desk=desk)
    if mail.from_address in known:
        return number, rule, None
    log.info("%s to #%s from %s: not the requester or copied; a new ticket", rule, number,
             mail.from_address)
    return None, "new", number


# How many merges mail follows (A merged into B, B later into C): more means a loop.
MAX_MERGE_HOPS = 5


async def _follow_merges(ticket: Ticket, known: set[str], *, desk: Helpdesk
                         ) -> tuple[str, set[str]]:
    """The ticket mail to `ticket` joins: the one it was merged (or is being merged) into,
    and the people who may write to it, those of every ticket on the way included (the
    merge made the duplicate's people the target's Cc; a half-done merge not yet)."""
    number = ticket.number
    for _hop in range(MAX_MERGE_HOPS):
        into = ticket.merged_into or ticket.merging_into
        target = await desk.tickets.head(into) if into else None
        if target is None:
            break
        log.info("mail to #%s goes to #%s, which it was merged into", number, target.number)
        ticket, number = target, target.number
        known = known | {ticket.requester_email.lower(), *ticket.cc}
    return number, known


async def _keep(folder: str, data: bytes, extension: str, content_type: str, *,
                desk: Helpdesk) -> str:
    """Store `data` under its hash (so a redelivery overwrites the same blob)."""
    name = f"{folder}/{hashlib.sha256(data).hexdigest()}.{extension}"
    try:
        await desk.attachments.put_raw(name, data, content_type=content_type)
    except StorageFailed as exc:
        raise StorageUnavailable("Could not store the message; try again later.") from exc
    return name


async def _keep_raw(raw: bytes, *, desk: Helpdesk) -> str:
    return await _keep("raw", raw, "eml", "message/rfc822", desk=desk)


async def _keep_html(mail: ParsedEmail, *, desk: Helpdesk) -> str | None:
    """The sanitised HTML body, for showing the message as it was written (the entry
    keeps the text version)."""
    if not mail.html:
        return None
    return await _keep("html", mail.html.encode("utf-8"), "html", "text/html; charset=utf-8",
                       desk=desk)


async def _note_bounce(mail: ParsedEmail, message_id: str, raw: bytes, *,
                       desk: Helpdesk) -> EmailResult:
    bounce = mail.bounce
    assert bounce is not None
    original = bounce.original_message_id or ""
    ours = messageids.verify(original, settings=desk.settings)
    number = ours.number if ours is not None else None
    if number is None or await desk.tickets.get(number) is None:
        return EmailResult(outcome="ignored", reason="bounce of a message that is not ours")
    key = _key(message_id)
    if not await desk.idempotency.insert(key, {"number": number, "matched_by": "bounce"}):
        return EmailResult(outcome="duplicate", number=number, matched_by="bounce")
    text = (f"Email could not be delivered to {', '.join(bounce.recipients) or 'the requester'}"
            f" (status {bounce.status or 'unknown'}, {bounce.action or 'failed'}).")
    blob = await _keep_raw(raw, desk=desk)
    try:
        await act(number, Action.NOTE, parse_body(Action.NOTE, {"body": text}),
                  actor="mail-system", roles=frozenset({"agent"}), if_match=None, desk=desk,
                  entry_data={"bounce": True, "raw_blob": blob, "original": original})
    except (HelpdeskError, NotAllowed):
        await desk.idempotency.release(key)
        raise
    return EmailResult(outcome="bounce-noted", number=number, matched_by="bounce")
