"""Intake and the agents' queue page on a desk that already holds tickets (issue 21).

    python -m bench.backlog [--sizes 1000 5000 20000] [--clients 1 4 16] [--memory]
                            [--keep DIR] [--reuse DIR/20000 --sizes 20000]
    python -m bench.backlog --queue-case [--stored 1000 100000] [--active 1000 2000]

The first form is the desk as `make run` keeps it: Azurite with its data on disk (a
`--location` folder, as `.data/azurite`), MailDev and the local hosts, with `--sizes`
tickets already stored, all of them active (`--active` fewer). For each size it measures
intake (`POST /api/tickets`, as `bench.intake` does) at each of `--clients`, osTicket's
API (`POST /api/tickets.json`) at 16 clients, the CPU every process tree of the stack
spends per intake (until the queue functions have handled what the intakes queued), and
the agents' queue page (`GET /api/tickets`) p50 and p95, and on disk Azurite's save
stall (`save_stall`). `--memory` runs the same on an Azurite that keeps its data in
memory, for comparison. Seeding 20,000 tickets takes about half an hour: `--keep DIR`
leaves a copy of each seeded desk in `DIR/<size>`, and `--reuse DIR/<size>` measures a
copy of it again without seeding.

`--queue-case` times the queue page on in-memory Azurites: `--stored` tickets of which
`--active` are still active (the others closed), pairwise: by default 1,000 stored all
active against 100,000 stored of which 2,000 active (issue 21's ratio).

How the backlog is stored: first a few template tickets are made on the desk itself
through the HTTP API (`new`: an intake; `open`: an intake assigned to a team's agent, one
per team; `closed`: assigned, resolved and closed, one per team) and left until the queue
functions have handled them. Every entity in any table whose PartitionKey or RowKey holds
a template's number is its row. Each stored ticket copies one template's rows under a
number of its own (every string property's copy of the number replaced), so it has exactly
the rows a real ticket of that kind has, whatever the storage layout is. The copies are
written through the SDK as upserts, grouped by table and partition, 100 to a transaction,
`--concurrency` transactions at a time. Rows that name no ticket (the report counters, the
rate limits) are the templates' alone. The copies share their template's words and times
of day; each has a requester of its own, closed ones are spread back over the days (about
200 a day), and index rows sit in the partitions their own numbers pick (`Copy`). Keys
that sort newest first keep the template's time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from azure.core.exceptions import AzureError
from azure.data.tables import TableServiceClient as SyncTableService
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient

from bench import intake as intake_bench
from bench.entities import ACTIONS, act, api_key, post_ticket, settled, sign_in
from bench.stack import CpuMeter, Stack, drained, stack
from devtools.seed import AGENTS
from devtools.seed import seed as seed_sample_data
from shared.core import numbering
from shared.storage.indexing import ACTIVE, bucket, requester_partition

CLIENTS = (1, 4, 16)
TEAMS = ("service-desk", "senior-support", "sysadmins-developers", "vendor-support")
ME = "bob"  # the agent whose queue pages are timed: senior-support's, in devtools.seed
QUEUES = {  # the agents' queue pages, as the agent page asks for them
    "open, my team, by due": {"team": "senior-support", "status": "open", "sort": "due"},
    "unassigned": {"assignee": "none"},
    "mine": {"assignee": "me"},
}
BATCH = 100  # operations in one entity group transaction: Azure's limit
# A 20,000-ticket seeding once failed at its end on one "connection reset" after the SDK's
# own retries; a seeding takes up to an hour, so a failed transaction is sent again.
RETRIES = 5


@dataclass(frozen=True)
class Template:
    kind: str  # new, open or closed
    number: str
    rows: list[tuple[str, dict[str, Any]]]  # (table, entity)
    requester: str = ""  # its requester's address
    made: datetime = datetime.min  # when it was made (every time of it is that day's)


def agent_of(team: str) -> str:
    return next(a["id"] for a in AGENTS if a["teams"] == [team])


def make_templates(running: Stack) -> list[Template]:
    """Template tickets of each kind, made through the HTTP API and settled."""
    made: list[tuple[str, str]] = []
    agent = sign_in(running.base_url, user="sue", roles="agent,supervisor,admin",
                    email="sue@helpdesk.example.com")
    public = httpx.Client(base_url=running.base_url, timeout=60)
    try:
        made.append(("new", post_ticket(public)))
        for team in TEAMS:
            for kind in ("open", "closed"):
                number = post_ticket(public)
                act(agent, number, "assign", {"team": team, "agent": agent_of(team)})
                if kind == "closed":
                    for name in ("resolve", "close"):
                        act(agent, number, *ACTIONS[name])
                made.append((kind, number))
    finally:
        agent.close()
        public.close()
    tables = settled(running.storage)
    heads = tables.get("tickets", {})
    return [Template(kind, number,
                     [(table, dict(entity)) for table, rows in tables.items()
                      for (pk, rk), entity in rows.items() if number in pk or number in rk],
                     requester=str(heads[(number, "ticket")]["requester_email"]),
                     made=heads[(number, "ticket")]["created_at"])
            for kind, number in made]


@dataclass(frozen=True)
class Copy:
    """How one stored ticket differs from its template: its number, its own requester
    (so requester rows spread over partitions as a real desk's do), and how many days
    before the template it was made (so closed rows spread over day partitions). Every
    copy of a template string is replaced, keys and values alike; the index rows move to
    the partitions the new number picks (`bucket`), so a copy is where a real ticket with
    that number would be."""

    number: str
    days_back: int

    def requester(self) -> str:
        return f"stored-{self.number}@example.org"


def _day_strings(at: datetime) -> tuple[str, str]:
    return at.strftime("%Y-%m-%d"), at.strftime("%Y%m%d")


def renumbered(entity: dict[str, Any], template: Template, copy: Copy) -> dict[str, Any]:
    """A template's entity as the copy's: number, requester, buckets and days replaced."""
    shift = timedelta(days=copy.days_back)
    swaps = [(template.number, copy.number),
             (f"{ACTIVE}|{bucket(template.number)}", f"{ACTIVE}|{bucket(copy.number)}")]
    if template.requester:
        swaps += [(template.requester, copy.requester()),
                  (requester_partition(template.requester), copy.requester())]
    if copy.days_back:
        swaps += list(zip(_day_strings(template.made), _day_strings(template.made - shift),
                          strict=True))

    def value(v: Any) -> Any:
        if isinstance(v, str):
            for a, b in swaps:
                v = v.replace(a, b)
            return v
        if isinstance(v, datetime):
            return v - shift
        return v

    out = {k: value(v) for k, v in entity.items()}
    if entity["PartitionKey"] == bucket(template.number):  # a search word row
        out["PartitionKey"] = bucket(copy.number)
    return out


def stored_number(i: int) -> str:
    """The i-th stored ticket's number (1,000,000 + i with its check digit): distinct."""
    return numbering.new_number(lambda _: i)


async def store(storage: str, templates: list[Template], count: int, active: int,
                concurrency: int = 8, seed: int = 21) -> dict[str, Any]:
    """`count` tickets copied from the templates, `active` of them new or open (a fifth
    new), the others closed; returns the time it took and the entities written."""
    rng = random.Random(seed)
    kinds = {kind: [t for t in templates if t.kind == kind] for kind in ("new", "open", "closed")}
    active_ones = set(rng.sample(range(count), active))
    work: asyncio.Queue[tuple[str, list[tuple[Any, ...]]] | None] = asyncio.Queue(concurrency * 4)
    written = 0

    async def batches() -> AsyncIterator[tuple[str, list[tuple[Any, ...]]]]:
        pending: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        for i in range(count):
            if i in active_ones:
                template = rng.choice(kinds["new"] if rng.random() < 0.2 else kinds["open"])
            else:
                template = rng.choice(kinds["closed"])
            number = stored_number(i)
            # Closed tickets spread back over the days, about 200 a day; active ones recent.
            copy = Copy(number, days_back=0 if i in active_ones else 1 + i // 200)
            for table, entity in template.rows:
                row = renumbered(entity, template, copy)
                pending[(table, row["PartitionKey"])].append(
                    ("upsert", row, {"mode": UpdateMode.REPLACE}))
            for where in list(pending):
                # The ticket's own partitions are complete now; shared ones fill up first.
                if number in where[1] or len(pending[where]) >= BATCH:
                    for ops in chunks(pending.pop(where)):
                        yield where[0], ops
        for (table, _), ops in pending.items():
            for chunk in chunks(ops):
                yield table, chunk

    async with TableServiceClient.from_connection_string(storage) as service:
        async def worker() -> None:
            nonlocal written
            while (item := await work.get()) is not None:
                table, ops = item
                for attempt in range(RETRIES):
                    try:
                        await service.get_table_client(table).submit_transaction(ops)
                        break
                    except AzureError:  # upserts: sending them again is harmless
                        if attempt == RETRIES - 1:
                            raise
                        await asyncio.sleep(1)
                written += len(ops)

        started = time.perf_counter()
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        try:
            async for item in batches():
                await work.put(item)
            for _ in workers:
                await work.put(None)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
        seconds = time.perf_counter() - started
    return {"tickets": count, "active": active, "entities": written,
            "seconds": round(seconds, 1), "entities_per_second": round(written / seconds)}


def chunks(ops: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    return [ops[i:i + BATCH] for i in range(0, len(ops), BATCH)]


def prepared(running: Stack, count: int, active: int) -> dict[str, Any]:
    """The desk's first start as `make run` makes it (sample agents and tickets), the
    templates, then the backlog; the figures of the seeding."""
    seed_sample_data(running.base_url)
    templates = make_templates(running)
    rows = {kind: sorted({len(t.rows) for t in templates if t.kind == kind})
            for kind in ("new", "open", "closed")}
    stored = asyncio.run(store(running.storage, templates, count, active))
    asyncio.run(drained(running.storage))
    check_stored(running, count)
    print(f"stored {stored} (rows per template ticket: {rows})", flush=True)
    return {**stored, "rows_per_ticket": rows}


def check_stored(running: Stack, count: int) -> None:
    """The first and last stored tickets read back through the agents' API, whole."""
    agent = sign_in(running.base_url, user=ME, roles="agent", email=f"{ME}@helpdesk.example.com")
    try:
        for i in sorted({0, count - 1}) if count else []:
            r = agent.get(f"/api/tickets/{stored_number(i)}")
            if r.status_code != 200 or not r.json().get("thread"):
                raise SystemExit(f"stored ticket {stored_number(i)} reads back as "
                                 f"{r.status_code} {r.text[:300]}")
    finally:
        agent.close()


# -- what is measured on the stocked desk ------------------------------------------------------

def queue_pages(running: Stack, samples: int) -> dict[str, dict[str, float]]:
    """p50 and p95 of each queue page's first page through `GET /api/tickets`."""
    agent = sign_in(running.base_url, user=ME, roles="agent", email=f"{ME}@helpdesk.example.com")
    out = {}
    try:
        for name, params in QUEUES.items():
            def page(params: dict[str, str] = params) -> None:
                r = agent.get("/api/tickets", params=params)
                r.raise_for_status()
            page()  # warm
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                page()
                times.append((time.perf_counter() - started) * 1000)
            q = statistics.quantiles(times, n=20)
            out[name] = {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(q[18], 1),
                         "load_average": round(os.getloadavg()[0], 1)}
    finally:
        agent.close()
    return out


def intake_cell(running: Stack, clients: int, *, path: str = "/api/tickets",
                headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One intake run, with the CPU of every process tree until the queue functions have
    handled the tickets it made."""
    n = max(100, clients * 20)  # as bench.run's matrix
    asyncio.run(drained(running.storage))
    with CpuMeter(running.pids) as cpu:
        result = asyncio.run(intake_bench.run(running.base_url, clients, n, 0, path=path,
                                              headers=headers))
        asyncio.run(drained(running.storage))
    # The warm-up's requests (one per client) are counted in the CPU, so it is a little high.
    per = cpu.per_ticket_ms(n + clients)
    result["cpu_ms_per_ticket"] = {**per, "total": round(sum(per.values()), 1)}
    # The machine's 1-minute load average at the end: above the two cores, something
    # outside the stack was running too, and rates and latencies are not the desk's alone
    # (CPU per intake, being each process's own time, is less affected).
    result["load_average"] = round(os.getloadavg()[0], 1)
    print(result, flush=True)
    return result


def data_size_mb(location: Path | None) -> float | None:
    if location is None:
        return None
    return round(sum(f.stat().st_size for f in location.rglob("*") if f.is_file()) / 2**20, 1)


def save_stall(running: Stack, seconds: float = 12) -> dict[str, float]:
    """How long Azurite stops answering while it saves its table database.

    On disk, LokiJS writes Azurite's whole table database as JSON (`autosaveInterval:
    5000` in its `LokiTableMetadataStore`) within 5 s of a change, and Azurite answers no
    request meanwhile. One entity is written, then one entity is read back to back for
    `seconds`: the longest read is the save's stall."""
    with SyncTableService.from_connection_string(running.storage) as service:
        table = service.create_table_if_not_exists("benchstall")
        table.upsert_entity({"PartitionKey": "stall", "RowKey": "probe", "at": time.time()})
        reads, started = [], time.perf_counter()
        while time.perf_counter() - started < seconds:
            t0 = time.perf_counter()
            table.get_entity("stall", "probe")
            reads.append((time.perf_counter() - t0) * 1000)
        service.delete_table("benchstall")
    return {"longest_read_ms": round(max(reads)), "median_read_ms": round(statistics.median(reads), 1)}


def stocked_desk(count: int, *, on_disk: bool, clients: list[int], split: bool,
                 samples: int, keep: Path | None = None, reuse: Path | None = None
                 ) -> dict[str, Any]:
    """Every figure of one backlog size, on a stack of its own. `keep`: a copy of the
    seeded Azurite folder is left there; `reuse`: such a copy is measured instead of
    seeding (it is copied first, so it stays as it was)."""
    location = Path(tempfile.mkdtemp(prefix="bench-backlog-")) / "azurite" if on_disk else None
    if reuse is not None and location is not None:
        shutil.copytree(reuse, location)
    with stack(split=split, location=location) as running:
        result: dict[str, Any] = {"stored": count, "azurite": "on disk" if on_disk else "in memory"}
        if reuse is not None:
            check_stored(running, count)
            result["seeding"] = {"tickets": count, "seconds": 0, "reused": str(reuse)}
        else:
            result["seeding"] = prepared(running, count, count)
        time.sleep(6)  # Azurite's next save (every 5 s) of what the seeding wrote
        result["data_mb_after_seeding"] = data_size_mb(location)
        if keep is not None and location is not None:
            shutil.copytree(location, keep / f"{count}", dirs_exist_ok=True)
        if location is not None:
            result["save_stall"] = save_stall(running)
            print(result["save_stall"], flush=True)
        result["queue_page"] = queue_pages(running, samples)
        print(result["queue_page"], flush=True)
        result["intake"] = [intake_cell(running, c) for c in clients]
        key = api_key(running.base_url)
        result["osticket_16"] = intake_cell(running, 16, path="/api/tickets.json",
                                            headers={"X-API-Key": key})
        result["azurite_rss_mb"] = round(
            psutil.Process(running.pids["Azurite"]).memory_info().rss / 2**20)
        result["data_mb_after"] = data_size_mb(location)
    return result


def queue_case(stored: int, active: int, *, split: bool, samples: int) -> dict[str, Any]:
    """The queue pages with `stored` tickets of which `active` are still active, on an
    in-memory Azurite."""
    with stack(split=split) as running:
        seeding = prepared(running, stored, active)
        return {"stored": stored, "active": active, "seeding": seeding,
                "queue_page": queue_pages(running, samples)}


def ratios(small: dict[str, Any], large: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {name: {p: round(large["queue_page"][name][p] / small["queue_page"][name][p], 2)
                   for p in ("p50_ms", "p95_ms")} for name in QUEUES}


# -- tables ------------------------------------------------------------------------------------

def markdown(cells: list[dict[str, Any]], cases: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    if cells:
        lines += ["| stored | Azurite | seeded in | data on disk | clients | tickets/s | "
                  "p50 / p95 / p99 ms | errors | CPU ms per intake (all processes) | load |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for cell in cells:
            seeding = cell["seeding"]
            runs = [(str(r["clients"]), r) for r in cell["intake"]]
            runs.append(("16, osTicket API", cell["osticket_16"]))
            for clients, r in runs:
                lines.append(
                    f"| {cell['stored']:,} | {cell['azurite']} | "
                    f"{'reused' if seeding.get('reused') else str(seeding['seconds']) + ' s'} | "
                    f"{cell['data_mb_after_seeding'] or ''} MB | {clients} | "
                    f"{r['tickets_per_second']} | {r['p50_ms']} / {r['p95_ms']} / {r['p99_ms']} | "
                    f"{r['errors']} | {r['cpu_ms_per_ticket']['total']} | "
                    f"{r.get('load_average', '')} |")
        roles = [k for k in cells[0]["intake"][-1]["cpu_ms_per_ticket"] if k != "total"]
        lines += ["", "| CPU ms per intake, 16 clients | " + " | ".join(roles) + " | total |",
                  "| --- |" + " --- |" * (len(roles) + 1)]
        for cell in cells:
            for name, r in (("web form", cell["intake"][-1]), ("osTicket API", cell["osticket_16"])):
                if r["clients"] != 16:
                    continue
                cpu = r["cpu_ms_per_ticket"]
                lines.append(f"| {cell['stored']:,} stored, {cell['azurite']}, {name} | "
                             + " | ".join(str(cpu.get(role, "")) for role in roles)
                             + f" | {cpu['total']} |")
        lines += ["", "| queue page p50 / p95 ms | " + " | ".join(QUEUES)
                  + " | Azurite's save stall, ms |", "| --- |" + " --- |" * (len(QUEUES) + 1)]
        for cell in cells:
            stall = cell.get("save_stall", {}).get("longest_read_ms", "")
            lines.append(f"| {cell['stored']:,} stored, {cell['azurite']} | " + " | ".join(
                f"{cell['queue_page'][q]['p50_ms']} / {cell['queue_page'][q]['p95_ms']}"
                for q in QUEUES) + f" | {stall} |")
    if cases:
        lines += ["", "| queue page p50 / p95 ms, in memory | seeded in | " + " | ".join(QUEUES)
                  + " |", "| --- | --- |" + " --- |" * len(QUEUES)]
        for case in cases:
            lines.append(f"| {case['stored']:,} stored, {case['active']:,} active | "
                         f"{case['seeding']['seconds']} s | " + " | ".join(
                             f"{case['queue_page'][q]['p50_ms']} / {case['queue_page'][q]['p95_ms']}"
                             for q in QUEUES) + " |")
        if len(cases) > 1:
            r = ratios(cases[0], cases[-1])
            lines.append("| ratio, second / first | | " + " | ".join(
                f"{r[q]['p50_ms']} / {r[q]['p95_ms']}" for q in QUEUES) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000],
                        help="tickets stored before each stocked-desk run")
    parser.add_argument("--clients", type=int, nargs="+", default=list(CLIENTS))
    parser.add_argument("--memory", action="store_true",
                        help="Azurite keeps its data in memory (default: on disk, as make run)")
    parser.add_argument("--queue-case", action="store_true",
                        help="only the queue-page case: --stored tickets, --active of them active")
    parser.add_argument("--stored", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--active", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--single-host", action="store_true",
                        help="one host runs HTTP and the queue functions (default: two, as Azure scales them)")
    parser.add_argument("--keep", type=Path,
                        help="leave a copy of each seeded on-disk desk in KEEP/<size>")
    parser.add_argument("--reuse", type=Path,
                        help="measure a copy of a desk kept by --keep (one --sizes: its count) "
                        "instead of seeding one")
    parser.add_argument("--json", default="bench/results/backlog.json")
    args = parser.parse_args()
    os.environ.setdefault("NODE_OPTIONS", "--max-old-space-size=16384")
    split = not args.single_host
    cells: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        out.write_text(json.dumps({"stocked": cells, "queue_case": cases}, indent=2))

    if args.queue_case:
        if len(args.stored) != len(args.active):
            parser.error("give as many --active counts as --stored sizes")
        for stored, active in zip(args.stored, args.active, strict=True):
            cases.append(queue_case(stored, active, split=split, samples=args.samples))
            print(cases[-1], flush=True)
            save()
    else:
        if args.reuse and (len(args.sizes) != 1 or args.memory):
            parser.error("--reuse measures one kept on-disk desk: give its size as the one --sizes")
        for size in args.sizes:
            cells.append(stocked_desk(size, on_disk=not args.memory, clients=args.clients,
                                      split=split, samples=args.samples, keep=args.keep,
                                      reuse=args.reuse))
            save()
    print(markdown(cells, cases))


if __name__ == "__main__":
    main()
