"""Turning ticket events into emails (the ticket-events queue handler's service).

At-least-once delivery means a message may arrive twice. Each email is keyed by the
event that caused it (`mail-<seq>-<purpose>` in the ticket's partition): once that
record says sent, a redelivery sends nothing. The Message-ID is derived from the same
key, so even the rare duplicate (a crash between sending and recording) carries the
same Message-ID, which mail clients collapse into one message.
"""

from __future__ import annotations

import logging
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shared.errors import NotFound
from shared.helpdesk import Helpdesk
from shared.mail import REPLY_MARKER, compose
from shared.models import EntryKind
from shared.storage.events import TicketEvent
from shared.storage.tickets import StoredTicket

log = logging.getLogger(__name__)


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("shared", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def message_id(number: str, seq: int, purpose: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "helpdesk.invalid"
    return f"<ticket-{number}.{seq}.{purpose}@{domain}>"


async def handle_event(event: TicketEvent, *, desk: Helpdesk) -> None:
    """Write the ticket's index rows if the request could not, then send the email the
    event calls for."""
    stored = await desk.tickets.get(event.ticket)
    if stored is None:
        raise NotFound(f"ticket {event.ticket} of event {event.id} does not exist")
    if not event.indexed:
        await desk.tickets.write_index(stored.ticket, stale=event.stale_index_keys)
    if event.kind == EntryKind.CREATED.value:
        await send_acknowledgement(stored, seq=event.seq, desk=desk)


async def send_acknowledgement(stored: StoredTicket, *, seq: int, desk: Helpdesk) -> None:
    ticket = stored.ticket
    purpose = "ack"
    if await desk.tickets.mail_sent(ticket.number, seq, purpose):
        log.info("acknowledgement for %s already sent; redelivery ignored", ticket.number)
        return
    env = _templates()
    context = {
        "ticket": ticket,
        "attachments": stored.attachments,
        "helpdesk_name": desk.settings.helpdesk_name,
        "marker": REPLY_MARKER,
    }
    mid = message_id(ticket.number, seq, purpose, desk.settings.mail.sender)
    subject = f"[#{ticket.number}] {ticket.subject}"
    message = compose(
        settings=desk.settings.mail,
        to=ticket.requester_email,
        subject=subject,
        text=env.get_template("acknowledgement.txt.j2").render(context),
        html=env.get_template("acknowledgement.html.j2").render(context),
        message_id=mid,
    )
    await desk.mailer.send(message)
    await desk.tickets.record_mail(
        ticket.number, seq, purpose,
        to=ticket.requester_email, subject=subject, message_id=mid, sent_at=desk.clock(),
    )
