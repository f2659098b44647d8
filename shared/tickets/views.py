"""Reading tickets for agents."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from shared.core.errors import NotFound
from shared.core.lifecycle import Action, allowed_actions
from shared.core.models import AgentTicketView, AttachmentInfo, LinkView
from shared.core.relations import is_merged, links_back
from shared.sla import clocks, flow
from shared.storage.tickets import StoredTicket

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk


def version_tag(version: int) -> str:
    """The ticket's HTTP ETag: its agent-visible version, not its bytes (the thread also
    gains records the desk adds on its own, such as sent emails), so a weak one."""
    return f'W/"v{version}"'


def view_of(stored: StoredTicket) -> AgentTicketView:
    return AgentTicketView(ticket=stored.ticket, thread=stored.thread,
                           attachments=stored.attachments, etag=version_tag(stored.version))


# Taken by the requester or the desk itself, never offered to an agent.
_NOT_OFFERED = {Action.REQUESTER_REPLY, Action.REMIND}


def for_agent(view: AgentTicketView, roles: frozenset[str]) -> AgentTicketView:
    """The view with what this agent may do now and the SLA targets' due times."""
    clock = flow.clock_of(view.ticket)
    return view.model_copy(update={
        "allowed_actions": [a.value for a in allowed_actions(view.ticket.status, roles)
                            if a not in _NOT_OFFERED
                            # A merged ticket takes notes only (shared/core/relations.py).
                            and (a is Action.NOTE or not is_merged(view.ticket))],
        "sla_due": clocks.due_times(clock) if clock else {},
    })


async def with_links(view: AgentTicketView, *, desk: Helpdesk) -> AgentTicketView:
    """The view with its links: each other ticket's subject and status (a point read
    each), shown only when the other ticket holds the link's other half."""
    number = view.ticket.number
    heads = await asyncio.gather(*(desk.tickets.head(link.ticket) for link in view.ticket.links))
    links = [LinkView(ticket=link.ticket, kind=link.kind, subject=other.subject,
                      status=other.status, merged_into=other.merged_into)
             for link, other in zip(view.ticket.links, heads, strict=True)
             if other is not None and links_back(other, number, link.kind)]
    return view.model_copy(update={"links": links})


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
