"""Reading tickets for agents."""

from __future__ import annotations

from shared.errors import NotFound
from shared.helpdesk import Helpdesk
from shared.models import AgentTicketView, AttachmentInfo
from shared.storage.tickets import StoredTicket


def view_of(stored: StoredTicket) -> AgentTicketView:
    return AgentTicketView(ticket=stored.ticket, thread=stored.thread,
                           attachments=stored.attachments, etag=stored.etag)


async def read_ticket(number: str, *, desk: Helpdesk) -> AgentTicketView:
    stored = await desk.tickets.get(number)
    if stored is None:
        raise NotFound(f"No ticket {number}.")
    return view_of(stored)


async def read_attachment(number: str, attachment_id: str, *, desk: Helpdesk
                          ) -> tuple[AttachmentInfo, bytes]:
    found = None
    if attachment_id.isalnum():
        found = await desk.tickets.get_attachment(number, attachment_id)
    if found is None:
        raise NotFound(f"Ticket {number} has no attachment {attachment_id!r}.")
    info, blob_name = found
    return info, await desk.attachments.read(blob_name)
