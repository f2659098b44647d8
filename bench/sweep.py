"""SLA sweep duration against the backlog: N open tickets, of which 100 are due.

    python -m bench.sweep --tickets 1000 100000 [--due 100] [--runs 5]

Starts its own Azurite (in memory) per size and writes the tickets' active index rows with
their next check time (the sweep reads only those: the active rows whose `sla_check_at`
is up to now, over the 16 partitions), then times `flow.sweep`: the reads and one
escalations-queue message per due ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.stack import fresh_desk
from shared.helpdesk import Helpdesk
from shared.sla import flow
from shared.storage.indexing import ACTIVE_TABLE, active_partition, created_key


async def seed(desk: Helpdesk, count: int, due: int, now: datetime, concurrency: int = 16
               ) -> float:
    """The active rows of `count` open tickets, `due` of them due, with only what the
    sweep reads (status and the next check time), 100 to a transaction per partition."""
    rng = random.Random(count)
    batches = iter(range(0, count, 100))

    async def worker() -> None:
        for start in batches:
            by_partition: dict[str, list[tuple[str, dict]]] = {}
            for i in range(start, min(start + 100, count)):
                at = now - timedelta(minutes=1) if i < due else \
                    now + timedelta(minutes=rng.randrange(5, 72 * 60))
                number = f"{10_000_000 + i}"
                by_partition.setdefault(active_partition(number), []).append(
                    ("upsert", {"PartitionKey": active_partition(number),
                                "RowKey": created_key(now, number), "number": number,
                                "status": "open", "sla_check_at": at}))
            for ops in by_partition.values():
                await index.submit_transaction(ops)

    index = desk.clients.table(ACTIVE_TABLE)
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
            run = await flow.sweep(desk, now=now)
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
