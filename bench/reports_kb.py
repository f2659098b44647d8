"""Report summary and knowledge-base search latency at size.

    python -m bench.reports_kb --tickets 100000 --days 365 --articles 10000 --resolved 100000

Each part starts its own Azurite (in memory):
- summary: the daily summaries that `--tickets` tickets over `--days` days produce
  (every ticket's contribution computed by shared/reports/metrics.py, summed and written as the
  rebuild writes them), then `/api/reports/summary`'s service over the whole range, by
  day and by team;
- search: `--articles` articles (title and body from a Zipf-distributed vocabulary; a
  table row and a `kb` log line each, as kb.create writes them) and `--resolved`
  resolved tickets (their `resolved` log lines, as the event handler appends them), then
  a cold worker's first search (it reads the logs), `kb.search` for three-word queries
  and `kb.similar` for a new ticket.
Latency is p50/p95 over `--samples` calls, measured in this process around the service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from azure.core.exceptions import ServiceRequestError

from bench.stack import fresh_desk
from shared.core import numbering
from shared.core.counters import Counters
from shared.core.models import Channel, EntryKind, Priority, ThreadEntry, Ticket
from shared.core.words import ticket_tokens
from shared.helpdesk import Helpdesk
from shared.kb import knowledge
from shared.kb.searchindex import SearchIndexes
from shared.reports import metrics, summaries
from shared.storage.indexing import summary
from shared.storage.kb import PARTITION, article_key

TEAMS = ["service-desk", "senior-support", "sysadmins-developers", "vendor-support"]
CATEGORIES = ["general", "access", "hardware", "software", "network", "billing"]
# Azurite keeps everything in one Node.js heap: a million rows need more than its default.
os.environ.setdefault("NODE_OPTIONS", "--max-old-space-size=8192")


def vocabulary(size: int = 4000) -> list[str]:
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 10))))
    return sorted(words)


def zipf_words(rng: random.Random, vocab: list[str], count: int) -> list[str]:
    return [vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] for _ in range(count)]


async def timed(call: Callable[[], Awaitable[Any]], samples: int) -> dict[str, float]:
    await call()  # warm the clients
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(statistics.quantiles(times, n=20)[18], 1)}


# -- summary ----------------------------------------------------------------------------


def synthetic(i: int, rng: random.Random, first: date, days: int) -> tuple[Ticket, list[ThreadEntry]]:
    created = datetime.combine(first + timedelta(days=rng.randrange(days)), datetime.min.time(),
                               tzinfo=UTC) + timedelta(minutes=rng.randrange(24 * 60))
    replied = created + timedelta(minutes=rng.randrange(5, 600))
    resolved = replied + timedelta(hours=rng.randrange(1, 96))
    done = rng.random() < 0.8
    thread = [ThreadEntry(seq=1, kind=EntryKind.CREATED, at=created, actor="r", public=True),
              ThreadEntry(seq=2, kind=EntryKind.REPLY, at=replied, actor="a", public=True)]
    if done:
        thread.append(ThreadEntry(seq=3, kind=EntryKind.RESOLVED, at=resolved, actor="a", public=True,
                                  data={"from": "open", "to": "resolved"}))
    ticket = Ticket(number=f"{i:08d}", subject="s", description="d", requester_name="R",
                    requester_email="r@example.org", priority=rng.choice(list(Priority)),
                    category=rng.choice(CATEGORIES), status="resolved" if done else "open",
                    channel=rng.choice(list(Channel)), team=rng.choice(TEAMS),
                    assignee=f"agent{rng.randrange(40)}", created_at=created, updated_at=thread[-1].at,
                    last_seq=len(thread), first_response_at=replied, resolved_at=resolved if done else None)
    return ticket, thread


async def summary_part(count: int, days: int, samples: int) -> dict[str, Any]:
    async with fresh_desk("bench-reports-") as desk:
        rng = random.Random(count)
        last = datetime.now(UTC).date()
        first = last - timedelta(days=days - 1)
        started = time.perf_counter()
        summed = metrics.total(metrics.contributions(*synthetic(i, rng, first, days)) for i in range(count))
        by_day: dict[str, dict[str, Counters]] = {}
        for (day, row), counters in summed.items():
            by_day.setdefault(day, {})[row] = counters
        await asyncio.gather(*(desk.reports.write_day(day, rows) for day, rows in by_day.items()))
        seeded = time.perf_counter() - started
        year = {"from": first.isoformat(), "to": last.isoformat()}
        result: dict[str, Any] = {"tickets": count, "days": days, "rows": len(summed),
                                  "seed_seconds": round(seeded, 1)}
        for group in ("day", "team"):
            query = summaries.parse_query({**year, "group": group})

            def read(q: summaries.ReportQuery = query) -> Awaitable[dict[str, Any]]:
                return summaries.summary(q, desk=desk)

            result[f"by_{group}"] = await timed(read, samples)
        check = await summaries.summary(summaries.parse_query(year), desk=desk)
        assert check["totals"]["created"] == count, check["totals"]["created"]
        return result


# -- search -----------------------------------------------------------------------------


async def seed_articles(desk: Helpdesk, count: int, vocab: list[str], rng: random.Random) -> list[str]:
    """Articles as kb.create leaves them: a table row each, and a line in the `kb` log."""
    titles, rows, lines = [], [], []
    now = datetime.now(UTC)
    for i in range(count):
        title = " ".join(zipf_words(rng, vocab, 5))
        body = " ".join(zipf_words(rng, vocab, 80))
        article_id = f"{i:012x}"
        article: dict[str, Any] = {"id": article_id, "title": title, "body": body, "category": "general",
                   "public": i % 2 == 0, "from_ticket": None, "author": "bench", "created_at": now,
                   "updated_at": now}
        titles.append(title)
        rows.append(("upsert", {"PartitionKey": PARTITION, "RowKey": article_key(article_id), **article}))
        words, in_title = knowledge.article_words(title, body)
        lines.append({"id": article["id"], "title": title, "snippet": body[:240], "category": "general",
                      "public": article["public"], "words": words, "title_words": in_title})
    await _submit_all(desk.clients.table("knowledge"), [rows[i:i + 100] for i in range(0, len(rows), 100)])
    await desk.search_logs.append_many(knowledge.KB_LOG, lines)
    return titles


async def seed_resolved(desk: Helpdesk, count: int, vocab: list[str], rng: random.Random) -> list[str]:
    """Resolved tickets as the event handler logs them in the `resolved` log."""
    subjects, lines = [], []
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        subject = " ".join(zipf_words(rng, vocab, 6))
        subjects.append(subject)
        at = t0 + timedelta(seconds=i)
        description = " ".join(zipf_words(rng, vocab, 30))
        ticket = Ticket(number=numbering.new_number(), subject=subject, description=description,
                        requester_name="Requester", requester_email=f"user{i % 5000}@example.org",
                        priority=Priority.NORMAL, category="general", status="resolved", channel=Channel.WEB,
                        team=rng.choice(TEAMS), assignee="agent1", created_at=at, updated_at=at, last_seq=3,
                        resolved_at=at, resolution="fixed")
        lines.append({"id": ticket.number, "words": ticket_tokens(subject, "", description), **summary(ticket),
                      "status": "resolved"})
    await desk.search_logs.append_many(knowledge.RESOLVED_LOG, lines)
    return subjects


async def _submit_all(table: Any, batches: list[list[tuple[Any, ...]]], concurrency: int = 8) -> None:
    todo = iter(batches)

    async def worker() -> None:
        for batch in todo:
            for attempt in range(3):  # the seeding's upserts may be sent again
                try:
                    await table.submit_transaction(batch)
                    break
                except ServiceRequestError:
                    if attempt == 2:
                        raise
                    await asyncio.sleep(1)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def search_part(articles: int, resolved: int, samples: int) -> dict[str, Any]:
    async with fresh_desk("bench-search-") as desk:
        rng = random.Random(articles + resolved)
        vocab = vocabulary()
        started = time.perf_counter()
        titles = await seed_articles(desk, articles, vocab, rng)
        subjects = await seed_resolved(desk, resolved, vocab, rng)
        seeded = time.perf_counter() - started
        fresh = await _open_ticket(desk, rng.choice(subjects))
        queries = [" ".join(rng.choice(titles).split()[:3]) for _ in range(2 * samples + 2)]
        picks = iter(queries)
        result: dict[str, Any] = {"articles": articles, "resolved_tickets": resolved,
                                  "seed_seconds": round(seeded, 1)}
        # A worker that has read nothing yet: its first search reads the logs.
        cold = Helpdesk(**{**desk.__dict__, "search": SearchIndexes.new()})
        started = time.perf_counter()
        await knowledge.similar(fresh, desk=cold)
        result["cold_first_search_ms"] = round((time.perf_counter() - started) * 1000, 1)
        result["kb_search"] = await timed(
            lambda: knowledge.search(next(picks), desk=desk, public_only=False), samples)
        result["kb_search_public"] = await timed(
            lambda: knowledge.search(next(picks), desk=desk, public_only=True), samples)
        result["similar"] = await timed(lambda: knowledge.similar(fresh, desk=desk), samples)
        found = await knowledge.similar(fresh, desk=desk)
        result["similar_found"] = len(found.tickets)
        return result


async def _open_ticket(desk: Helpdesk, subject: str) -> str:
    number = numbering.new_number()
    now = datetime.now(UTC)
    ticket = Ticket(number=number, subject=subject, description="the same again", requester_name="R",
                    requester_email="r@example.org", priority=Priority.NORMAL, category="general",
                    status="new", channel=Channel.WEB, created_at=now, updated_at=now, last_seq=1)
    entry = ThreadEntry(seq=1, kind=EntryKind.CREATED, at=now, actor="r", public=True, body="x")
    await desk.tickets.create(ticket, [entry], [])
    return number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--resolved", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--only", choices=("summary", "search"))
    args = parser.parse_args()
    if args.only != "search":
        print(asyncio.run(summary_part(args.tickets, args.days, args.samples)), flush=True)
    if args.only != "summary":
        print(asyncio.run(search_part(args.articles, args.resolved, args.samples)), flush=True)


if __name__ == "__main__":
    main()
