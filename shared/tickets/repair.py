"""Settling what a storage failure left half-done (`python -m tools.repair`, and the
daily `maintenance_repair` timer).

A request that loses storage mid-way answers 503 and leaves nothing visible that a user
could act on, but it can leave work unfinished; so can a queue message lost with its
storage. This finds each kind and completes or removes it; running it again finds
nothing more (every step is idempotent):

- intake claims (`idempotency`) still `claimed` past `shared.tickets.idempotency.CLAIM_TIMEOUT`:
  the ticket exists → its index rows and created event are written again and the claim
  marked done; no ticket → the claim is released (a retry then starts afresh);
- the old index layout (one partition `idx`), or a reindex that stopped before it
  finished: `shared/tickets/reindex.py` rebuilds the index (resuming where it stopped);
- tickets changed within `since` whose index rows are not exactly the ones the ticket
  calls for, or hold an older state of it (its request stopped between the ticket write
  and the index write, or two writes of its rows landed out of order): the rows are
  rewritten and the events of its recent entries queued again (their emails are sent
  once whatever the number of deliveries, shared/notifications/notify.py);
- tickets whose acknowledgement was never recorded as sent (their created event was
  lost): the created event is queued again;
- merges stopped after their intent was recorded (a ticket still `merging_into` another):
  finished, or given up when the target no longer takes it (shared/tickets/relations.py);
- attachment blobs no ticket refers to (their request stopped before the ticket write
  or before it could delete them): deleted.

Anything younger than `grace` is left alone: it may belong to a request or a queue
message still at work.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.core.errors import Conflict, NotFound, ValidationFailed
from shared.core.events import TicketEvent
from shared.core.models import EntryKind
from shared.storage.indexing import index_matches
from shared.tickets import intake, reindex, relations
from shared.tickets.idempotency import CLAIM_TIMEOUT, claim_age

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)
# Seconds a repair run spends rebuilding the index at most; the next run continues.
REINDEX_BUDGET = 20 * 60
SINCE = timedelta(days=2)
# Attachment blobs only (`ab/<32 hex>`), never the kept original emails.


@dataclass
class RepairReport:
    claims_completed: list[str] = field(default_factory=list)
    claims_released: int = 0
    index_repaired: list[str] = field(default_factory=list)
    events_queued: list[str] = field(default_factory=list)
    merges_finished: list[str] = field(default_factory=list)
    blobs_removed: list[str] = field(default_factory=list)
    tickets_checked: int = 0
    reindexed: int = 0

    @property
    def changed(self) -> int:
        return (self.reindexed + len(self.claims_completed) + self.claims_released
                + len(self.index_repaired)
                + len(self.events_queued) + len(self.blobs_removed)
                + len(self.merges_finished))

    def lines(self) -> list[str]:
        return [
            f"tickets reindexed (old index layout): {self.reindexed}",
            f"tickets checked: {self.tickets_checked}",
            f"claims completed (ticket announced again): {len(self.claims_completed)} "
            f"{' '.join(self.claims_completed)}".rstrip(),
            f"claims released (no ticket was written): {self.claims_released}",
            f"index rows rewritten: {len(self.index_repaired)} "
            f"{' '.join(self.index_repaired)}".rstrip(),
            f"events queued again: {len(self.events_queued)} "
            f"{' '.join(self.events_queued)}".rstrip(),
            f"orphaned attachment blobs removed: {len(self.blobs_removed)}",
            f"half-done merges settled: {len(self.merges_finished)} "
            f"{' '.join(self.merges_finished)}".rstrip(),
        ]


async def repair(desk: Helpdesk, *, grace: timedelta = GRACE, since: timedelta = SINCE
                 ) -> RepairReport:
    report = RepairReport()
    now = desk.clock()
    if await reindex.needed(desk):
        rebuilt = await reindex.reindex(desk, budget=REINDEX_BUDGET)
        report.reindexed = rebuilt.tickets
        log.info("repair: reindex: %s", "; ".join(rebuilt.lines()))
    await _claims(desk, now, report)
    await _tickets(desk, now - grace, now - since, report)
    await _blobs(desk, now - grace, report)
    for line in report.lines():
        log.info("repair: %s", line)
    return report


async def _claims(desk: Helpdesk, now: datetime, report: RepairReport) -> None:
    async for claim in desk.idempotency.unsettled():
        age = claim_age(claim, now)
        if age is None or age < CLAIM_TIMEOUT:
            continue
        key = claim["PartitionKey"]
        stored = await desk.tickets.get(claim["number"])
        if stored is not None:
            if await intake.announce_created(stored.ticket, desk=desk):
                await desk.idempotency.finish(key)
                report.claims_completed.append(stored.ticket.number)
        elif await desk.idempotency.release(key, etag=claim["etag"]):
            report.claims_released += 1


async def _tickets(desk: Helpdesk, settled: datetime, since: datetime,
                   report: RepairReport) -> None:
    heads = await desk.tickets.updated_since(since)
    for ticket in heads:
        if ticket.updated_at > settled:
            continue
        report.tickets_checked += 1
        if ticket.merging_into:
            await _finish_merge(ticket.number, ticket.merging_into, desk, report)
        have = await desk.tickets.index_rows(ticket)
        stored = None
        if not index_matches(ticket, have):
            stored = await desk.tickets.get(ticket.number)
            if stored is None or stored.ticket.updated_at != ticket.updated_at:
                continue  # changed meanwhile: its own request or event sees to it
            await desk.tickets.write_index(stored.ticket, had=sorted(have))
            report.index_repaired.append(ticket.number)
            # The request that left the index behind never queued its events either.
            for entry in stored.thread:
                if entry.kind is EntryKind.EMAIL_SENT or entry.at < since:
                    continue
                event = TicketEvent(ticket=ticket.number, seq=entry.seq, kind=entry.kind.value,
                                    indexed=True)
                await desk.events.publish(event)
                if entry.kind is EntryKind.ESCALATED:
                    await desk.escalations.publish(event)
                report.events_queued.append(event.id)
            continue
        if ticket.created_at < since or not ticket.requester_email:
            continue
        stored = await desk.tickets.get(ticket.number)
        if stored is None or not _owes_acknowledgement(stored.thread):
            continue
        event = TicketEvent(ticket=ticket.number, seq=1, kind=EntryKind.CREATED.value,
                            indexed=True)
        await desk.events.publish(event)
        report.events_queued.append(event.id)


async def _finish_merge(number: str, into: str, desk: Helpdesk, report: RepairReport) -> None:
    try:
        await relations.finish_merging(number, into, desk=desk)
    except (Conflict, NotFound, ValidationFailed) as exc:  # given up: settled too
        log.info("repair: merge of %s into %s: %s", number, into, exc.detail)
    report.merges_finished.append(number)


def _owes_acknowledgement(thread: list) -> bool:
    created = next((e for e in thread if e.kind is EntryKind.CREATED), None)
    if created is None or not created.data.get("autorespond", True):
        return False
    return not any(e.kind is EntryKind.EMAIL_SENT and e.seq == created.seq
                   and e.data.get("purpose") == "ack" for e in thread)


async def _blobs(desk: Helpdesk, settled: datetime, report: RepairReport) -> None:
    candidates = await desk.attachments.files_older_than(settled)
    if not candidates:
        return
    referenced = await desk.tickets.attachment_blobs()
    for name in candidates:
        if name not in referenced:
            await desk.attachments.delete(name)
            report.blobs_removed.append(name)


def summary_json(report: RepairReport) -> str:
    return json.dumps({"claims_completed": report.claims_completed,
                       "claims_released": report.claims_released,
                       "index_repaired": report.index_repaired,
                       "events_queued": report.events_queued,
                       "blobs_removed": len(report.blobs_removed),
                       "merges_finished": report.merges_finished,
                       "tickets_checked": report.tickets_checked,
                       "reindexed": report.reindexed})
