"""`make run` stops everything it started however it is stopped, and says who holds a port.

The run is started the way a user or a process manager starts it, `make run`, on free
ports and its own data folder (HELPDESK_RUN_PORTS, HELPDESK_RUN_DATA), so it can run beside
another `make run` and the test session's services. `-o install` keeps make from touching
the shared virtual environment and node_modules.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from azure.data.tables import TableServiceClient

from devtools import services
from tests.conftest import ROOT
from tests.support import MailDev

NAMES = ("host", "blob", "queue", "table", "smtp", "mail", "imap", "imaps")


@dataclass
class MakeRun:
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    out: Path
    err: Path
    tree: list[psutil.Process]
    data: Path

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")


def free_ports() -> dict[str, int]:
    return dict(zip(NAMES, services.free_ports(len(NAMES)), strict=True))


def run_env(ports: dict[str, int], data: Path) -> dict[str, str]:
    return {**os.environ,
            "HELPDESK_RUN_PORTS": ",".join(f"{k}={v}" for k, v in ports.items()),
            "HELPDESK_RUN_DATA": str(data)}


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    ports = free_ports()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    # Not under tmp_path: when the tests run as root, Dovecot's mail user must reach it.
    data = Path(tempfile.mkdtemp(prefix="helpdesk-run-"))
    data.chmod(0o711)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # A session of its own, as a terminal's job or a process manager's service has.
        process = subprocess.Popen(["make", "--no-print-directory", "-o", "install", "run"],
                                   cwd=ROOT, env=run_env(ports, data),
                                   stdout=stdout, stderr=stderr, start_new_session=True)
    run = MakeRun(process, ports, out, err, [], data)
    try:
        deadline = time.monotonic() + 180
        while "The help desk is running" not in run.output():
            assert process.poll() is None, f"make run exited early:\n{run.output()}"
            assert time.monotonic() < deadline, f"make run did not start:\n{run.output()}"
            time.sleep(0.5)
        run.tree = psutil.Process(process.pid).children(recursive=True)
        yield run
    finally:
        # Whatever the test did, leave nothing behind.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for child in [*run.tree, *_leftovers(data)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        shutil.rmtree(data, ignore_errors=True)


def _leftovers(data: Path) -> list[psutil.Process]:
    """Processes started for this run's data folder (Azurite, Dovecot), still alive."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(data) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_everything_stopped(run: MakeRun) -> None:
    run.process.wait(90)
    survivors = [p for p in run.tree if alive(p)]
    assert not survivors, f"still running: {[(p.pid, p.cmdline()) for p in survivors]}"
    listening = {name: port for name, port in run.ports.items() if services.port_is_open(port)}
    assert not listening, f"still listening: {listening}\n{run.output()}"


def test_the_run_serves_on_the_ports_it_was_given(make_run: MakeRun) -> None:
    host = make_run.ports["host"]
    assert httpx.get(f"http://127.0.0.1:{host}/api/health", timeout=10).status_code == 200
    commands = [" ".join(p.cmdline()) for p in make_run.tree]
    assert any("azurite" in c for c in commands) and any("maildev" in c for c in commands)
    assert any("devhost" in c for c in commands) and any("dovecot" in c for c in commands)
    # Azurite reports nothing to Microsoft from a user's machine: its telemetry, on unless
    # turned off, would have written the instance id it reports under to its data folder.
    assert (make_run.data / "azurite" / "__azurite_db_table__.json").exists()
    assert not (make_run.data / "azurite" / "AzuriteConfig").exists()
    # The sample mailbox takes a message from the mail drop, on this run's IMAP port.
    dropped = subprocess.run(
        [sys.executable, "-m", "tools.mail_drop", "--subject", "Dropped", "--body", "Hi."],
        cwd=ROOT, env=run_env(make_run.ports, Path("unused")), capture_output=True, text=True,
        timeout=60)
    assert dropped.returncode == 0, dropped.stderr
    assert "dropped into support@helpdesk.example.com's INBOX as UID 1" in dropped.stdout
    # The sample tickets' acknowledgements went to this run's MailDev.
    deadline = time.monotonic() + 30
    while not httpx.get(f"http://127.0.0.1:{make_run.ports['mail']}/email", timeout=10).json():
        assert time.monotonic() < deadline, "no mail reached this run's MailDev"
        time.sleep(0.5)
    # The desk fetches the sample mailbox (every minute): the dropped message becomes a
    # ticket, whose acknowledgement reaches MailDev.
    maildev = f"http://127.0.0.1:{make_run.ports['mail']}"
    deadline = time.monotonic() + 100
    while not (acks := [m for m in httpx.get(f"{maildev}/email", timeout=10).json()
                        if "Dropped" in (m.get("subject") or "")]):
        assert time.monotonic() < deadline, "the dropped message never became a ticket"
        time.sleep(1)
    # Answering the acknowledgement as a mail client does (its Message-ID in In-Reply-To)
    # joins the ticket, although the mail drop's mail carries no DKIM signature.
    number = acks[0]["subject"].split("[#")[1].split("]")[0]
    raw = MailDev(maildev).raw(acks[0]["id"]).decode()
    ack_id = next(line.split(":", 1)[1].strip() for line in raw.splitlines()
                  if line.lower().startswith("message-id:"))
    replied = subprocess.run(
        [sys.executable, "-m", "tools.mail_drop", "--subject", f"Re: [#{number}] Dropped",
         "--body", "It works now.", "--in-reply-to", ack_id],
        cwd=ROOT, env=run_env(make_run.ports, Path("unused")), capture_output=True, text=True,
        timeout=60)
    assert replied.returncode == 0, replied.stderr
    storage = services.azurite_connection_string(
        blob=make_run.ports["blob"], queue=make_run.ports["queue"], table=make_run.ports["table"])
    with TableServiceClient.from_connection_string(storage) as service:
        tickets = service.get_table_client("tickets")
        deadline = time.monotonic() + 100
        while not list(tickets.query_entities("PartitionKey eq @n and kind eq 'message'",
                                              parameters={"n": number})):
            assert time.monotonic() < deadline, "the reply never joined its ticket"
            time.sleep(1)


def test_sigterm_to_make_stops_azurite_maildev_dovecot_and_the_host(make_run: MakeRun) -> None:
    """A process manager signals the process it started: make, which passes SIGTERM on."""
    assert len(make_run.tree) >= 3
    os.kill(make_run.process.pid, signal.SIGTERM)
    assert_everything_stopped(make_run)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT], ids=["SIGHUP", "SIGINT"])
def test_the_terminal_closing_or_ctrl_c_stops_everything(make_run: MakeRun, signum: int) -> None:
    """A terminal sends SIGHUP when it closes, SIGINT on Ctrl-C, to its foreground job's
    process group (make and the run); the services and the host are in groups of their own
    and hear of it only from the run."""
    os.killpg(make_run.process.pid, signum)
    assert_everything_stopped(make_run)


def test_a_taken_port_is_reported_with_the_process_holding_it(tmp_path: Path) -> None:
    ports = free_ports()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import socket, sys, time\n"
         "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         f"s.bind(('127.0.0.1', {ports['queue']})); s.listen()\n"
         "print('listening', flush=True); time.sleep(300)\n"],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"listening\n"
        result = subprocess.run([sys.executable, "-m", "devtools.run"], cwd=ROOT,
                                env=run_env(ports, tmp_path / "data"),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert f"port {ports['queue']} (Azurite queue) is held by pid {holder.pid}" in result.stderr
        assert "import socket" in result.stderr  # its command
        assert f"kill {holder.pid}" in result.stderr
        started = [name for name, port in ports.items()
                   if name != "queue" and services.port_is_open(port)]
        assert not started, f"it started {started} before refusing"
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
