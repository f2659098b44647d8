"""Agent queue page latency at a given backlog.

    python -m bench.queue_page --tickets 1000 100000 [--samples 50]

Starts its own Azurite (in memory) per size and seeds that many tickets' index rows,
spread over teams, statuses and assignees: the rows `write_index` writes for them (the
live row, active or closed, and the requester row, `shared/storage/indexing.py`), packed
100 to a transaction per partition. A queue page reads only the active rows (each carries
the summary the page shows), so the tickets' own partitions are not written: they would
change nothing here and take most of the seeding time. `--active` is the share of tickets
still being worked (the rest closed; default: the mix of STATUSES, one in eight closed).
Then it times the first page (50 rows) of a few queues through the service an HTTP
request calls (`list_queue`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.stack import fresh_desk
from shared.core import numbering
from shared.core.models import Channel, Priority, Ticket
from shared.helpdesk import Helpdesk
from shared.storage.indexing import index_keys, live_address, parse_address, requester_row, summary
from shared.tickets.queues import QueueQuery, list_queue

TEAMS = ["service-desk", "senior-support", "sysadmins-developers", "vendor-support"]
STATUSES = ["new", "open", "open", "open", "pending", "escalated", "resolved", "closed"]


def sample_ticket(i: int, rng: random.Random, t0: datetime, active: float | None = None
                  ) -> Ticket:
    status = rng.choice(STATUSES)
    if active is not None:
        status = rng.choice(STATUSES[:-1]) if rng.random() < active else "closed"
    at = t0 + timedelta(seconds=i)
    return Ticket(
        number=numbering.new_number(lambda _: i),  # 1,000,000 + i, checked: distinct
        subject=f"Seeded ticket {i}", description="x" * 200,
        requester_name="Seed", requester_email=f"user{i % 5000}@example.org",
        priority=rng.choice(list(Priority)), category="general", status=status,
        channel=Channel.WEB, team=None if status == "new" else rng.choice(TEAMS),
        assignee=None if status == "new" else f"agent{rng.randrange(40)}",
        created_at=at, updated_at=at, last_seq=1,
        due_at=at + timedelta(hours=rng.randrange(1, 72)),
    )


async def seed(desk: Helpdesk, count: int, concurrency: int = 4,
               active: float | None = None) -> float:
    rng = random.Random(count)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for i in range(count):
        ticket = sample_ticket(i, rng, t0, active)
        live = live_address(ticket)
        for key in index_keys(ticket):
            table, partition, row = parse_address(key) or ("", "", "")
            props = summary(ticket) if key == live else requester_row(ticket)
            groups.setdefault((table, partition), []).append(
                ("upsert", {"PartitionKey": partition, "RowKey": row, **props}))

    def transactions() -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        for (table, _partition), ops in groups.items():
            for start in range(0, len(ops), 100):
                yield table, ops[start:start + 100]

    batches = transactions()

    async def worker() -> None:
        for table, ops in batches:
            await desk.clients.table(table).submit_transaction(ops)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def timed(call, samples: int) -> dict[str, float]:
    await call()  # warm
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    q = statistics.quantiles(times, n=20)
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(q[18], 1)}


async def measure(count: int, samples: int, active: float | None = None) -> dict:
    async with fresh_desk("bench-queue-") as desk:
        seconds = await seed(desk, count, active=active)
        queries = {
            "open, my team, by due": QueueQuery(team="senior-support", status="open",
                                                sort="due"),
            "unassigned": QueueQuery(assignee="none"),
            "mine": QueueQuery(assignee="me"),
        }
        result: dict = {"tickets": count, "active_share": active,
                        "seed_seconds": round(seconds, 1)}
        for name, query in queries.items():
            async def page(query: QueueQuery = query) -> None:
                found = await list_queue(query, me="agent7", desk=desk)
                assert found.items, f"empty queue {query}"
            result[name] = await timed(page, samples)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--active", type=float, default=None,
                        help="the share of tickets still being worked (the rest closed)")
    args = parser.parse_args()
    # Azurite keeps everything in one Node heap; 100,000 tickets are ~1.5 million entities.
    os.environ.setdefault("NODE_OPTIONS", "--max-old-space-size=16384")
    results = []
    for n in args.tickets:
        results.append(asyncio.run(measure(n, args.samples, args.active)))
        print(results[-1], flush=True)
    if len(results) > 1:
        for key in ("open, my team, by due", "unassigned", "mine"):
            ratio = results[-1][key]["p50_ms"] / results[0][key]["p50_ms"]
            print(f"{key}: p50 ratio {results[-1]['tickets']}/{results[0]['tickets']} = "
                  f"{ratio:.2f}")


if __name__ == "__main__":
    main()
