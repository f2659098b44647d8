"""Intake throughput: POST /api/tickets from N concurrent clients.

    python -m bench.intake [--base-url URL] [--clients 16] [--tickets 2000] [--attachment-kb 0]

Without --base-url it starts its own Azurite, MailDev and local host on free ports.
Prints tickets per second, latency percentiles and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import time
from collections import Counter
from typing import Any

import httpx

from bench.stack import stack


async def run(base: str, clients: int, tickets: int, attachment_kb: int, *,
              path: str = "/api/tickets", headers: dict[str, str] | None = None) -> dict:
    """`path` and `headers` send the tickets elsewhere: osTicket's API is
    `/api/tickets.json` with an `X-API-Key` (its body names the text `message`)."""
    body: dict[str, Any] = {"name": "Bench", "email": "bench@example.org", "subject": "Bench ticket",
            "description": "x" * 500, "priority": "normal"}
    if path.endswith(".json"):
        body = {"name": "Bench", "email": "bench@example.org", "subject": "Bench ticket",
                "message": "data:text/plain," + "x" * 500}
    if attachment_kb:
        body["attachments"] = [{"filename": "blob.bin", "content_type": "application/octet-stream",
                                "data": base64.b64encode(b"\0" * attachment_kb * 1024).decode()}]
    latencies: list[float] = []
    errors = 0
    refusals: Counter[str] = Counter()  # what the failed requests got: a status, or the exception
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(tickets):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            queue.get_nowait()
            started = time.perf_counter()
            try:
                response = await client.post(path, json=body, headers=headers)
                ok = response.status_code == 201
                if not ok:
                    refusals[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                ok = False
                refusals[type(exc).__name__] += 1
            latencies.append(time.perf_counter() - started)
            errors += not ok

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        # warm-up: clients, connections, tables
        await asyncio.gather(*(client.post(path, json=body, headers=headers)
                               for _ in range(clients)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"clients": clients, "tickets": tickets, "attachment_kb": attachment_kb,
            "seconds": round(elapsed, 2), "tickets_per_second": round(tickets / elapsed, 1),
            "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1),
            "p99_ms": round(q[98] * 1000, 1), "errors": errors,
            "refusals": dict(refusals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--attachment-kb", type=int, default=0)
    parser.add_argument("--single-host", action="store_true",
                        help="one host runs HTTP and the queue functions (default: two, as Azure scales them)")
    args = parser.parse_args()

    def go(base: str) -> None:
        print(asyncio.run(run(base, args.clients, args.tickets, args.attachment_kb)))

    if args.base_url:
        go(args.base_url)
    else:
        with stack(split=not args.single_host) as running:
            go(running.base_url)


if __name__ == "__main__":
    main()
