"""SLA sweep duration against the backlog: N open tickets, of which 100 are due.

    python -m bench.sweep --tickets 1000 100000 [--due 100] [--runs 5]

Starts its own Azurite (in memory) per size and writes each ticket's index rows (the
sweep reads only the index: its `sweep|<next check>|<number>` rows up to now), then times
`slaflow.sweep`: the range read and one escalations-queue message per due ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.queue_page import sample_ticket
from bench.stack import fresh_desk
from shared import slaflow
from shared.helpdesk import Helpdesk


async def seed(desk: Helpdesk, count: int, due: int, now: datetime, concurrency: int = 32
               ) -> float:
    rng = random.Random(count)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            ticket = sample_ticket(i, rng, t0).model_copy(update={"status": "open"})
            check_at = now - timedelta(minutes=1) if i < due else \
                now + timedelta(minutes=rng.randrange(5, 72 * 60))
            await desk.tickets.write_index(ticket.model_copy(update={"sla_check_at": check_at}),
                                           stale=[])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def measure(count: int, due: int, runs: int) -> dict:
    async with fresh_desk("bench-sweep-") as desk:
        now = datetime.now(UTC)
        seeded = await seed(desk, count, due, now)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            run = await slaflow.sweep(desk, now=now)
            times.append((time.perf_counter() - started) * 1000)
            assert len(run.due) == due, len(run.due)
        return {"tickets": count, "due": due, "seed_seconds": round(seeded, 1),
                "sweep_ms_median": round(statistics.median(times), 1),
                "sweep_ms_min": round(min(times), 1), "sweep_ms_max": round(max(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("NODE_OPTIONS", "--max-old-space-size=16384")
    results = []
    for n in args.tickets:
        results.append(asyncio.run(measure(n, args.due, args.runs)))
        print(results[-1], flush=True)
    if len(results) > 1:
        ratio = results[-1]["sweep_ms_median"] / results[0]["sweep_ms_median"]
        print(f"sweep duration ratio {results[-1]['tickets']}/{results[0]['tickets']} = "
              f"{ratio:.2f}")


if __name__ == "__main__":
    main()
