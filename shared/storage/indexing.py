"""Which index rows a ticket should have, and where they live. Pure: no I/O.

Four small tables, each for one purpose (docs/architecture.md, "The index"):

- `ticketindex`, the agents' queues: one row per ticket that can still be worked (every
  status but closed), in partition `active|<bucket>` (16 buckets, from a hash of the
  number) with RowKey `<created>|<number>`. The row never moves: a ticket changing
  status, team or assignee rewrites that one row in place. A queue is a filter on the
  rows' properties (status, team, assignee, due time, SLA check time) over the 16
  partitions, read in parallel; `created` order is the key's own, `updated` and `due` are
  sorted in memory over the matching active rows (bounded by the active backlog, not by
  the desk's history). The SLA sweep and the overdue queues read the same rows.
- `ticketclosed`: one row per closed ticket, partition `<created day>` (YYYYMMDD), RowKey
  `<created>|<number>`: the reports' export and the `status=closed` list. Written when the
  ticket closes (and again only if a closed ticket changes, e.g. is rated or reopened).
- `ticketrequesters`: one row per ticket, written once at intake, partition = the
  requester's address (lower case), RowKey `<newest first>|<number>`: the agents' search
  by email address.
- `ticketsearch`: the agents' word search, written once per ticket by the created event's
  handler (off the intake request): one row per word of the ticket, all in the ticket's
  bucket partition (`<bucket>`, the same 16 buckets as the active rows), RowKey
  `<word>|<newest first>|<number>`, each row carrying all the ticket's words so a query's
  other words are checked on the rows read. A ticket's words share a partition, so they
  are one entity-group transaction (one request); a search reads its word's key range in
  each of the 16 partitions, in parallel. (The first layout, `ticketwords`, partitioned by
  word: one request per word. `tools.reindex` moves a desk off it.)

The head of a ticket lists the addresses of its rows in the first three tables
(`<table>/<PartitionKey>/<RowKey>`; keys never hold a `/`, `key_part` encodes it), so the
next write can remove the row the ticket no longer has (active → closed and back). Word
rows never change and are not listed. Addresses without a `/` are the old layout's keys
(one partition `idx`): `tools.reindex` drops that partition whole, so they are ignored.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from shared.core import fields
from shared.core.lifecycle import is_closed, is_done
from shared.core.models import Ticket
from shared.core.words import ticket_tokens
from shared.storage.keys import SEP, join, key_part

ACTIVE_TABLE = "ticketindex"
CLOSED_TABLE = "ticketclosed"
REQUESTERS_TABLE = "ticketrequesters"
WORDS_TABLE = "ticketsearch"
OLD_WORDS_TABLE = "ticketwords"  # the first layout: a partition per word (tools.reindex drops it)

OLD_PARTITION = "idx"  # the old layout's one partition (tools.reindex removes it)
ACTIVE = "active"
BUCKETS = 16
UNASSIGNED = "~none"
SORTS = ("created", "updated", "due")
NO_DUE = "~"
_MAX_MICROS = 10**17


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%fZ")


def descending(at: datetime) -> str:
    """A time key that sorts later times first."""
    micros = int(at.timestamp() * 1_000_000)
    return f"{_MAX_MICROS - micros:017d}"


def bucket(number: str) -> str:
    return f"{zlib.crc32(number.encode()) % BUCKETS:02d}"


def active_partition(number: str) -> str:
    return join(ACTIVE, bucket(number))


def active_partitions() -> list[str]:
    return [join(ACTIVE, f"{b:02d}") for b in range(BUCKETS)]


def created_key(created_at: datetime, number: str) -> str:
    """The RowKey of the active and closed rows: oldest first."""
    return join(_stamp(created_at), number)


def created_bound(at: datetime) -> str:
    """The first created key at or after `at` (a range's end or start)."""
    return _stamp(at)


def newest_key(created_at: datetime, number: str) -> str:
    """The RowKey of the requester and word rows: newest first."""
    return join(descending(created_at), number)


def closed_partition(created_at: datetime) -> str:
    return created_at.strftime("%Y%m%d")


def requester_partition(email: str) -> str:
    return key_part(email.strip().lower())


def address(table: str, partition: str, row: str) -> str:
    return f"{table}/{partition}/{row}"


def parse_address(key: str) -> tuple[str, str, str] | None:
    """(table, PartitionKey, RowKey), or None for an old-layout key."""
    parts = key.split("/", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def active_address(ticket: Ticket) -> str:
    return address(ACTIVE_TABLE, active_partition(ticket.number),
                   created_key(ticket.created_at, ticket.number))


def closed_address(ticket: Ticket) -> str:
    return address(CLOSED_TABLE, closed_partition(ticket.created_at),
                   created_key(ticket.created_at, ticket.number))


def requester_address(ticket: Ticket) -> str:
    return address(REQUESTERS_TABLE, requester_partition(ticket.requester_email),
                   newest_key(ticket.created_at, ticket.number))


def live_address(ticket: Ticket) -> str:
    """The one row that follows the ticket's every change: active, or closed."""
    return closed_address(ticket) if is_closed(ticket.status) else active_address(ticket)


def index_keys(ticket: Ticket) -> list[str]:
    """The addresses of the rows the ticket should have (its word rows aside)."""
    return [live_address(ticket), requester_address(ticket)]


def candidate_keys(ticket: Ticket) -> list[str]:
    """Every address a row of this ticket may have (repair reads them all)."""
    return [active_address(ticket), closed_address(ticket), requester_address(ticket)]


def requester_row(ticket: Ticket) -> dict[str, Any]:
    """What the requester row holds: only what never changes (status comes from the head)."""
    return {"number": ticket.number, "subject": ticket.subject[:200],
            "requester_email": ticket.requester_email, "created_at": ticket.created_at}


# -- search words --------------------------------------------------------------------------

def tokens(ticket: Ticket) -> list[str]:
    return ticket_tokens(ticket.subject, ticket.requester_name, ticket.description)


def word_partitions() -> list[str]:
    return [f"{b:02d}" for b in range(BUCKETS)]


def word_rows(ticket: Ticket) -> list[dict[str, Any]]:
    """The ticket's search rows, all in one partition (at most `MAX_TOKENS` of them, so
    one transaction)."""
    words = tokens(ticket)
    joined = " ".join(words)
    newest = newest_key(ticket.created_at, ticket.number)
    # The number and the time are in the key (`word_row_number`); each row carries only
    # the words, to check a query's other words on. A ticket has up to 30 of these rows,
    # the most of any table: every property costs 30 times.
    return [{"PartitionKey": bucket(ticket.number), "RowKey": join(key_part(token), newest),
             "words": joined}
            for token in words]


def word_row_number(row_key: str) -> str:
    """The ticket a word row belongs to (its RowKey's last part)."""
    return row_key.rsplit(SEP, 1)[1]


def word_range(token: str) -> tuple[str, str]:
    """The RowKeys of every word that begins with `token` (a prefix search), in each
    partition: word by word, then newest first."""
    prefix = key_part(token)
    return prefix, prefix + "\x7f"


# -- queue order ---------------------------------------------------------------------------

def sort_key(row: dict[str, Any], sort: str) -> str:
    """Where an active or closed row sorts in a queue (ties broken by number)."""
    number = row["number"]
    if sort == "created":
        return created_key(row["created_at"], number)
    if sort == "updated":
        return join(descending(row["updated_at"]), number)
    if sort == "due":
        due = row.get("due_at")
        return join(_stamp(due) if due else NO_DUE, number)
    raise ValueError(f"unknown sort {sort!r}")


def summary(ticket: Ticket) -> dict[str, Any]:
    """The properties of a ticket's active or closed row: what a queue page shows and
    filters on, the SLA sweep's next check, the export's outcomes."""
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
    # The SLA sweep reads the rows whose next check has come; a done ticket has none.
    if ticket.sla_check_at is not None and not is_done(ticket.status):
        row["sla_check_at"] = ticket.sla_check_at
    # Outcomes, for the CSV export (shared/reports/summaries.py): present once they happened, so a
    # new ticket's rows carry none of them.
    for name in ("first_response_at", "resolved_at", "closed_at"):
        if (value := getattr(ticket, name)) is not None:
            row[name] = value
    if ticket.satisfied is not None:
        row["satisfied"] = "yes" if ticket.satisfied else "no"
    # The category's fields, for the queues' filters on choice fields (applied to the rows
    # read, shared/tickets/queues.py) and the export's column per field: one property.
    if ticket.fields:
        row["fields"] = fields.dumps(ticket.fields)
    return row


def index_matches(ticket: Ticket, rows: dict[str, dict[str, Any]]) -> bool:
    """Whether the rows found at the ticket's possible addresses (`candidate_keys`) are
    exactly those it calls for, its live row holding its current summary."""
    if set(rows) != set(index_keys(ticket)):
        return False
    live = rows[live_address(ticket)]
    return {k: v for k, v in live.items() if k not in ("PartitionKey", "RowKey")} == summary(ticket)
