"""Where one intake's CPU and storage requests go, in every process that handles it.

    .venv/bin/python -m devtools.profile_intake [--tickets 200] [--clients 16]
                                                [--runs 3] [--profile DIR] [--top 25]

It starts its own stack on free ports, as Flex Consumption runs the app: Azurite (in
memory), MailDev, one local host serving the HTTP functions and a second running the
queue and timer functions (the daily repair off on both). Then:

1. Storage requests of one intake, counted with the SDKs' request hook in this process,
   by the store method that sent them: `POST /api/tickets` through the function itself,
   then its `created` event through the queue function (acknowledgement, search words,
   rules, report fold). The local host's own queue requests (receive and delete, the
   receive shared by up to 16 messages) are not in these counts.
2. CPU per ticket of each process (user + system, psutil), `--runs` times on a fresh
   stack: `--tickets` intakes from `--clients` concurrent clients, each with its own
   requester address (so every acknowledgement is sent), until every acknowledgement is
   in MailDev and the event queue is empty. Medians, with the spread.
3. With `--profile DIR`: one more run with both hosts under cProfile (which slows them,
   so its CPU is not reported), their profiles saved in DIR and the `--top` functions of
   each printed by own time and by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import inspect
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from devhost.loader import load_registry
from devtools import services

# The daily repair is a maintenance sweep: one landing inside a measurement is noise.
NOT_MEASURED = ("automation_repair",)
STORES = ("tickets", "idempotency", "events", "reports", "ratelimit", "ack_limit",
          "directory", "attachments", "kb", "search_logs", "clients")


def body(i: int) -> dict[str, Any]:
    return {"name": f"Requester {i}", "email": f"requester{i}@example.org",
            "subject": f"Printer on floor {i % 7} jams", "priority": "normal",
            "description": "The printer jams on every second page since this morning; "
                           "I restarted it twice and cleaned the tray. " * 5}


# -- the stack -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    base_url: str
    maildev_url: str
    smtp_port: int
    storage: str
    pids: dict[str, int]


def _background(functions: list[Any]) -> list[str]:
    return [fn.get_function_name() for fn in functions
            if fn.get_trigger().get_binding_name() != "httpTrigger"]


def _off(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    return {f"AzureWebJobs.{name}.Disabled": "true" for name in names}


@contextmanager
def stack(log_dir: Path, *, profile: Path | None = None) -> Iterator[Stack]:
    ports = services.free_ports(7)
    azurite = services.azurite(blob=ports[0], queue=ports[1], table=ports[2], location=None,
                               log_dir=log_dir)
    maildev = services.maildev(smtp=ports[3], web=ports[4], log_dir=log_dir)
    started: list[services.Service] = []
    hosts: list[subprocess.Popen[bytes]] = []
    try:
        for service in (azurite, maildev):
            service.start()
            started.append(service)
        storage = services.azurite_connection_string(blob=ports[0], queue=ports[1],
                                                     table=ports[2])
        env = {**os.environ, "AzureWebJobsStorage": storage,
               "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports[3]),
               "HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR": "0", **_off(NOT_MEASURED)}
        background = _background(list(load_registry(services.ROOT)))
        for role, port, extra in (("http", ports[5], _off(background)), ("queue", ports[6], {})):
            command = [sys.executable]
            if profile is not None:
                command += ["-m", "cProfile", "-o", str(profile / f"{role}.prof")]
            command += ["-m", "devhost", "--port", str(port),
                        "--keys-file", str(log_dir / f"keys-{port}.json"),
                        "--settings", str(services.ROOT / "local.settings.example.json")]
            with (log_dir / f"devhost-{role}.log").open("wb") as log:
                hosts.append(subprocess.Popen(command, cwd=services.ROOT, env={**env, **extra},
                                              stdout=log, stderr=subprocess.STDOUT))
        for port, host in zip(ports[5:], hosts, strict=True):
            services.wait_healthy(f"http://127.0.0.1:{port}", host, log_dir)
        yield Stack(base_url=f"http://127.0.0.1:{ports[5]}",
                    maildev_url=f"http://127.0.0.1:{ports[4]}", smtp_port=ports[3],
                    storage=storage,
                    pids={"Azurite": _pid(azurite), "MailDev": _pid(maildev),
                          "HTTP host": hosts[0].pid, "queue host": hosts[1].pid,
                          "load generator": os.getpid()})
    finally:
        for host in hosts:
            host.terminate()
        for host in hosts:
            host.wait(30)
        for service in reversed(started):
            service.stop()


def _pid(service: services.Service) -> int:
    return service.process.pid if service.process else 0




# -- 1. storage requests, counted in this process ------------------------------------------


_op: contextvars.ContextVar[str | None] = contextvars.ContextVar("op", default=None)


def _label(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def labelled(*args: Any, **kwargs: Any) -> Any:
        if _op.get() is not None:  # the outermost store call names the request
            return await method(*args, **kwargs)
        token = _op.set(name)
        try:
            return await method(*args, **kwargs)
        finally:
            _op.reset(token)
    return labelled


def _instrument(desk: Any) -> None:
    """Name every storage request after the store method that sent it."""
    for field in STORES:
        store = getattr(desk, field, None)
        if store is None:
            continue
        for name, method in inspect.getmembers(store, inspect.iscoroutinefunction):
            if not name.startswith("_"):
                setattr(store, name, _label(f"{field}.{name}", method))


class Requests:
    def __init__(self) -> None:
        self.by_op: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.on = False

    def __call__(self, request: Any) -> None:
        if not self.on:
            return
        r = request.http_request
        path = urlsplit(r.url).path.split("/")  # /<account>/<table, container or queue>…
        target = path[2] if len(path) > 2 else ""
        self.by_op[_op.get() or "(other)"] += 1
        self.by_kind[f"{r.method} {target.split('(')[0]}"] += 1

    def take(self) -> dict[str, Any]:
        out = {"requests": sum(self.by_op.values()), "by store method": dict(self.by_op),
               "by HTTP request": dict(self.by_kind)}
        self.by_op.clear()
        self.by_kind.clear()
        return out


async def count_requests(running: Stack) -> dict[str, Any]:
    import dataclasses

    import azure.functions as func
    from azure.functions.queue import QueueMessage

    import functions.deps
    from shared.core.settings import Settings
    from shared.helpdesk import Helpdesk
    from shared.storage.events import EventQueue

    counter = Requests()
    env = {**_example_settings(), **os.environ, "AzureWebJobsStorage": running.storage,
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(running.smtp_port),
           "HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR": "0"}
    started = await Helpdesk.start(Settings.from_env(env), request_hook=counter)
    queue = started.clients.queue(f"profile-events-{os.getpid()}")
    await queue.create_queue()
    desk = dataclasses.replace(started, events=EventQueue(queue))
    _instrument(desk)
    functions.deps._desk = desk  # the functions below use this desk
    registry = {fn.get_function_name(): fn.get_user_function()
                for fn in load_registry(services.ROOT)}
    intake, notify = registry["intake_create"], registry["notifications_send"]

    async def one(i: int) -> dict[str, dict[str, Any]]:
        import json

        req = func.HttpRequest("POST", "/api/tickets", body=json.dumps(body(i)).encode(),
                               headers={"content-type": "application/json"})
        counter.on = True
        response = await intake(req)
        counter.on = False
        assert response.status_code == 201, response.get_body()
        results = {"intake (HTTP host)": counter.take()}
        messages = [m async for m in queue.receive_messages(max_messages=32)]
        assert len(messages) == 1
        counter.on = True
        await notify(QueueMessage(body=messages[0].content.encode(), dequeue_count=1))
        counter.on = False
        results["created event (queue host)"] = counter.take()
        counter.on = True
        await notify(QueueMessage(body=messages[0].content.encode(), dequeue_count=2))
        counter.on = False
        results["created event redelivered"] = counter.take()
        await queue.delete_message(messages[0])
        return results

    try:
        await one(0)  # warm: directory cached, connections open
        return await one(1)
    finally:
        await queue.delete_queue()
        functions.deps._desk = None
        await desk.close()


def _example_settings() -> dict[str, str]:
    import json

    values = json.loads((services.ROOT / "local.settings.example.json").read_text())["Values"]
    return {k: str(v) for k, v in values.items()}


# -- 2. CPU per process ----------------------------------------------------------------------


class CpuMeter:
    def __init__(self, pids: dict[str, int]) -> None:
        self.processes = {role: psutil.Process(pid) for role, pid in pids.items() if pid}
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        return {role: sum(p.cpu_times()[:2]) for role, p in self.processes.items()}

    def spent(self) -> dict[str, float]:
        return {role: now - self.start[role] for role, now in self._now().items()}


async def load(running: Stack, *, tickets: int, clients: int) -> tuple[dict[str, float], float]:
    """CPU seconds per process for `tickets` intakes and their events; and the wall time."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=running.base_url, timeout=60, limits=limits) as client, \
            httpx.AsyncClient(base_url=running.maildev_url, timeout=30) as mail:
        # warm-up: connections, caches, the queue host's first poll
        warm = await asyncio.gather(*(client.post("/api/tickets", json=body(-1 - i))
                                      for i in range(clients)))
        assert all(r.status_code == 201 for r in warm), [r.text for r in warm]
        await _settled(mail, running, clients)
        await mail.delete("/email/all")
        pending = list(range(tickets))
        errors: Counter[int] = Counter()
        meter = CpuMeter(running.pids)
        started = time.perf_counter()

        async def worker() -> None:
            while pending:
                i = pending.pop()
                response = await client.post("/api/tickets", json=body(i))
                if response.status_code != 201:
                    errors[response.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
        await _settled(mail, running, tickets)
        spent, wall = meter.spent(), time.perf_counter() - started
        if errors:
            print(f"  failed intakes: {dict(errors)}", file=sys.stderr)
        return spent, wall


async def _settled(mail: httpx.AsyncClient, running: Stack, expected: int) -> None:
    """Until MailDev holds `expected` emails and the queue host has nothing left to do."""
    from azure.storage.queue.aio import QueueClient

    deadline = time.monotonic() + 300
    async with QueueClient.from_connection_string(running.storage, "ticket-events") as queue:
        while time.monotonic() < deadline:
            count = len((await mail.get("/email")).json())
            waiting = (await queue.get_queue_properties()).approximate_message_count
            if count >= expected and not waiting:
                await asyncio.sleep(0.5)  # the last handler's report fold after its email
                return
            await asyncio.sleep(0.2)
    raise SystemExit(f"only {count} of {expected} acknowledgements arrived")


# -- 3. profiles ------------------------------------------------------------------------------


AREAS = (  # (what a path contains, the area it is counted in), first match wins
    ("/email/", "stdlib email (composing mail, HTTP dates; transactions: shared/storage)"),
    ("azure/data/tables", "azure.data.tables"), ("azure/storage", "azure.storage (queue, blob)"),
    ("azure/core", "azure.core (pipeline, policies, serialisation)"),
    ("aiohttp", "aiohttp"), ("yarl", "aiohttp"), ("multidict", "aiohttp"),
    ("asyncio", "asyncio"), ("selectors", "asyncio"), ("jinja2", "jinja2"),
    ("pydantic", "pydantic"), ("/shared/", "the desk (shared/)"),
    ("/functions/", "the desk's functions"), ("/devhost/", "devhost"),
    ("site-packages", "other packages"),
)


def _area(path: str) -> str | None:
    """The area of a file; None for built-ins and the rest of the standard library,
    whose time is counted in the area of whoever called them."""
    if path == "~" or path.startswith("<frozen") or ("python3" in path and "site-packages" not in path
                       and "/email/" not in path and "asyncio" not in path):
        return None
    return next((label for part, label in AREAS if part in path), "other")


def areas(stats: pstats.Stats) -> dict[str, float]:
    """Own time by area, that of built-ins and of the standard library given to their
    callers' areas in proportion; time waiting in `epoll` (idle) left out."""
    table = stats.stats  # type: ignore[attr-defined]
    memo: dict[Any, dict[str, float]] = {}

    def shares(func: Any, seen: frozenset[Any]) -> dict[str, float]:
        if func in memo:
            return memo[func]
        area = _area(func[0])
        if area is not None:
            return {area: 1.0}
        callers = table.get(func, (0, 0, 0, 0, {}))[4]
        weights = {c: (w[2] or w[1] or 1) for c, w in callers.items() if c not in seen}
        total = sum(weights.values())
        out: defaultdict[str, float] = defaultdict(float)
        for caller, weight in weights.items():
            for name, part in shares(caller, seen | {func}).items():
                out[name] += part * weight / total
        result = dict(out) or {"standard library (top level)": 1.0}
        memo[func] = result
        return result

    out: defaultdict[str, float] = defaultdict(float)
    for func, (_, _, own, _, _) in table.items():
        if "epoll" in func[2]:
            continue
        for name, part in shares(func, frozenset()).items():
            out[name] += own * part
    return dict(out)


def top(path: Path, n: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    shares = areas(stats)
    busy = sum(shares.values())
    print(f"{path.stem} host: {busy:.2f} s busy under cProfile (idle epoll left out)\n", file=out)
    for area, own in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"    {own / busy:6.1%}  {area}", file=out)
    stats.strip_dirs()
    for key, label in (("tottime", "own time"), ("cumulative", "cumulative")):
        print(f"\n-- by {label} (a coroutine counts one call per resumption)", file=out)
        stats.sort_stats(key).print_stats(n)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.profile_intake",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="save the hosts' cProfile output here")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="profile-intake-"))

    with stack(log_dir) as running:
        counted = asyncio.run(count_requests(running))
    print("## Storage requests per intake (this process, through the functions)\n")
    for phase, result in counted.items():
        print(f"{phase}: {result['requests']}")
        for name, n in sorted(result["by store method"].items(), key=lambda kv: -kv[1]):
            print(f"    {n:3d}  {name}")
        print("    by HTTP request: " + ", ".join(
            f"{k} {v}" for k, v in sorted(result["by HTTP request"].items())))

    runs: list[dict[str, float]] = []
    for run in range(args.runs):
        with stack(log_dir / f"run{run}") as running:
            spent, wall = asyncio.run(load(running, tickets=args.tickets, clients=args.clients))
        per_ticket = {role: s * 1000 / args.tickets for role, s in spent.items()}
        per_ticket["total"] = sum(per_ticket.values())
        runs.append(per_ticket)
        print(f"run {run + 1}: {args.tickets / wall:.1f} tickets/s; " + ", ".join(
            f"{role} {ms:.1f}" for role, ms in per_ticket.items()), file=sys.stderr)
    print(f"\n## CPU ms per ticket, {args.clients} clients, {args.tickets} tickets, "
          f"median of {args.runs} (spread)\n")
    print("| " + " | ".join(runs[0]) + " |")
    print("| " + " | ".join("---" for _ in runs[0]) + " |")
    print("| " + " | ".join(
        f"{statistics.median(r[role] for r in runs):.1f} "
        f"({min(r[role] for r in runs):.1f}–{max(r[role] for r in runs):.1f})"
        for role in runs[0]) + " |")

    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        with stack(log_dir / "profiled", profile=args.profile) as running:
            asyncio.run(load(running, tickets=args.tickets, clients=args.clients))
        for role in ("http", "queue"):
            print("\n## " + top(args.profile / f"{role}.prof", args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
