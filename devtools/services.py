"""Start and stop the local services the help desk needs: Azurite, MailDev and Dovecot.

Azurite and MailDev come from the npm registry through the project's `package.json` and
run from `node_modules`; Dovecot from Debian's packages, with the files of
`devtools/dovecot.py`. A service counts as started only when the process we spawned is the one
listening on its ports: another process may already hold the default ports (a running
`make run`, say), and a test that talked to it would prove nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from devtools import dovecot as dovecot_files

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class ServiceError(RuntimeError):
    """A local service could not be started, or something else answers on its port."""


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports. The sockets stay bound until all are
    chosen, so the system cannot hand out the same port twice (it did: Azurite's
    blob and queue services were once given one port and Azurite exited)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_healthy(base: str, host: subprocess.Popen[bytes], log_dir: Path) -> None:
    """Until the local host at `base` answers its health check (a minute at most)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline or host.poll() is not None:
            raise SystemExit(f"a local host did not start; see the logs in {log_dir}")
        time.sleep(0.2)


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class PortHolder:
    """A process listening on a port, as /proc shows it."""

    pid: int
    command: str


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (TCP, IPv4 or IPv6), from /proc/net."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the inode.
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holders(port: int) -> list[PortHolder]:
    """The processes listening on `port` that this user may look at (another user's
    processes do not show their sockets without root)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if not any(os.readlink(fd) in wanted for fd in (proc / "fd").iterdir()):
                continue
            raw = (proc / "cmdline").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        command = " ".join(raw.decode(errors="replace").replace("\0", " ").split())
        holders.append(PortHolder(int(proc.name), command))
    return holders


def describe_busy_ports(ports: Iterable[tuple[str, int]]) -> str | None:
    """None when every port is free; otherwise which process holds which port and how to
    stop it. `ports` are (label, port) pairs, e.g. ("Azurite blob", 10000)."""
    busy = [(label, port) for label, port in ports if port_is_open(port)]
    if not busy:
        return None
    by_pid: dict[int, tuple[PortHolder, list[str]]] = {}
    unknown = []
    for label, port in busy:
        holders = port_holders(port)
        if not holders:
            unknown.append(f"{port} ({label})")
        for holder in holders:
            by_pid.setdefault(holder.pid, (holder, []))[1].append(f"{port} ({label})")
    lines = []
    for pid, (holder, taken) in sorted(by_pid.items()):
        command = holder.command if len(holder.command) <= 160 else holder.command[:157] + "..."
        leftover = " (a previous `make run` that did not stop?)" if _ours(holder.command) else ""
        lines.append(f"port {', '.join(taken)} is held by pid {pid}{leftover}: {command}")
    for hidden in unknown:
        lines.append(f"port {hidden} is held by a process this user cannot see "
                     "(`sudo ss -ltnp` names it)")
    if by_pid:
        pids = " ".join(str(pid) for pid in sorted(by_pid))
        lines.append(f"stop it with `kill {pids}` (Azurite may need `kill -9 {pids}` a few "
                     "seconds later), or use other ports")
    return "\n".join(lines)


def _ours(command: str) -> bool:
    return str(NODE_MODULES) in command or "devhost" in command or "devtools.run" in command


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
        busy = describe_busy_ports((self.name, port) for port in self.ports)
        if busy:
            raise ServiceError(f"{self.name} cannot start:\n{busy}")
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
        "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
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
    ports = free_ports(3)
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


def dovecot(*, imap: int, imaps: int, data: Path, log_dir: Path,
            introspection_url: str | None = None) -> Service:
    """Dovecot (Debian's, see devtools/dovecot.py) on 127.0.0.1: plain IMAP with STARTTLS
    on `imap`, implicit TLS on `imaps`, mail and accounts under `data`; XOAUTH2 and
    OAUTHBEARER checked against `introspection_url` when given."""
    config = dovecot_files.write_config(data, imap_port=imap, imaps_port=imaps,
                                        introspection_url=introspection_url)
    # -F: in the foreground, so that the Service's process is Dovecot's master.
    args = [str(dovecot_files.BINARY), "-F", "-c", str(config)]
    return Service("dovecot", args, [imap, imaps], log_dir / "dovecot.log")
