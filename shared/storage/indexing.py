"""Which queue-index rows a ticket should have. Pure: no I/O.

Every list an agent or the portal opens is a RowKey range in one partition of the
`ticketindex` table, so its first page is one range query at any table size. All of a
ticket's rows share that partition, which lets the storage layer replace a ticket's old
rows by its new ones in a single entity group transaction: a ticket's index rows are
always all old or all new, never a mix.

A row key is `<index>|<value>|<sort>|<sort key>|<number>`:
- index/value: `status|open`, `team|senior-support`, `assignee|<agent id>` (or `~none`),
  `all|*`, and `requester|<email>` (by created only: the portal's list);
- and `word|<token>|<number>` for the agents' search (`shared/core/words.py`): a word's
  tickets are one prefix range; these rows also carry the ticket's `words`, so a
  query's other words are checked on the rows read, without reading a ticket;
- sort: `created` (oldest first), `updated` (most recently changed first) and `due`
  (soonest due first; tickets without a due time last).
A row carries the summary a queue page shows, so listing a queue reads no ticket
partition; other filters (priority, category, status within a team) are server-side
filters on those properties within the one range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.core.models import Ticket
from shared.core.words import ticket_tokens
from shared.storage.keys import join, key_part

INDEX_PARTITION = "idx"
UNASSIGNED = "~none"
EVERYTHING = "*"
SORTS = ("created", "updated", "due")
QUEUE_INDEXES = ("status", "team", "assignee", "all")
NO_DUE = "~"
_MAX_MICROS = 10**17


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%fZ")


def descending(at: datetime) -> str:
    """The `updated` sort key: later times sort first."""
    micros = int(at.timestamp() * 1_000_000)
    return f"{_MAX_MICROS - micros:017d}"


def sort_key(ticket: Ticket, sort: str) -> str:
    if sort == "created":
        return _stamp(ticket.created_at)
    if sort == "updated":
        return descending(ticket.updated_at)
    if sort == "due":
        return _stamp(ticket.due_at) if ticket.due_at else NO_DUE
    raise ValueError(f"unknown sort {sort!r}")


def index_value(ticket: Ticket, index: str) -> str:
    if index == "status":
        return ticket.status.value
    if index == "team":
        return ticket.team or UNASSIGNED
    if index == "assignee":
        return ticket.assignee or UNASSIGNED
    if index == "all":
        return EVERYTHING
    if index == "requester":
        return ticket.requester_email.lower()
    raise ValueError(f"unknown index {index!r}")


def index_keys(ticket: Ticket) -> list[str]:
    keys = [
        join(index, key_part(index_value(ticket, index)), sort, sort_key(ticket, sort),
             ticket.number)
        for index in QUEUE_INDEXES
        for sort in SORTS
    ]
    keys.append(join("requester", key_part(index_value(ticket, "requester")), "created",
                     sort_key(ticket, "created"), ticket.number))
    if ticket.sla_check_at is not None:
        keys.append(sweep_key(ticket.sla_check_at, ticket.number))
    keys += [word_key(token, ticket.number) for token in tokens(ticket)]
    return keys


WORD = "word"


def tokens(ticket: Ticket) -> list[str]:
    return ticket_tokens(ticket.subject, ticket.requester_name, ticket.description)


def word_key(token: str, number: str) -> str:
    return join(WORD, token, number)


def word_prefix(token: str) -> str:
    """The range of every word that begins with `token` (a prefix search)."""
    return join(WORD, token)


def is_word_key(key: str) -> bool:
    return key.startswith(WORD + "|")


def due_before(prefix: str, at: datetime) -> str:
    """The end of a `due`-sorted range's part that fell due before `at` (overdue)."""
    return prefix + _stamp(at)


SWEEP = "sweep"


def sweep_key(at: datetime, number: str) -> str:
    """The SLA sweep's row: it reads the range up to now, i.e. only what is due."""
    return join(SWEEP, _stamp(at), number)


def sweep_range_end(now: datetime) -> str:
    return join(SWEEP, _stamp(now), "\x7f")


def queue_prefix(index: str, value: str | None, sort: str = "created") -> str:
    if index not in (*QUEUE_INDEXES, "requester"):
        raise ValueError(f"unknown index {index!r}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    if index == "all":
        value = EVERYTHING
    return join(index, key_part(value or UNASSIGNED), sort, "")


def summary(ticket: Ticket) -> dict[str, Any]:
    """The properties of every index row of a ticket."""
    row: dict[str, Any] = {
        "number": ticket.number,
        "subject": ticket.subject[:200],
        "status": ticket.status.value,
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
    if ticket.due_at:
        row["due_at"] = ticket.due_at
    if ticket.overdue:
        row["overdue"] = True
    # Outcomes, for the CSV export (shared/reports/summaries.py): present once they happened, so a
    # new ticket's rows carry none of them.
    for name in ("first_response_at", "resolved_at", "closed_at"):
        if (value := getattr(ticket, name)) is not None:
            row[name] = value
    if ticket.satisfied is not None:
        row["satisfied"] = "yes" if ticket.satisfied else "no"
    return row
