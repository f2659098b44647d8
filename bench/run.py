"""`make bench`: every scenario of the benchmark, one markdown table and a JSON file.

    python -m bench.run [--sizes 1000 10000 100000] [--runs 3] [--only SCENARIO ...]

Each cell of the intake matrix gets a fresh Azurite, MailDev and pair of local hosts
(HTTP functions on one, queue and timer functions on the other, as Azure scales them), and
so does the notification-latency run. The storage ceiling is measured on the cell's own
Azurite, between its intake runs: the same writes one intake makes (ticket transaction,
index transaction, queue message, and the blob when there is an attachment), straight
through the storage layer, at the same concurrency. The storage-level scenarios (requests,
queue page, sweep, long ticket) run in this process on in-memory Azurites of their own.
Every timing is the median of `--runs` runs, with the spread. Issue 21's scenarios run
once each: `entities` (entities written per intake and per agent action,
`bench.entities`), `backlog` (intake, CPU per intake and queue pages with `--backlog`
tickets already stored, Azurite on disk as `make run` keeps it, `bench.backlog`) and
`queue_case` (the queue page with most stored tickets closed, `--queue-case`). Results go
to bench/results/latest.json (`--json`) after each scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from azure.core.exceptions import AzureError

from bench import backlog, entities, queue_page, requests, sweep
from bench import intake as intake_bench
from bench.stack import CpuMeter, Stack, drained, fresh_desk, stack
from shared.core import numbering
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.core.models import AttachmentUpload, Channel, EntryKind, Priority, ThreadEntry, Ticket
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.storage.events import EventQueue
from shared.storage.tickets import NumberTaken
from shared.tickets import actionbodies, workflow
from shared.tickets.views import read_ticket

CLIENTS = (1, 4, 16, 64)
OSTICKET = {0: 69.0, 100: 57.0}  # tickets/s at 16 clients through its API, this machine kind


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1)}


# -- storage ceiling ---------------------------------------------------------------------------

async def ceiling(storage: str, clients: int, count: int, attachment_kb: int
                  ) -> tuple[float, int]:
    """Tickets per second written straight through the storage layer, and how many of
    them failed (a storage timeout while Azurite is saturated): those do not count."""
    started_desk = await Helpdesk.start(Settings.from_env({"AzureWebJobsStorage": storage}))
    # Its queue messages go to a queue of its own: the host must not spend the measured
    # time handling them, nor the next run draining them.
    queue = started_desk.clients.queue(f"bench-ceiling-{time.time_ns()}")
    await queue.create_queue()
    desk = dataclasses.replace(started_desk, events=EventQueue(queue))
    data = b"\0" * attachment_kb * 1024
    todo = iter(range(count))
    errors = 0
    now = datetime.now(UTC)
    # Due tomorrow, as an intake's SLA makes it: a ticket due now would have the host's
    # SLA sweep escalate every ceiling ticket, on the CPU the next measurement needs.
    later = now + timedelta(days=1)

    async def worker() -> None:
        nonlocal errors
        for _ in todo:
            try:
                await intake_writes()
            except AzureError:
                errors += 1

    async def intake_writes() -> None:
        t = Ticket(number=numbering.new_number(), subject="c", description="x" * 500,
                   requester_name="B", requester_email="b@example.org",
                   priority=Priority.NORMAL, category="general", status="new",
                   channel=Channel.WEB, created_at=now, updated_at=now, last_seq=3,
                   due_at=later, sla_check_at=later)
        entries = [ThreadEntry(seq=i, kind=EntryKind.CREATED if i == 1 else EntryKind.SLA,
                               at=now, actor="b", public=True, body="x" * 500)
                   for i in (1, 2, 3)]
        stored = [await desk.attachments.put(AttachmentUpload(filename="a", data=data),
                                             number=t.number, entry=1)] if data else []
        while True:
            try:
                await desk.tickets.create(t, entries, stored)
                break
            except NumberTaken:  # intake draws again too
                t = t.model_copy(update={"number": numbering.new_number()})
        await desk.tickets.write_index(t, had=[])
        await desk.events.publish(TicketEvent(ticket=t.number, seq=1, kind="bench",
                                              indexed=True))

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return (count - errors) / (time.perf_counter() - started), errors
    finally:
        await queue.delete_queue()
        await desk.close()


# -- intake over HTTP, with the host's memory ------------------------------------------------

class PeakRss:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tickets_for(clients: int) -> int:
    return max(100, clients * 20)


# -- notification latency ----------------------------------------------------------------------

async def notification_latency(running: Stack, rate: float, seconds: float) -> list[float]:
    """201 of an intake → the acknowledgement listed by MailDev, at a steady rate.

    The watcher asks MailDev every 50 ms and deletes what it has seen, so the list it
    reads stays short and the figure is not the cost of reading a growing mailbox."""
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    tag = f"{time.time_ns()}"
    async with httpx.AsyncClient(base_url=running.base_url, timeout=30) as client, \
            httpx.AsyncClient(base_url=running.maildev_url, timeout=30) as mail:
        await mail.delete("/email/all")  # the intake runs' acknowledgements

        async def submit(i: int) -> None:
            address = f"lat-{tag}-{i}@example.org"
            r = await client.post("/api/tickets", json={
                "name": "L", "email": address, "subject": "latency", "description": "d"})
            if r.status_code == 201:
                sent[address] = time.perf_counter()

        async def watch(until: float) -> None:
            while time.perf_counter() < until and (len(arrived) < len(sent) or not sent):
                seen = time.perf_counter()
                for message in (await mail.get("/email")).json():
                    for to in message.get("to", []):
                        if to.get("address", "") in sent:
                            arrived.setdefault(to["address"], seen)
                    await mail.delete(f"/email/{message['id']}")
                await asyncio.sleep(0.05)

        count = int(rate * seconds)
        watcher = asyncio.create_task(watch(time.perf_counter() + seconds + 60))
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(submit(i)))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)
        await watcher
        await mail.delete("/email/all")
    return [(arrived[a] - sent[a]) * 1000 for a in sent if a in arrived]


# -- a ticket with a long thread ---------------------------------------------------------------

async def long_ticket(entries: int, samples: int) -> dict[str, float]:
    async with fresh_desk("bench-long-") as desk:
        from shared.tickets import intake

        number = (await intake.submit_ticket(
            {"name": "L", "email": "l@example.org", "subject": "long", "description": "d"}, [],
            desk=desk)).number
        while (await desk.tickets.get(number)).ticket.last_seq < entries:  # type: ignore[union-attr]
            await workflow.act(number, Action.NOTE,
                               actionbodies.parse_body(Action.NOTE, {"body": "n" * 300}),
                               actor="a", roles=frozenset({"agent"}), if_match=None, desk=desk)

        async def view() -> None:
            await read_ticket(number, desk=desk)

        return await queue_page.timed(view, samples)


# -- the whole run -----------------------------------------------------------------------------

def versions() -> dict[str, str]:
    def out(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return "?"
    azurite = json.loads(Path("node_modules/azurite/package.json").read_text())["version"]
    return {"python": platform.python_version(), "node": out("node", "--version"),
            "azurite": azurite, "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total // 2**30} GiB"}


SCENARIOS = ("intake", "notifications", "requests", "queue_page", "sweep", "long_ticket",
             "entities", "backlog", "queue_case")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="+", default=list(CLIENTS),
                        help="the intake matrix's client counts")
    parser.add_argument("--attachment-kb", type=int, nargs="+", default=[0, 100],
                        help="the intake matrix's attachment sizes (0: none)")
    parser.add_argument("--backlog", type=int, nargs="+", default=[1000, 5000, 20000],
                        help="tickets stored before each run of the desk with its Azurite on "
                             "disk (bench.backlog)")
    parser.add_argument("--queue-case", type=int, nargs=4, default=[1000, 1000, 100_000, 2000],
                        metavar=("STORED", "ACTIVE", "STORED", "ACTIVE"),
                        help="the queue page with most tickets closed: two backlogs compared")
    parser.add_argument("--entity-tickets", type=int, default=20,
                        help="tickets taken through each step when counting entities")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--json", default="bench/results/latest.json")
    parser.add_argument("--single-host", action="store_true",
                        help="one host runs HTTP and the queue functions (default: two, as Azure scales them)")
    args = parser.parse_args()
    # Azurite keeps everything in one Node heap; 100,000 tickets are ~1.7 million entities.
    os.environ.setdefault("NODE_OPTIONS", "--max-old-space-size=16384")
    only = set(args.only)
    command = "python -m bench.run " + " ".join(sys.argv[1:]) if sys.argv[1:] else "make bench"
    result: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                              "versions": versions(), "command": command}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after each scenario, so a run cut short keeps what it measured
        out.write_text(json.dumps(result, indent=2))

    if only & {"intake", "notifications"}:
        result["hosts"] = "one host" if args.single_host else "HTTP and queue functions on two hosts"
    if "intake" in only:
        result["intake"], peaks = intake_matrix(not args.single_host, args.runs,
                                                args.clients, args.attachment_kb)
        result["host_peak_rss_mb"], result["worker_peak_rss_mb"] = peaks
        save()
    if "notifications" in only:
        with stack(split=not args.single_host) as running:
            latencies = []
            for _ in range(args.runs):
                asyncio.run(drained(running.storage))
                latencies.append(asyncio.run(notification_latency(running, 10, 15)))
            result["notification_ms"] = {
                "p50": spread([statistics.median(x) for x in latencies]),
                "p95": spread([statistics.quantiles(x, n=20)[18] for x in latencies])}
            print(result["notification_ms"], flush=True)
        save()
    if "requests" in only:
        result["requests"] = {k: v["requests"] for k, v in asyncio.run(requests.measure()).items()}
        save()
    if "queue_page" in only:
        result["queue_page"] = []
        for n in args.sizes:
            result["queue_page"].append(asyncio.run(queue_page.measure(n, 50)))
            print(result["queue_page"][-1], flush=True)
            save()
    if "sweep" in only:
        result["sweep"] = [asyncio.run(sweep.measure(n, 100, 5)) for n in args.sizes]
        save()
    if "entities" in only:
        with stack(split=not args.single_host) as running:
            result["entities"] = entities.measure(running, args.entity_tickets)
        save()
    if "backlog" in only:
        result["backlog"] = []
        for size in args.backlog:
            result["backlog"].append(backlog.stocked_desk(
                size, on_disk=True, clients=[c for c in args.clients if c <= 16],
                split=not args.single_host, samples=50))
            save()
    if "queue_case" in only:
        result["queue_case"] = []
        stored, active = args.queue_case[0::2], args.queue_case[1::2]
        for n, a in zip(stored, active, strict=True):
            result["queue_case"].append(backlog.queue_case(n, a, split=not args.single_host,
                                                           samples=50))
            save()
    if "long_ticket" in only:
        result["long_ticket_200"] = asyncio.run(long_ticket(200, 30))
        save()
    print(markdown(result))


def intake_matrix(split: bool, runs_per_cell: int, client_counts: list[int], sizes_kb: list[int]
                  ) -> tuple[list[dict[str, Any]], tuple[float, float]]:
    """Every cell on a fresh stack: Azurite answers a partition query by scanning the whole
    table, so on one long-lived stack each cell would run slower than the one before it
    (the queue functions read each new ticket back), whatever the code did. Returns the
    rows and the peak resident memory (MB) of the HTTP host and of the queue host."""
    rows = []
    peak_http = peak_queue = 0
    for kb in sizes_kb:
        for clients in client_counts:
            n = tickets_for(clients)
            runs, roof, roof_errors = [], [], 0
            with stack(split=split) as running, PeakRss(running.host_pids[0]) as rss, \
                    PeakRss(running.host_pids[-1]) as worker:
                intake_cpu, ceiling_cpu = CpuMeter(running.pids), CpuMeter(running.pids)
                for _ in range(runs_per_cell):
                    asyncio.run(drained(running.storage))
                    with intake_cpu:
                        runs.append(asyncio.run(intake_bench.run(running.base_url, clients, n,
                                                                 kb)))
                    asyncio.run(drained(running.storage))
                    with ceiling_cpu:
                        rate, failed = asyncio.run(ceiling(running.storage, clients, n, kb))
                    roof.append(rate)
                    roof_errors += failed
            peak_http, peak_queue = max(peak_http, rss.peak), max(peak_queue, worker.peak)
            row = {"clients": clients, "attachment_kb": kb,
                   "tickets_per_second": spread([r["tickets_per_second"] for r in runs]),
                   "p50_ms": spread([r["p50_ms"] for r in runs]),
                   "p95_ms": spread([r["p95_ms"] for r in runs]),
                   "p99_ms": spread([r["p99_ms"] for r in runs]),
                   "errors": sum(r["errors"] for r in runs),
                   "refusals": dict(sum((Counter(r["refusals"]) for r in runs), Counter())),
                   "ceiling_per_second": spread(roof),
                   "ceiling_errors": roof_errors,
                   # The intake run's own warm-up requests are counted in, so a little high.
                   "cpu_ms_per_ticket": intake_cpu.per_ticket_ms(n * runs_per_cell),
                   "ceiling_cpu_ms_per_ticket": ceiling_cpu.per_ticket_ms(n * runs_per_cell)}
            row["ratio_to_ceiling"] = round(row["tickets_per_second"]["median"]
                                            / row["ceiling_per_second"]["median"], 2)
            rows.append(row)
            print(row, flush=True)
    return rows, (round(peak_http / 2**20, 1), round(peak_queue / 2**20, 1))


def errors(row: dict[str, Any]) -> str:
    """How many intakes failed, and what they got (`15 (503: 15)`)."""
    got = ", ".join(f"{k}: {v}" for k, v in sorted(row.get("refusals", {}).items()))
    return f"{row['errors']} ({got})" if got else str(row["errors"])


def timed_out(row: dict[str, Any]) -> str:
    failed = row.get("ceiling_errors", 0)
    return f" ({failed} timed out)" if failed else ""


def cpu_table(rows: list[dict[str, Any]]) -> list[str]:
    """CPU milliseconds per ticket by process, at 16 clients: intake beside its ceiling."""
    lines = ["", "| CPU ms per ticket, 16 clients | " + " | ".join(rows[0]["cpu_ms_per_ticket"])
             + " | total |", "| --- |" + " --- |" * (len(rows[0]["cpu_ms_per_ticket"]) + 1)]
    for row in rows:
        if row["clients"] != 16:
            continue
        kind = "100 KB file" if row["attachment_kb"] else "no file"
        for name, cpu in (("intake", row["cpu_ms_per_ticket"]),
                          ("ceiling", row["ceiling_cpu_ms_per_ticket"])):
            lines.append(f"| {name}, {kind} | " + " | ".join(str(v) for v in cpu.values())
                         + f" | {round(sum(cpu.values()), 1)} |")
    return lines


def markdown(r: dict[str, Any]) -> str:
    v = r["versions"]
    lines = [f"Measured {r['when']} on {v['machine']}; Python {v['python']}, Node {v['node']}, "
             f"Azurite {v['azurite']}; `{r['command']}`; {r.get('hosts', 'one host')}. "
             "Medians of the runs, spread in brackets."]
    if "intake" in r:
        lines += ["", "| intake | clients | tickets/s | p50 / p95 / p99 ms | errors | ceiling/s | "
                  "ratio | vs osTicket |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in r["intake"]:
            t = row["tickets_per_second"]
            vs = f"{t['median'] / OSTICKET[row['attachment_kb']]:.2f}×" if row["clients"] == 16 else ""
            lines.append(
                f"| {'100 KB file' if row['attachment_kb'] else 'no file'} | {row['clients']} | "
                f"{t['median']} ({t['min']}–{t['max']}) | {row['p50_ms']['median']} / "
                f"{row['p95_ms']['median']} / {row['p99_ms']['median']} | {errors(row)} | "
                f"{row['ceiling_per_second']['median']}{timed_out(row)} | {row['ratio_to_ceiling']} | "
                f"{vs} |")
        lines += cpu_table(r["intake"])
    lines += ["", "| figure | value |", "| --- | --- |"]
    for name, count in r.get("requests", {}).items():
        lines.append(f"| storage requests: {name} | {count} |")
    pages = r.get("queue_page", [])
    for q in pages:
        for key in ("open, my team, by due", "unassigned", "storage alone, open, my team, by due"):
            lines.append(f"| queue page '{key}', {q['tickets']} tickets | p50 {q[key]['p50_ms']}"
                         f" ms, p95 {q[key]['p95_ms']} ms |")
    if len(pages) > 1:
        for key in ("open, my team, by due", "unassigned", "storage alone, open, my team, by due"):
            ratio = pages[-1][key]["p50_ms"] / pages[0][key]["p50_ms"]
            lines.append(f"| queue page '{key}', {pages[-1]['tickets']} / {pages[0]['tickets']} | "
                         f"{ratio:.2f} |")
    sweeps = r.get("sweep", [])
    for s in sweeps:
        lines.append(f"| SLA sweep, {s['tickets']} tickets, {s['due']} due | "
                     f"{s['sweep_ms_median']} ms ({s['sweep_ms_min']}–{s['sweep_ms_max']}) |")
    if len(sweeps) > 1:
        lines.append(f"| SLA sweep, {sweeps[-1]['tickets']} / {sweeps[0]['tickets']} | "
                     f"{sweeps[-1]['sweep_ms_median'] / sweeps[0]['sweep_ms_median']:.2f} |")
    if "notification_ms" in r:
        n = r["notification_ms"]
        lines.append(f"| notification latency at 10 tickets/s | p50 {n['p50']['median']} ms, "
                     f"p95 {n['p95']['median']} ms ({n['p95']['min']}–{n['p95']['max']}) |")
    if "long_ticket_200" in r:
        lines.append(f"| ticket view with 200 entries | p50 {r['long_ticket_200']['p50_ms']} ms, "
                     f"p95 {r['long_ticket_200']['p95_ms']} ms |")
    if "host_peak_rss_mb" in r:
        lines.append(f"| local host peak memory during intake (HTTP; queue functions) | "
                     f"{r['host_peak_rss_mb']} MB; {r['worker_peak_rss_mb']} MB |")
    if "entities" in r:
        lines += ["", entities.markdown(r["entities"])]
    if r.get("backlog") or r.get("queue_case"):
        lines += ["", backlog.markdown(r.get("backlog", []), r.get("queue_case", []))]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
