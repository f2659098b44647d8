"""A throwaway help desk for measurements: Azurite (in memory, or on disk as `make run`
keeps it), MailDev and the local host on free ports, stopped on exit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import psutil
from azure.core.exceptions import AzureError

from devhost.loader import load_registry
from devtools import services
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.storage.clients import QUEUES

BENCH_PORTAL_SECRET = "bench-only-portal-secret-not-for-azure"


@asynccontextmanager
async def fresh_desk(prefix: str, *, request_hook: Callable[[Any], None] | None = None,
                     env: dict[str, str] | None = None, mailer: Any = None
                     ) -> AsyncIterator[Helpdesk]:
    """A help desk on its own in-memory Azurite, for measuring the storage layer."""
    with services.memory_azurite(Path(tempfile.mkdtemp(prefix=prefix))) as conn:
        desk = await Helpdesk.start(Settings.from_env({"AzureWebJobsStorage": conn,
                                                       "HELPDESK_PORTAL_SECRET": BENCH_PORTAL_SECRET,
                                                       **(env or {})}),
                                    request_hook=request_hook, mailer=mailer)
        try:
            yield desk
        finally:
            await desk.close()


@dataclass(frozen=True)
class Stack:
    base_url: str
    host_pids: tuple[int, ...]
    storage: str
    maildev_url: str
    # Every process of the stack by role, for CPU accounting (`bench.run.CpuMeter`).
    pids: dict[str, int]
    # Where Azurite keeps its data; None when it keeps it in memory.
    location: Path | None = None


# Flex Consumption scales HTTP functions and each queue or timer function on instances of
# their own ("per-function scaling"), so on Azure an intake burst never shares a worker
# with the notifications it causes. `stack(split=True)` does the same here: one host
# serves HTTP with the other triggers switched off by app setting, a second host runs them.
# The daily repair (03:17 UTC) is off on both: a maintenance sweep that lands inside a
# measurement whenever a run crosses that minute is noise, not a figure.
NOT_MEASURED = ("automation_repair",)


@cache  # the registry is the same for every stack of a run
def background_functions() -> tuple[str, ...]:
    """The app's functions that are not HTTP-triggered: queues and timers."""
    return tuple(fn.get_function_name() for fn in load_registry(services.ROOT)
                 if fn.get_trigger().get_binding_name() != "httpTrigger")


def _off(names: tuple[str, ...]) -> dict[str, str]:
    return {f"AzureWebJobs.{name}.Disabled": "true" for name in names}


@contextmanager
def stack(split: bool = False, location: Path | None = None) -> Iterator[Stack]:
    """Azurite, MailDev and the local host on free ports, for one benchmark run. With a
    `location`, Azurite keeps its data in that folder, as `make run` does (`.data/azurite`).
    The folder is the caller's: it stays when the stack stops."""
    ports = services.free_ports(7)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    azurite = services.azurite(blob=ports[0], queue=ports[1], table=ports[2], location=location,
                               log_dir=log_dir)
    maildev = services.maildev(smtp=ports[3], web=ports[4], log_dir=log_dir)
    started = []
    hosts: list[subprocess.Popen[bytes]] = []
    try:
        for s in (azurite, maildev):
            s.start()
            started.append(s)
        env = {**os.environ,
               "AzureWebJobsStorage": services.azurite_connection_string(
                   blob=ports[0], queue=ports[1], table=ports[2]),
               "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports[3]),
               # One client address sends everything here; the limit is for the public.
               "HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR": "0", **_off(NOT_MEASURED)}
        plan = [(ports[5], _off(background_functions()) if split else {})]
        if split:
            plan.append((ports[6], {}))
        for port, extra in plan:
            hosts.append(_host(port, {**env, **extra}, log_dir))
        for (port, _), host in zip(plan, hosts, strict=True):
            services.wait_healthy(f"http://127.0.0.1:{port}", host, log_dir)
        yield Stack(base_url=f"http://127.0.0.1:{ports[5]}",
                    host_pids=tuple(h.pid for h in hosts), storage=env["AzureWebJobsStorage"],
                    maildev_url=f"http://127.0.0.1:{ports[4]}",
                    pids=_roles(azurite, maildev, hosts), location=location)
    finally:
        for host in hosts:
            host.terminate()
        for host in hosts:
            host.wait(20)
        for s in reversed(started):
            s.stop()


async def drained(storage: str, timeout: float = 300) -> None:
    """Wait until the host has handled every queued event (its emails sent), so that one
    run's backlog does not slow the next."""
    desk = await Helpdesk.start(Settings.from_env({"AzureWebJobsStorage": storage}))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                counts = [(await desk.clients.queue(name).get_queue_properties())
                          .approximate_message_count for name in QUEUES]
            except AzureError:  # Azurite still busy with the run before: ask again
                counts = [1]
            if not any(counts):
                return
            await asyncio.sleep(0.5)
    finally:
        await desk.close()


def _roles(azurite: services.Service, maildev: services.Service,
           hosts: list[subprocess.Popen[bytes]]) -> dict[str, int]:
    pids = {"Azurite": azurite.process.pid if azurite.process else 0,
            "MailDev": maildev.process.pid if maildev.process else 0}
    if len(hosts) == 1:
        pids["host"] = hosts[0].pid
    else:
        pids["HTTP host"], pids["queue host"] = hosts[0].pid, hosts[1].pid
    pids["load generator"] = os.getpid()
    return pids


class CpuMeter:
    """CPU time (user + system) each process tree of the stack spends inside the `with`
    blocks, summed over them: where an intake's cost goes on the shared cores. A role's
    tree is its process and the descendants it has at each reading, less the other roles'
    trees (the load generator started every other process of the stack)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.processes = {role: psutil.Process(pid) for role, pid in pids.items() if pid}
        self.seconds = dict.fromkeys(self.processes, 0.0)
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        roots = {p.pid: role for role, p in self.processes.items()}
        spent = dict.fromkeys(self.processes, 0.0)
        seen: set[int] = set()
        for role, process in self.processes.items():
            spent[role] += _cpu(process)
            for child in _descendants(process):
                if child.pid in roots or child.pid in seen:
                    continue
                seen.add(child.pid)
                spent[_owner(child, roots) or role] += _cpu(child)
        return spent

    def __enter__(self) -> CpuMeter:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        for role, spent in self._now().items():
            self.seconds[role] += spent - self._start[role]

    def per_ticket_ms(self, tickets: int) -> dict[str, float]:
        return {role: round(s * 1000 / tickets, 1) for role, s in self.seconds.items()}


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _owner(process: psutil.Process, roots: dict[int, str]) -> str | None:
    """The role of the nearest ancestor that is a role's own process."""
    try:
        return next((roots[a.pid] for a in process.parents() if a.pid in roots), None)
    except psutil.NoSuchProcess:
        return None


def _cpu(process: psutil.Process) -> float:
    try:
        return float(sum(process.cpu_times()[:2]))
    except psutil.NoSuchProcess:  # a child that ended between the readings
        return 0.0


def _host(port: int, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    with (log_dir / f"devhost-{port}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "devhost", "--port", str(port),
             "--keys-file", str(log_dir / f"keys-{port}.json"),
             "--settings", str(services.ROOT / "local.settings.example.json")],
            cwd=services.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


