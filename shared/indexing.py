"""Which queue-index rows a ticket should have. Pure: no I/O.

Every list an agent or the portal opens is a RowKey range in one partition of the
`ticketindex` table, so its first page is one range query at any table size. All of a
ticket's rows share that partition, which lets the storage layer replace a ticket's old
rows by its new ones in a single entity group transaction: a ticket's index rows are
always all old or all new, never a mix.

A row key is `<index>|<value>|<sort>|<number>`; the sort part is the created time, so a
range scan returns oldest first (first come, first served). A row carries the summary a
queue page shows, so listing a queue reads no ticket partition.
"""

from __future__ import annotations

from typing import Any

from shared.models import Ticket
from shared.storage.keys import join, key_part

INDEX_PARTITION = "idx"
UNASSIGNED = "~none"


def _sort_part(ticket: Ticket) -> str:
    return ticket.created_at.strftime("%Y%m%dT%H%M%S%fZ")


def index_keys(ticket: Ticket) -> list[str]:
    sort = _sort_part(ticket)
    return [
        join("status", key_part(ticket.status), sort, ticket.number),
        join("team", key_part(ticket.team or UNASSIGNED), sort, ticket.number),
        join("assignee", key_part(ticket.assignee or UNASSIGNED), sort, ticket.number),
        join("requester", key_part(ticket.requester_email.lower()), sort, ticket.number),
    ]


def queue_prefix(index: str, value: str | None) -> str:
    return join(index, key_part(value or UNASSIGNED), "")


def summary(ticket: Ticket) -> dict[str, Any]:
    """The properties of every index row of a ticket."""
    return {
        "number": ticket.number,
        "subject": ticket.subject[:200],
        "status": ticket.status,
        "priority": ticket.priority.value,
        "category": ticket.category,
        "channel": ticket.channel.value,
        "team": ticket.team or "",
        "assignee": ticket.assignee or "",
        "requester_name": ticket.requester_name,
        "requester_email": ticket.requester_email,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }
