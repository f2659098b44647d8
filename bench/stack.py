"""A throwaway help desk for measurements: Azurite (in memory), MailDev and the local host
on free ports, stopped on exit."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devtools import services
from shared.helpdesk import Helpdesk
from shared.settings import Settings


@asynccontextmanager
async def fresh_desk(prefix: str, *, request_hook: Callable[[Any], None] | None = None,
                     env: dict[str, str] | None = None, mailer: Any = None
                     ) -> AsyncIterator[Helpdesk]:
    """A help desk on its own in-memory Azurite, for measuring the storage layer."""
    ports = [services.free_port() for _ in range(3)]
    azurite = services.azurite(blob=ports[0], queue=ports[1], table=ports[2], location=None,
                               log_dir=Path(tempfile.mkdtemp(prefix=prefix)))
    azurite.start()
    try:
        conn = services.azurite_connection_string(blob=ports[0], queue=ports[1],
                                                  table=ports[2])
        desk = await Helpdesk.start(Settings.from_env({"AzureWebJobsStorage": conn, **(env or {})}),
                                    request_hook=request_hook, mailer=mailer)
        try:
            yield desk
        finally:
            await desk.close()
    finally:
        azurite.stop()


@dataclass(frozen=True)
class Stack:
    base_url: str
    host_pid: int
    storage: str
    maildev_url: str


@contextmanager
def stack() -> Iterator[Stack]:
    """Azurite, MailDev and the local host on free ports, for one benchmark run."""
    ports = [services.free_port() for _ in range(6)]
    log_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    azurite = services.azurite(blob=ports[0], queue=ports[1], table=ports[2], location=None,
                               log_dir=log_dir)
    maildev = services.maildev(smtp=ports[3], web=ports[4], log_dir=log_dir)
    started = []
    host = None
    try:
        for s in (azurite, maildev):
            s.start()
            started.append(s)
        env = {**os.environ,
               "AzureWebJobsStorage": services.azurite_connection_string(
                   blob=ports[0], queue=ports[1], table=ports[2]),
               "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports[3]),
               # One client address sends everything here; the limit is for the public.
               "HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR": "0"}
        with (log_dir / "devhost.log").open("wb") as log:
            host = subprocess.Popen(
                [sys.executable, "-m", "devhost", "--port", str(ports[5]),
                 "--keys-file", str(log_dir / "keys.json"),
                 "--settings", str(services.ROOT / "local.settings.example.json")],
                cwd=services.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{ports[5]}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or host.poll() is not None:
                raise SystemExit(f"local host did not start; see {log_dir}/devhost.log")
            time.sleep(0.2)
        yield Stack(base_url=base, host_pid=host.pid, storage=env["AzureWebJobsStorage"],
                    maildev_url=f"http://127.0.0.1:{ports[4]}")
    finally:
        if host is not None:
            host.terminate()
            host.wait(20)
        for s in reversed(started):
            s.stop()
