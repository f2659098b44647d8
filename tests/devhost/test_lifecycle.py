"""Starting and stopping `python -m devhost`: timers at startup, Ctrl-C, bad apps."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.devhost.conftest import REPO, RunningHost, start_sample_host, stop_host


def test_timer_with_run_on_startup_fires(sample_host: RunningHost) -> None:
    deadline = time.monotonic() + 10
    while not sample_host.records("startup_timer") and time.monotonic() < deadline:
        time.sleep(0.1)
    runs = sample_host.records("startup_timer")
    # Its schedule is once a year (0 0 0 1 1 *), so only run_on_startup explains a run.
    assert len(runs) == 1
    assert runs[0]["past_due"] is False


def test_banner_lists_functions_and_triggers(sample_host: RunningHost) -> None:
    log = sample_host.log_text()
    assert f"tickets_get: [GET,PUT] {sample_host.base_url}/api/tickets/{{number}}" in log
    assert f"always_fails: queueTrigger on {sample_host.queues['FAIL_QUEUE']}" in log
    assert "startup_timer: timerTrigger 0 0 0 1 1 * (UTC), run on startup" in log


def test_sigint_finishes_running_request_then_exits_zero(
    devhost_storage: str, tmp_path: Path
) -> None:
    host = start_sample_host(devhost_storage, tmp_path)
    outcome: dict[str, object] = {}

    def slow_call() -> None:
        try:
            outcome["status"] = httpx.get(f"{host.base_url}/api/slow", timeout=30).status_code
        except httpx.HTTPError as exc:
            outcome["error"] = repr(exc)

    caller = threading.Thread(target=slow_call)
    caller.start()
    time.sleep(0.2)  # the request is inside its 0.5 s sleep now
    started = time.monotonic()
    host.process.send_signal(signal.SIGINT)
    try:
        code = host.process.wait(15)
    finally:
        stop_host(host)
    caller.join(10)
    assert code == 0, host.log_text()
    assert time.monotonic() - started < 10
    assert outcome == {"status": 200}, "the in-flight request must finish during shutdown"
    assert "devhost stopped" in host.log_text()


def test_app_without_function_app_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devhost", "--app-dir", str(tmp_path), "--port", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "no function_app.py" in result.stderr


def test_explicit_settings_file_must_exist(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devhost",
            "--app-dir",
            str(REPO / "tests/devhost/sample_app"),
            "--settings",
            str(tmp_path / "missing.json"),
            "--port",
            "0",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "settings file not found" in result.stderr


def test_port_in_use_exits_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "devhost",
                "--app-dir",
                str(REPO / "tests/devhost/sample_app"),
                "--port",
                str(port),
                "--keys-file",
                str(tmp_path / "keys.json"),
            ],
            cwd=REPO,
            env={k: v for k, v in os.environ.items() if k != "AzureWebJobsStorage"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2, result.stderr
    assert "address already in use" in result.stderr.lower()


STUCK_APP = """
import time
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="stuck")
def stuck(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(60)
    return func.HttpResponse("too late")
"""


def test_shutdown_is_bounded_by_the_grace_period(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(STUCK_APP)
    log_path = tmp_path / "devhost.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devhost",
                "--app-dir",
                str(tmp_path),
                "--port",
                "0",
                "--grace",
                "1",
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "devhost ready on " not in log_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        base = log_path.read_text().split("devhost ready on ", 1)[1].split()[0]
        outcome: list[str] = []

        def call() -> None:
            try:
                outcome.append(str(httpx.get(f"{base}/api/stuck", timeout=30).status_code))
            except httpx.HTTPError as exc:
                outcome.append(type(exc).__name__)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
    # The sync function would sleep for a minute; the host gives it 1 s, then leaves.
    assert code == 0, log_path.read_text()
    assert time.monotonic() - started < 10
    caller.join(10)
    assert outcome == ["RemoteProtocolError"]  # cut off, not answered
