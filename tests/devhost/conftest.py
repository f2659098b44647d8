"""Fixtures for devhost's tests: a storage connection string and a running sample host.

Storage, first that applies:
1. `HELPDESK_TEST_STORAGE` (a full Azurite connection string);
2. the project's session fixture `storage_connection_string`, when a conftest defines it;
3. an Azurite started here from the repo's `node_modules/azurite` on free ports, in
   memory, stopped at the end of the session;
otherwise the tests that need storage are skipped, saying why.

`sample_host` runs `python -m devhost` on `sample_app/` as a subprocess, with queue
names of its own, a keys file and a settings file in a temporary folder.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_APP = Path(__file__).resolve().parent / "sample_app"
AZURITE_JS = REPO / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_ports(count: int) -> list[int]:
    """Distinct free ports: each socket stays bound until all are chosen."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def azurite_connection_string(blob: int, queue: int, table: int) -> str:
    base = "http://127.0.0.1"
    return (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={base}:{blob}/devstoreaccount1;"
        f"QueueEndpoint={base}:{queue}/devstoreaccount1;"
        f"TableEndpoint={base}:{table}/devstoreaccount1;"
    )


def _listening_ports(pid: int) -> set[int]:
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return set()
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN and c.laddr}


def _start_azurite(log_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    ports = free_ports(3)
    args = ["node", str(AZURITE_JS), "--skipApiVersionCheck", "--loose", "--inMemoryPersistence",
            "--disableTelemetry"]
    args.append("--silent")
    for service, port in zip(("blob", "queue", "table"), ports, strict=True):
        args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
    with (log_dir / "azurite.log").open("wb") as log:  # the child keeps its own handle
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 30
    # Only the process we started counts: another one may have taken a port meanwhile.
    while not set(ports) <= _listening_ports(process.pid):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop_process(process)
            pytest.fail(f"Azurite did not start; see {log_dir / 'azurite.log'}")
        time.sleep(0.1)
    return process, azurite_connection_string(*ports)


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate, wait, then kill: Azurite may linger after SIGTERM."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@pytest.fixture(scope="session")
def devhost_storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A connection string for a real Azurite (see the module docstring)."""
    provided = os.environ.get("HELPDESK_TEST_STORAGE")
    if not provided:
        try:
            provided = str(request.getfixturevalue("storage_connection_string"))
        except pytest.FixtureLookupError:
            provided = None
    if provided:
        yield provided
        return
    if not AZURITE_JS.exists():
        pytest.skip(
            "no Azurite: set HELPDESK_TEST_STORAGE to a connection string, "
            f"or install it with `npm ci` so that {AZURITE_JS} exists"
        )
    process, connection = _start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield connection
    finally:
        _stop_process(process)


@dataclass
class RunningHost:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    record_dir: Path
    keys_file: Path
    storage: str
    queues: dict[str, str]

    @property
    def keys(self) -> dict[str, Any]:
        return dict(json.loads(self.keys_file.read_text()))

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def records(self, function: str) -> list[dict[str, Any]]:
        path = self.record_dir / f"{function}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def start_sample_host(storage: str, workdir: Path, **extra_env: str) -> RunningHost:
    """Start `python -m devhost` on the sample app and wait for its ready line."""
    suffix = uuid.uuid4().hex[:8]
    queues = {
        "FAIL_QUEUE": f"dh-fail-{suffix}",
        "OK_QUEUE": f"dh-ok-{suffix}",
        "OUT_QUEUE": f"dh-out-{suffix}",
    }
    record_dir = workdir / "records"
    record_dir.mkdir(parents=True, exist_ok=True)
    settings = workdir / "local.settings.json"
    settings.write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                # The environment's AzureWebJobsStorage must win over this one.
                "Values": {
                    "SAMPLE_GREETING": "hello from settings",
                    "AzureWebJobsStorage": "from-settings-file",
                },
            }
        )
    )
    keys_file = workdir / "keys" / "keys.json"
    log_path = workdir / "devhost.log"
    env = {
        **os.environ,
        "AzureWebJobsStorage": storage,
        "SAMPLE_RECORD_DIR": str(record_dir),
        "PYTHONUNBUFFERED": "1",
        **queues,
        **extra_env,
    }
    env.pop("SAMPLE_GREETING", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devhost",
                "--app-dir",
                str(SAMPLE_APP),
                "--port",
                "0",
                "--settings",
                str(settings),
                "--keys-file",
                str(keys_file),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        text = log_path.read_text(errors="replace")
        ready = [line for line in text.splitlines() if line.startswith("devhost ready on ")]
        if ready:
            base_url = ready[0].removeprefix("devhost ready on ").strip()
            return RunningHost(process, base_url, log_path, record_dir, keys_file, storage, queues)
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"devhost did not become ready:\n{text}")
        time.sleep(0.05)


def stop_host(host: RunningHost, timeout: float = 15) -> int:
    if host.process.poll() is None:
        host.process.send_signal(signal.SIGINT)
        try:
            host.process.wait(timeout)
        except subprocess.TimeoutExpired:
            host.process.kill()
            host.process.wait()
    return host.process.returncode


@pytest.fixture(scope="session")
def sample_host(
    devhost_storage: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHost]:
    host = start_sample_host(devhost_storage, tmp_path_factory.mktemp("devhost"))
    try:
        yield host
    finally:
        stop_host(host)


@pytest.fixture
def isolated_app_import() -> Iterator[None]:
    """Undo what loading a test app in-process does: sys.path and sys.modules["function_app"]."""
    saved_path = list(sys.path)
    saved_module = sys.modules.get("function_app")
    yield
    sys.path[:] = saved_path
    if saved_module is None:
        sys.modules.pop("function_app", None)
    else:
        sys.modules["function_app"] = saved_module
