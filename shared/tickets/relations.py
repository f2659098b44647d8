"""Merging a duplicate into another ticket, and linking tickets: the guarded writes around
the pure rules of `shared/core/relations.py`.

Two tickets are two partitions, so neither a merge nor a link is one transaction. Each
write is guarded by the storage ETag of the head it was decided on and, when something
else got in between, decided again on the fresh head; every step can run again and does
nothing twice, so a retry of the same request (or `tools.repair`) finishes what a
failure left.

A merge is three writes:
1. the duplicate records the intent (`merging_into`), guarded by the caller's `If-Match`
   (a reply that landed first makes the merge 412, with nothing written). From then on
   the duplicate takes only notes, and mail to it goes to the target;
2. the target takes the duplicate in (its `merged` entry, the duplicate's people as Cc),
   unless it did already; a target that was closed or merged meanwhile refuses, and then
   the intent is withdrawn (`merge_cancelled`) and the caller gets 409;
3. the duplicate closes with `merged_into` (the requester's one email about it).
A reply racing either write is either in the ticket before it (each write re-reads) or
refused with 412 after it (each write moves the ticket's version).

A link is two writes, the addressed ticket first, then the other; unlinking too. The
agents' view shows a link only when both tickets hold it, and the same request again
completes a half-done one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from shared.core.errors import Conflict, HelpdeskError, NotFound, PreconditionFailed
from shared.core.models import AgentTicketView, ThreadEntry, Ticket
from shared.core.relations import (
    MAX_DEPTH,
    REVERSE,
    LinkBody,
    MergeBody,
    add_link,
    cancel_merge,
    cycle_refusal,
    duplicate_refusal,
    finish_merge,
    link_of,
    link_refusal,
    links_back,
    merge_intent,
    merge_refusal,
    parent_and_child,
    parents,
    remove_link,
    start_merge,
    take_in,
)
from shared.storage.tickets import Stale, StoredTicket
from shared.tickets.views import version_tag, view_of
from shared.tickets.workflow import RETRIES, Precondition, announce

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

TOO_FAST = "The tickets are changing too fast; try again."
T = TypeVar("T")


async def _load(number: str, *, desk: Helpdesk) -> StoredTicket:
    stored = await desk.tickets.get(number)
    if stored is None:
        raise NotFound(f"No ticket {number}.")
    return stored


def _stale(current: StoredTicket) -> PreconditionFailed:
    return PreconditionFailed("The ticket changed since you read it; here is the current one.",
                              extra={"current": view_of(current).model_dump(mode="json"),
                                     "etag": version_tag(current.version)})


async def _write(stored: StoredTicket, ticket: Ticket, entry: ThreadEntry, *,
                 desk: Helpdesk) -> None:
    """One guarded write (raises `Stale`): a new version, as every person's action makes."""
    await desk.tickets.update(ticket, entry, [], etag=stored.etag, version=stored.version + 1)
    await announce(ticket, entry.seq, entry.kind.value, stale=stored.index_keys, desk=desk)


async def _pause(attempt: int) -> None:
    # Losers of a round do not collide again in lockstep.
    await asyncio.sleep(random.uniform(0, 0.01 * (attempt + 1)))


async def _retrying(step: Callable[[], Awaitable[T]]) -> T:
    """Run `step` (read the tickets, decide, write under the versions read) again after
    each `Stale`, with a short random pause; 409 "too fast" after `RETRIES` rounds."""
    for attempt in range(RETRIES):
        try:
            return await step()
        except Stale:
            await _pause(attempt)
    raise Conflict(TOO_FAST, extra={"retry_after": 1})


# -- merging ---------------------------------------------------------------------------

async def merge(number: str, body: MergeBody, *, actor: str, if_match: str | None,
                desk: Helpdesk) -> AgentTicketView:
    """Merge ticket `number` into `body.into`; returns the duplicate as it is afterwards.

    The same merge again (a double submit, a retry after a failure) finishes it or finds
    it done, and answers the same."""
    precondition = Precondition.parse(if_match)

    async def record_intent() -> AgentTicketView | None:
        """Step 1; the duplicate if the merge is done already."""
        duplicate = await _load(number, desk=desk)
        if duplicate.ticket.merged_into == body.into:
            return view_of(duplicate)
        if duplicate.ticket.merging_into == body.into:
            return None
        if precondition is not None and not precondition.holds(duplicate):
            raise _stale(duplicate)
        target = await desk.tickets.head(body.into) if body.into != number else None
        merge_refusal(duplicate.ticket, target, body.into)
        ticket, entry = start_merge(duplicate.ticket, body.into, actor=actor,
                                    comment=body.comment, now=desk.clock())
        await _write(duplicate, ticket, entry, desk=desk)
        return None

    done = await _retrying(record_intent)
    return done if done is not None else await finish_merging(number, body.into, desk=desk)


async def finish_merging(number: str, into: str, *, desk: Helpdesk) -> AgentTicketView:
    """Steps 2 and 3 of a merge whose intent is recorded (a request, its retry, or the
    repair of one that stopped)."""
    async def finish() -> AgentTicketView:
        duplicate = await _load(number, desk=desk)
        if duplicate.ticket.merged_into == into:
            return view_of(duplicate)
        if duplicate.ticket.merging_into != into:
            raise Conflict(f"The merge of {number} into {into} was given up; see its history.")
        intent = merge_intent(duplicate.thread, into)
        actor = intent.actor if intent is not None else "helpdesk"
        target = await desk.tickets.get(into)
        if target is None or number not in target.ticket.merged_from:
            try:
                merge_refusal(duplicate.ticket, target.ticket if target else None, into)
            except HelpdeskError as refusal:
                await _cancel(number, into, refusal.detail, desk=desk)
                raise
            assert target is not None
            target_ticket, entry = take_in(target.ticket, duplicate.ticket, actor=actor,
                                           comment=intent.body if intent is not None else "",
                                           now=desk.clock())
            await _write(target, target_ticket, entry, desk=desk)  # step 2
        else:
            target_ticket = target.ticket
        closed, entry = finish_merge(duplicate.ticket, target_ticket, actor=actor,
                                     now=desk.clock())
        await _write(duplicate, closed, entry, desk=desk)  # step 3
        return view_of(await _load(number, desk=desk))

    return await _retrying(finish)


async def _cancel(number: str, into: str, reason: str, *, desk: Helpdesk) -> None:
    async def cancel() -> None:
        duplicate = await _load(number, desk=desk)
        if duplicate.ticket.merging_into != into:
            return
        ticket, entry = cancel_merge(duplicate.ticket, reason=reason, now=desk.clock())
        await _write(duplicate, ticket, entry, desk=desk)
        log.info("merge of %s into %s given up: %s", number, into, reason)

    await _retrying(cancel)


# -- links -----------------------------------------------------------------------------

async def link(number: str, body: LinkBody, *, actor: str, if_match: str | None,
               desk: Helpdesk) -> AgentTicketView:
    """Link `body.ticket` to ticket `number` as `body.kind` (what it is to `number`), on
    both tickets; returns ticket `number` as it is afterwards."""
    precondition = Precondition.parse(if_match)
    other, kind = body.ticket, body.kind

    async def this_half() -> None:
        here = await _load(number, desk=desk)
        there = await desk.tickets.head(other) if other != number else None
        mine = link_of(here.ticket, other)
        if mine is not None:
            if mine.kind is not kind or (there is not None and links_back(there, number, kind)):
                raise duplicate_refusal(mine, kind)
            return  # this half is written; the other is what is left
        if precondition is not None and not precondition.holds(here):
            raise _stale(here)
        link_refusal(here.ticket, there, other, kind)
        assert there is not None
        theirs = link_of(there, number)
        if theirs is not None and theirs.kind is not REVERSE[kind]:
            raise duplicate_refusal(theirs, kind)
        if (pair := parent_and_child(number, other, kind)) is not None:
            await _refuse_cycle(*pair, desk=desk)
        ticket, entry = add_link(here.ticket, other, kind, actor=actor, now=desk.clock())
        await _write(here, ticket, entry, desk=desk)

    async def other_half() -> None:
        there = await _load(other, desk=desk)
        if link_of(there.ticket, number) is not None:
            return
        ticket, entry = add_link(there.ticket, number, REVERSE[kind], actor=actor,
                                 now=desk.clock())
        await _write(there, ticket, entry, desk=desk)

    await _retrying(this_half)
    await _retrying(other_half)
    return view_of(await _load(number, desk=desk))


async def _refuse_cycle(parent: str, child: str, *, desk: Helpdesk) -> None:
    """Refuse a parent link when the child is the parent or above it already."""
    seen: set[str] = set()
    level = [parent]
    for _depth in range(MAX_DEPTH):
        if child in level:
            raise cycle_refusal(parent, child)
        seen.update(level)
        heads = await asyncio.gather(*(desk.tickets.head(n) for n in level))
        level = [p for h in heads if h is not None for p in parents(h) if p not in seen]
        if not level:
            return
    raise Conflict(f"Ticket {parent} has more than {MAX_DEPTH} levels of parents above it.")


async def unlink(number: str, other: str, *, actor: str, if_match: str | None,
                 desk: Helpdesk) -> AgentTicketView:
    """Remove the link between `number` and `other` from both tickets."""
    precondition = Precondition.parse(if_match)

    async def this_half() -> None:
        here = await _load(number, desk=desk)
        if link_of(here.ticket, other) is None:
            there = await desk.tickets.head(other) if other != number else None
            if there is None or link_of(there, number) is None:
                raise NotFound(f"Ticket {number} is not linked to {other}.")
            return  # this half is gone already; the other is what is left
        if precondition is not None and not precondition.holds(here):
            raise _stale(here)
        ticket, entry = remove_link(here.ticket, other, actor=actor, now=desk.clock())
        await _write(here, ticket, entry, desk=desk)

    async def other_half() -> None:
        there = await desk.tickets.get(other)
        if there is None or link_of(there.ticket, number) is None:
            return
        ticket, entry = remove_link(there.ticket, number, actor=actor, now=desk.clock())
        await _write(there, ticket, entry, desk=desk)

    await _retrying(this_half)
    await _retrying(other_half)
    return view_of(await _load(number, desk=desk))
