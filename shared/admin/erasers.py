"""The erasers of a requester's erasure (the job is `shared/admin/erasure.py`): who is
erased (`Identity`: the address, the names they went by, what replaces them, and the
scrubbing of any text or value), what erasing does to a ticket and its entries (pure),
and one eraser per store, in one registry, `ERASERS`: a store added later is erased by
adding one `Eraser`. Every eraser can run twice without harm; the tickets' eraser
checkpoints after each ticket and stops when its run is out of time (`OutOfTime`).

The replacement identity is `erased-<hash>@erased.invalid` and the name "Erased
requester": the hash is keyed (with the portal secret) and the same for one address, so
the tickets stay countable in the reports and one requester's tickets stay together,
while nothing in it gives the address back.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from shared.core.models import EntryKind, ThreadEntry, Ticket
from shared.core.words import ticket_tokens
from shared.storage import erasures as stores
from shared.storage.clients import RATELIMIT_TABLE
from shared.storage.indexing import index_matches
from shared.storage.tickets import Stale, StoredTicket

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

ERASED_NAME = "Erased requester"
ERASED_DOMAIN = "erased.invalid"
REMOVED = "[removed]"
ERASED_SUBJECT = "Erased request"
RESOLVED_LOG = "resolved"  # shared/kb/knowledge.py's log of resolved tickets
ADDRESS_LIMITS = ("mail", "ack")  # the per-address limits (shared/helpdesk.py)
BUDGET_SECONDS = 200.0  # one run, below the function timeout; then it queues its continuation
# Entries that carry the requester's own words, and the data that points at their files.
FROM_REQUESTER = frozenset({EntryKind.CREATED, EntryKind.MESSAGE, EntryKind.RATED})
FILE_KEYS = ("raw_blob", "html_blob")


# -- who is erased --------------------------------------------------------------------


def replacement_address(address: str, *, key: str | None) -> str:
    digest = hmac.new((key or "helpdesk-erasure").encode(), address.strip().lower().encode(),
                      hashlib.sha256).hexdigest()
    return f"erased-{digest[:12]}@{ERASED_DOMAIN}"


def is_erased(address: str) -> bool:
    return address.strip().lower().endswith("@" + ERASED_DOMAIN)


@dataclass(frozen=True)
class Identity:
    """The person erased: their address, the names they went by, what replaces them."""

    address: str
    names: tuple[str, ...]
    replacement: str

    @cached_property
    def _patterns(self) -> list[tuple[re.Pattern[str], str]]:
        """Built once per identity: `scrub` runs on every text of every ticket."""
        found = [(re.compile(re.escape(self.address), re.IGNORECASE), self.replacement)]
        for name in sorted(set(self.names), key=len, reverse=True):
            if len(name.strip()) >= 2 and name.strip() != ERASED_NAME:
                found.append((re.compile(r"(?<!\w)" + re.escape(name.strip()) + r"(?!\w)",
                                         re.IGNORECASE), ERASED_NAME))
        return found

    def scrub(self, text: str) -> str:
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def scrub_any(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_any(v) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_any(v) for k, v in value.items()}
        return value

    def mentioned_in(self, text: str) -> bool:
        return self.scrub(text) != text


def _is_requester(ticket: Ticket, who: Identity) -> bool:
    return ticket.requester_email.strip().lower() == who.address


def erase_ticket(ticket: Ticket, who: Identity, mode: str) -> Ticket:
    """The ticket's head with `who` erased (pure; erasing it again changes nothing)."""
    mine = _is_requester(ticket, who)
    update: dict[str, Any] = {
        "subject": who.scrub(ticket.subject),
        "description": who.scrub(ticket.description),
        "resolution": who.scrub(ticket.resolution) if ticket.resolution else ticket.resolution,
        "cc": [a for a in ticket.cc if a.lower() != who.address],
        "tags": [who.scrub(t) for t in ticket.tags],
    }
    if mine:
        update |= {"requester_email": who.replacement, "requester_name": ERASED_NAME,
                   "phone": None}
        comment = ticket.satisfaction_comment
        update["satisfaction_comment"] = (who.scrub(comment) if comment and mode == "redact"
                                          else None)
        if mode == "remove":
            update |= {"subject": ERASED_SUBJECT, "description": REMOVED}
    return ticket.model_copy(update=update)


def _from_them(entry: ThreadEntry, ticket: Ticket, who: Identity) -> bool:
    if entry.kind is EntryKind.MESSAGE:
        return entry.actor.strip().lower() == who.address
    return entry.kind in FROM_REQUESTER and _is_requester(ticket, who)


def erase_entry(entry: ThreadEntry, ticket: Ticket, who: Identity, mode: str) -> ThreadEntry:
    """One thread entry with `who` erased: their own words removed (`remove`) or kept with
    their name and address replaced (`redact`); anyone else's words redacted."""
    data = {k: v for k, v in entry.data.items() if k not in FILE_KEYS}
    body = who.scrub(entry.body)
    if _from_them(entry, ticket, who):
        if mode == "remove" and entry.body:
            body = REMOVED
        if mode == "remove" and entry.kind is EntryKind.RATED:
            data.pop("comment", None)
    return entry.model_copy(update={"actor": who.scrub(entry.actor), "body": body,
                                    "data": who.scrub_any(data)})


def _their_files(stored: StoredTicket, who: Identity) -> tuple[list[str], list[str]]:
    """(attachment ids, blob names) to remove: the files of their own entries, and the
    received emails kept as they came (raw, and their HTML) of every entry."""
    theirs = {e.seq for e in stored.thread if _from_them(e, stored.ticket, who)}
    ids = [a.id for a in stored.attachments if a.entry in theirs]
    blobs = [stored.blob_names[i] for i in ids if i in stored.blob_names]
    for entry in stored.thread:
        blobs += [str(entry.data[k]) for k in FILE_KEYS if entry.data.get(k)]
    return ids, blobs


# -- the erasers ------------------------------------------------------------------------


@dataclass
class Run:
    """A job being run: its row's properties (`job`) and what it needs."""

    job: dict[str, Any]
    desk: Helpdesk

    @property
    def numbers(self) -> list[str]:
        return list(self.job.get("numbers") or [])

    def identity_for(self, ticket: Ticket | None) -> Identity:
        """A requester's job erases its one address; a retention job erases each
        ticket's own requester."""
        if self.job["kind"] == "requester":
            names = tuple(self.job.get("names") or ())
            return Identity(self.job["address"], names, self.job["replacement"])
        assert ticket is not None
        address = ticket.requester_email.strip().lower()
        return Identity(address, (ticket.requester_name,),
                        replacement_address(address, key=self.desk.settings.portal_secret))

    async def checkpoint(self) -> None:
        await self.desk.erasures.save(self.job["id"], {k: v for k, v in self.job.items()
                                                      if k != "budget"})


@dataclass(frozen=True)
class Eraser:
    """One store's eraser. `scope` "address": only a requester's job runs it (a
    retention job erases tickets, not a person who may still have others)."""

    name: str
    erase: Callable[[Run], Awaitable[int]]
    scope: Literal["tickets", "address"] = "tickets"


async def erase_one_ticket(number: str, run: Run) -> bool:
    """Erase the person from one ticket: its words and index rows first (computed from
    the ticket as it was), then its files, then its partition, the head last under the
    ETag it was read with. False if the ticket is gone."""
    desk = run.desk
    for _ in range(10):
        stored = await desk.tickets.get(number)
        if stored is None:
            return False
        if run.job["kind"] == "retention" and is_erased(stored.ticket.requester_email):
            return True  # erased on an earlier run (or by a requester's erasure)
        who = run.identity_for(stored.ticket)
        mode = run.job["mode"]
        after = erase_ticket(stored.ticket, who, mode)
        await desk.tickets.replace_words(stored.ticket, after)
        await desk.tickets.write_index(after, had=stored.index_keys)
        ids, blobs = _their_files(stored, who)
        for blob in blobs:
            await desk.attachments.delete(blob)
        # Sent-mail records are not entries of the thread (the rewrite scrubs them).
        thread = [e for e in stored.thread if e.kind is not EntryKind.EMAIL_SENT]
        changed = [new for new, was in ((erase_entry(e, stored.ticket, who, mode), e) for e in thread)
                   if new != was]
        try:
            await desk.tickets.rewrite(stored, after, entries=changed, drop_attachments=ids,
                                       text=who.scrub)
            return True
        except Stale:
            continue  # an agent changed it meanwhile: erase what they wrote too
    raise RuntimeError(f"ticket {number} kept changing while it was erased")


async def _tickets(run: Run) -> int:
    done = 0
    started = time.monotonic()
    numbers = run.numbers
    while int(run.job.get("cursor") or 0) < len(numbers):
        cursor = int(run.job.get("cursor") or 0)
        if await erase_one_ticket(numbers[cursor], run):
            done += 1
        run.job["cursor"] = cursor + 1
        await run.checkpoint()
        if time.monotonic() - started > run.job.get("budget", BUDGET_SECONDS):
            raise OutOfTime()
    return done


async def _index_check(run: Run) -> int:
    """A ticket-events handler that read a ticket before it was erased may have written
    its old rows back since: each erased ticket's rows are compared with its head (as the
    repair does) and rewritten where they differ, and the address's requester rows that
    are left are deleted. How many rows were put right."""
    desk = run.desk
    fixed = 0
    for number in run.numbers:
        stored = await desk.tickets.get(number)
        if stored is None:
            continue
        rows = await desk.tickets.index_rows(stored.ticket)
        if not index_matches(stored.ticket, rows):
            fixed += await desk.tickets.write_index(stored.ticket, had=list(rows))
    if run.job["kind"] == "requester":
        fixed += await desk.tickets.drop_requester_rows(run.job["address"])
    return fixed


async def _search_logs(run: Run) -> int:
    """The resolved tickets' log: each erased ticket's lines say what its head now says;
    a requester's name and address are replaced in every line."""
    numbers = set(run.numbers)
    heads = await run.desk.tickets.heads(sorted(numbers))
    whole = run.identity_for(None) if run.job["kind"] == "requester" else None

    def line(value: dict[str, Any]) -> dict[str, Any]:
        ticket = heads.get(str(value.get("id")))
        if ticket is not None and not value.get("gone"):
            value = {**value, "requester_name": ticket.requester_name,
                     "requester_email": ticket.requester_email, "subject": ticket.subject[:200],
                     "words": ticket_tokens(ticket.subject, "", ticket.description)}
            who = run.identity_for(ticket) if whole is None else whole
            return who.scrub_any(value)
        return whole.scrub_any(value) if whole is not None else value

    return await stores.rewrite_log(run.desk.search_logs, RESOLVED_LOG, line)


async def _rate_limits(run: Run) -> int:
    return await stores.forget_address(run.desk.clients.table(RATELIMIT_TABLE), ADDRESS_LIMITS,
                                       run.job["address"])


async def _poison(run: Run) -> int:
    who = run.identity_for(None)
    return await stores.drop_poison(run.desk.clients, lambda text: who.address in text.lower())


async def _webhook_deliveries(run: Run) -> int:
    """Deliveries of the erased tickets still kept for replay or retry (their bodies hold
    the subject): removed, so no receiver is sent them after the erasure."""
    return await run.desk.webhooks.drop_deliveries_of(set(run.numbers))


# In order: the tickets first (they list what the others look for).
ERASERS: tuple[Eraser, ...] = (
    Eraser("tickets", _tickets),
    Eraser("index-check", _index_check),
    Eraser("search-logs", _search_logs),
    Eraser("webhook-deliveries", _webhook_deliveries),
    Eraser("rate-limits", _rate_limits, scope="address"),
    Eraser("poison-queues", _poison, scope="address"),
)


class OutOfTime(Exception):
    """A run used its time: the job continues from its checkpoint on the next message."""
