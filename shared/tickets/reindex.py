"""Rebuilding the index from the tickets table (`python -m tools.reindex`; the daily repair
runs it when it finds the old layout).

Reads every ticket's head in number order, a page at a time, and writes the rows the ticket
calls for (`shared/storage/indexing.py`): its active or closed row, its requester row and
its search words, each an upsert, so writing them twice changes nothing. After each page
the last number done is saved in a checkpoint entity: a run stopped anywhere (a crash, a
time budget) resumes after it. Once every ticket is done, the old layout's rows (the one
partition `idx` of `ticketindex`, and the first search layout's table `ticketwords`, a
partition per word) are deleted and the checkpoint marked done; a later run
then does nothing, unless old rows appear again (an instance still on the old code wrote
some) or it is asked to start over.

A ticket changed while the run passes it writes its own rows as usual; if the run's
upsert lands after the ticket's own write, the repair finds the row out of date (it
compares each recently changed ticket's rows with the ticket) and rewrites it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.core.models import Ticket

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

PAGE = 200
CONCURRENT = 16


@dataclass
class ReindexReport:
    tickets: int = 0
    old_rows_removed: int = 0
    old_words_dropped: bool = False
    resumed_after: str = ""
    finished: bool = False
    written: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [
            f"tickets indexed: {self.tickets}"
            + (f" (resumed after {self.resumed_after})" if self.resumed_after else ""),
            "entities written: " + (", ".join(f"{table} {n}" for table, n in
                                              sorted(self.written.items())) or "none"),
            f"old index rows removed: {self.old_rows_removed}",
            f"old search table dropped: {'yes' if self.old_words_dropped else 'no'}",
            "finished" if self.finished else "not finished: run again to continue",
        ]


async def needed(desk: Helpdesk) -> bool:
    """Whether the old layout is still there, or a run stopped before it finished."""
    state = await desk.tickets.reindex_state()
    unfinished = state is not None and not state.get("done")
    return unfinished or await desk.tickets.old_layout()


async def reindex(desk: Helpdesk, *, again: bool = False, budget: float | None = None,
                  page: int = PAGE) -> ReindexReport:
    """Rebuild the index; stop (resumably) once `budget` seconds have passed."""
    report = ReindexReport()
    state = await desk.tickets.reindex_state()
    done = state is not None and bool(state.get("done"))
    if done and not again and not await desk.tickets.old_layout():
        report.finished = True
        return report
    after = "" if again or state is None or done else str(state.get("after") or "")
    report.resumed_after = after
    before = dict(desk.tickets.written)
    started = time.monotonic()
    while True:
        heads = await desk.tickets.heads_after(after, limit=page)
        for start in range(0, len(heads), CONCURRENT):
            await asyncio.gather(*(_one(ticket, desk=desk)
                                   for ticket in heads[start:start + CONCURRENT]))
        report.tickets += len(heads)
        if heads:
            after = heads[-1].number
            await desk.tickets.save_reindex_state(after=after, done=False, at=desk.clock())
        if len(heads) < page:
            break
        if budget is not None and time.monotonic() - started > budget:
            report.written = _since(before, desk)
            log.info("reindex: stopped after %s; the next run continues", after)
            return report
    while removed := await desk.tickets.drop_old_layout():
        report.old_rows_removed += removed
    report.old_words_dropped = await desk.tickets.drop_old_words()
    await desk.tickets.save_reindex_state(after=after, done=True, at=desk.clock())
    report.finished = True
    report.written = _since(before, desk)
    return report


async def _one(ticket: Ticket, *, desk: Helpdesk) -> None:
    await desk.tickets.write_index(ticket, had=[])
    await desk.tickets.write_words(ticket)


def _since(before: dict[str, int], desk: Helpdesk) -> dict[str, int]:
    return {table: n - before.get(table, 0) for table, n in desk.tickets.written.items()
            if n - before.get(table, 0)}
