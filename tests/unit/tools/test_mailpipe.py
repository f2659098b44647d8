"""The mail server's pipe command: delivers the message unchanged and answers in sysexits.h.

It runs as the mail server would run it, a subprocess on the plain interpreter without
site-packages (``-I -S``, proving it needs nothing but the standard library), against a
small local HTTP server that answers as the test tells it to.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.unit.mail import mail_corpus

SCRIPT = Path(__file__).resolve().parents[3] / "tools" / "mailpipe.py"
KEY = "test-key-123"
# CRLF line ends and raw 8-bit bytes: both must arrive exactly as sent.
EMAIL = mail_corpus.plain_text() + "Grüße\r\n".encode("latin-1")


@dataclass
class Received:
    method: str
    path: str
    headers: Message
    body: bytes


@dataclass
class Desk:
    """The help desk stand-in: answers `status` with `answer`, after `delay` seconds."""

    url: str = ""
    status: int = 201
    answer: bytes = b"12345678\r\n"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (the timeout test) is expected, not a failure


@pytest.fixture
def desk() -> Iterator[Desk]:
    stub = Desk()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            stub.received.append(Received(self.command, self.path, self.headers, body))
            time.sleep(stub.delay)
            self.send_response(stub.status)
            self.send_header("Content-Length", str(len(stub.answer)))
            for name, value in stub.headers.items():
                self.send_header(name, value)
            if 300 <= stub.status < 400:
                self.send_header("Location", "/elsewhere")
            self.end_headers()
            self.wfile.write(stub.answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/api/tickets.email"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def pipe(*args: str, stdin: bytes = EMAIL, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "HELPDESK_API_KEY"} | (env or {})
    completed = subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), *args], input=stdin, capture_output=True, env=environment,
        timeout=20,
    )
    return subprocess.CompletedProcess(completed.args, completed.returncode,
                                       completed.stdout.decode(), completed.stderr.decode())


def test_delivers_the_exact_message_and_reports_success(desk):
    result = pipe("--url", desk.url, env={"HELPDESK_API_KEY": KEY})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "12345678"
    assert result.stderr == ""
    [request] = desk.received
    assert (request.method, request.path) == ("POST", "/api/tickets.email")
    assert request.body == EMAIL
    assert request.headers["X-API-Key"] == KEY
    assert request.headers["Content-Type"] == "message/rfc822"


def test_key_can_come_from_the_environment(desk):
    result = pipe("--url", desk.url, env={"HELPDESK_API_KEY": "from-env"})
    assert result.returncode == 0, result.stderr
    assert desk.received[0].headers["X-API-Key"] == "from-env"


def key_file(tmp_path: Path, mode: int, text: str = "from-file\n") -> Path:
    path = tmp_path / "api-key"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_key_can_come_from_a_file_only_its_owner_reads(desk, tmp_path, mode):
    path = key_file(tmp_path, mode)
    result = pipe("--url", desk.url, "--key-file", str(path), env={"HELPDESK_API_KEY": "not-this"})
    assert result.returncode == 0, result.stderr
    assert desk.received[0].headers["X-API-Key"] == "from-file"
    by_env = pipe("--url", desk.url, env={"HELPDESK_API_KEY_FILE": str(path)})
    assert by_env.returncode == 0, by_env.stderr
    assert desk.received[1].headers["X-API-Key"] == "from-file"


@pytest.mark.parametrize(("mode", "text", "says"), [
    (0o644, "from-file\n", "chmod 600"),  # any local user could read the key
    (0o660, "from-file\n", "chmod 600"),
    (0o600, "\n", "the API key alone"),
    (0o600, "two words\n", "the API key alone"),
])
def test_a_key_file_others_can_read_or_without_a_key_keeps_the_mail_queued(desk, tmp_path, mode, text, says):
    result = pipe("--url", desk.url, "--key-file", str(key_file(tmp_path, mode, text)))
    assert result.returncode == 78  # EX_CONFIG: a temporary failure for Postfix, the mail stays queued
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert desk.received == []  # the key was not sent anywhere


def test_a_missing_key_file_keeps_the_mail_queued(desk, tmp_path):
    result = pipe("--url", desk.url, "--key-file", str(tmp_path / "absent"))
    assert result.returncode == 78 and "cannot read the key file" in result.stderr
    assert desk.received == []


def test_a_key_on_the_command_line_still_delivers_but_warns(desk):
    result = pipe("--url", desk.url, "--key", KEY)
    assert result.returncode == 0
    assert desk.received[0].headers["X-API-Key"] == KEY
    assert "--key shows the API key" in result.stderr


def test_the_docs_and_the_script_never_put_a_key_on_the_command_line():
    root = SCRIPT.parents[1]
    deploy = (root / "docs" / "deploy.md").read_text()
    assert [line for line in deploy.splitlines() if "mailpipe.py" in line and "--url" in line], \
        "docs/deploy.md shows how to run the pipe"
    # And no document shows it with a key, wherever it shows it.
    texts = [SCRIPT.read_text(), (root / "README.md").read_text(),
             (root / "bench" / "README.md").read_text(),
             *(path.read_text() for path in sorted((root / "docs").glob("*.md")))]
    commands = [line for text in texts for line in text.splitlines()
                if "mailpipe.py" in line and "--url" in line]
    for line in commands:
        assert "--key-file" in line and "--key " not in line and "hd_" not in line, line
        assert "HELPDESK_API_KEY=" not in line, line


def test_prints_the_number_and_what_the_desk_did(desk):
    desk.headers = {"X-Helpdesk-Outcome": "appended"}
    result = pipe("--url", desk.url, env={"HELPDESK_API_KEY": KEY})
    assert result.returncode == 0 and result.stdout.strip() == "12345678 appended"
    desk.answer, desk.headers = b"", {"X-Helpdesk-Outcome": "ignored"}
    result = pipe("--url", desk.url, env={"HELPDESK_API_KEY": KEY})
    assert result.returncode == 0 and result.stdout.strip() == "ignored"


@pytest.mark.parametrize(("status", "exit_status"), [
    (201, 0), (200, 0), (202, 0),
    (503, 75), (500, 75), (429, 75), (408, 75),  # the mail server keeps the mail and retries
    (401, 77), (403, 77),  # wrong key
    (413, 65), (400, 65), (422, 65),  # this message was refused
    (307, 75),  # not followed: a redirected POST would lose the message
])
def test_answers_become_exit_statuses_the_mail_server_understands(desk, status, exit_status):
    desk.status, desk.answer = status, b'{"title": "no", "detail": "because"}\n'
    result = pipe("--url", desk.url, env={"HELPDESK_API_KEY": KEY})
    assert result.returncode == exit_status
    assert len(desk.received) == 1
    if exit_status:
        assert str(status) in result.stderr and "because" in result.stderr
        assert result.stderr.count("\n") == 1  # one line for the mail log


def test_no_connection_is_a_temporary_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = pipe("--url", f"http://127.0.0.1:{port}/api/tickets.email", env={"HELPDESK_API_KEY": KEY})
    assert result.returncode == 75
    assert "cannot reach" in result.stderr and result.stderr.count("\n") == 1


def test_a_slow_help_desk_is_a_temporary_failure(desk):
    desk.delay = 1.0
    result = pipe("--url", desk.url, "--timeout", "0.2", env={"HELPDESK_API_KEY": KEY})
    assert result.returncode == 75
    assert "timed out" in result.stderr


def test_empty_input_is_rejected_without_calling_the_help_desk(desk):
    result = pipe("--url", desk.url, stdin=b"", env={"HELPDESK_API_KEY": KEY})
    assert result.returncode == 66
    assert desk.received == []


@pytest.mark.parametrize(("args", "key"), [
    ((), KEY),  # no URL
    (("--url", "http://127.0.0.1:9/api/tickets.email"), None),  # no key anywhere
    (("--url", "not a url"), KEY),
    (("--bogus",), KEY),
])
def test_usage_errors(args, key):
    result = pipe(*args, env={"HELPDESK_API_KEY": key} if key else None)
    assert result.returncode == 64
    assert result.stderr.startswith("mailpipe: ") and result.stderr.count("\n") == 1
