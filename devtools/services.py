"""Start and stop the local services the help desk needs: Azurite and MailDev.

Both come from the npm registry through the project's `package.json` and run from
`node_modules`. A service counts as started only when the process we spawned is the one
listening on its ports: another process may already hold the default ports (a running
`make run`, say), and a test that talked to it would prove nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class ServiceError(RuntimeError):
    """A local service could not be started, or something else answers on its port."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _listening_ports(pid: int) -> set[int]:
    """Ports the process and its children listen on."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return set()
    ports: set[int] = set()
    for p in procs:
        try:
            for conn in p.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    ports.add(conn.laddr.port)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return ports


@dataclass
class Service:
    """One spawned service process and the ports it must own."""

    name: str
    args: list[str]
    ports: list[int]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 30.0) -> None:
        busy = [p for p in self.ports if port_is_open(p)]
        if busy:
            raise ServiceError(
                f"{self.name}: port(s) {busy} already in use by another process; "
                "stop it or choose other ports"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            if set(self.ports) <= _listening_ports(self.process.pid):
                return
            time.sleep(0.1)
        self.stop()
        raise ServiceError(f"{self.name} did not listen on {self.ports} within {timeout:.0f}s")

    def owns_ports(self) -> bool:
        return self.process is not None and set(self.ports) <= _listening_ports(self.process.pid)

    def stop(self, grace: float = 5.0) -> None:
        """Terminate, wait, then kill: Azurite often ignores SIGTERM after closing its listeners."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(grace)
        deadline = time.monotonic() + grace
        while any(port_is_open(p) for p in self.ports) and time.monotonic() < deadline:
            time.sleep(0.1)


def _node_script(*parts: str) -> str:
    path = NODE_MODULES.joinpath(*parts)
    if not path.exists():
        raise ServiceError(f"{path} is missing: run `npm ci` (make does it for you)")
    return str(path)


def azurite(
    *, blob: int, queue: int, table: int, location: Path | None, log_dir: Path
) -> Service:
    """Azurite with all three services; `location=None` keeps data in memory."""
    args = [
        "node", _node_script("azurite", "dist", "src", "azurite.js"),
        "--blobHost", "127.0.0.1", "--blobPort", str(blob),
        "--queueHost", "127.0.0.1", "--queuePort", str(queue),
        "--tableHost", "127.0.0.1", "--tablePort", str(table),
        "--skipApiVersionCheck", "--loose", "--silent",
    ]
    if location is None:
        args.append("--inMemoryPersistence")
    else:
        location.mkdir(parents=True, exist_ok=True)
        args += ["--location", str(location)]
    return Service("azurite", args, [blob, queue, table], log_dir / "azurite.log")


@contextmanager
def memory_azurite(log_dir: Path) -> Iterator[str]:
    """An Azurite of its own, in memory, on free ports while the block runs: its
    connection string."""
    ports = [free_port() for _ in range(3)]
    service = azurite(blob=ports[0], queue=ports[1], table=ports[2], location=None, log_dir=log_dir)
    service.start()
    try:
        yield azurite_connection_string(blob=ports[0], queue=ports[1], table=ports[2])
    finally:
        service.stop()


def maildev(*, smtp: int, web: int, log_dir: Path) -> Service:
    args = [
        "node", _node_script("maildev", "bin", "maildev"),
        "--smtp", str(smtp), "--web", str(web),
        "--ip", "127.0.0.1", "--web-ip", "127.0.0.1",
    ]
    return Service("maildev", args, [smtp, web], log_dir / "maildev.log")


def azurite_connection_string(*, blob: int, queue: int, table: int) -> str:
    base = "http://127.0.0.1"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={base}:{blob}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint={base}:{queue}/{AZURITE_ACCOUNT};"
        f"TableEndpoint={base}:{table}/{AZURITE_ACCOUNT};"
    )
