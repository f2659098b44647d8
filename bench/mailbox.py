"""The mailbox fetch's two targets (issue 19), against a real Dovecot.

    python -m bench.mailbox [--messages 1000] [--latency-messages 20] [--only fetch latency]

1. **A fetch of `--messages` new messages**: they are put in a mailbox the desk is
   connected to, with the timer switched off, and one timer round is run by hand through
   the host's admin API; the figure is the time until every message is a ticket, and how
   many runs that took (a run past its budget queues its continuation). Target: within
   the queue function's time limit (host.json), or resumed cleanly by the next run.
2. **Message to acknowledgement**: the timer on its deployed schedule (every minute),
   `--latency-messages` messages put in the mailbox at random times (0-9 s apart); the
   figure is the time from each APPEND's answer to its acknowledgement listed by MailDev
   (asked every 0.5 s). Target: p95 under one timer period plus 10 s.

Each part gets its own Azurite (in memory), MailDev and local host on free ports; one
Dovecot (Debian's, `devtools/dovecot.py`) serves both. Prints a markdown table and writes
bench/results/mailbox.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from azure.data.tables import TableServiceClient
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from devtools import dovecot as dovecot_files
from devtools import services
from shared.core.settings import MailboxSettings
from tools.mail_drop import compose

RESULTS = services.ROOT / "bench" / "results" / "mailbox.json"
PASSWORD = "bench-mailbox-password"
MAILBOX = "bench"
TIMER_PERIOD = 60.0  # "0 * * * * *", as deployed
SLACK = 10.0


def wait_for(probe: Callable[[], Any], *, timeout: float, interval: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# -- Dovecot ---------------------------------------------------------------------------------

@dataclass
class Dovecot:
    port: int
    data: Path

    def add_user(self, user: str) -> None:
        dovecot_files.add_user(self.data, user, PASSWORD)

        def can_log_in() -> bool:  # Dovecot reads the passwd-file at most once a second
            client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10)
            try:
                client.login(user, PASSWORD)
            except LoginError:
                client.shutdown()
                return False
            client.logout()
            return True

        wait_for(can_log_in, timeout=10, interval=0.2, what=f"Dovecot to accept {user}")

    @contextmanager
    def session(self, user: str) -> Iterator[IMAPClient]:
        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        client.login(user, PASSWORD)
        try:
            yield client
        finally:
            client.logout()


@contextmanager
def dovecot(log_dir: Path) -> Iterator[Dovecot]:
    # Not under a private folder: run as root, Dovecot reads and writes mail as its own user.
    data = Path(tempfile.mkdtemp(prefix="bench-dovecot-"))
    port, imaps = services.free_ports(2)
    service = services.dovecot(imap=port, imaps=imaps, data=data,
                               log_dir=log_dir)
    service.start()
    try:
        yield Dovecot(port, data)
    finally:
        service.stop()
        shutil.rmtree(data, ignore_errors=True)


def message(user: str, sender: str, n: int) -> bytes:
    return compose(sender=sender, to=user, subject=f"Bench {n}", body=f"Message {n}.")


# -- the desk --------------------------------------------------------------------------------

@dataclass
class Desk:
    base_url: str
    storage: str
    maildev_url: str
    keys_file: Path
    log_path: Path

    def run_function(self, name: str) -> None:
        """Run a timer or queue function now, through the host's admin API."""
        key = json.loads(self.keys_file.read_text())["masterKey"]
        r = httpx.post(f"{self.base_url}/admin/functions/{name}", json={"input": ""},
                       headers={"x-functions-key": key}, timeout=30)
        if r.status_code != 202:
            raise SystemExit(f"running {name}: {r.status_code} {r.text}")

    @contextmanager
    def admin(self) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            r = client.post("/.auth/login/dev", data={
                "userId": "bench-admin", "userDetails": "bench-admin@example.com",
                "userRoles": "agent,admin", "post_login_redirect_uri": "/api/health"})
            if r.status_code not in (302, 303):
                raise SystemExit(f"dev sign-in: {r.status_code} {r.text}")
            client.headers["X-Helpdesk-Request"] = "1"
            yield client

    def connect(self, dovecot: Dovecot, user: str) -> None:
        """Connect the mailbox through the admin API, run the first timer round and wait
        for its first fetch (which starts the mailbox "from now")."""
        with self.admin() as admin:
            r = admin.put(f"/api/directory/mailboxes/{MAILBOX}", json={
                "address": user, "host": "127.0.0.1", "port": dovecot.port,
                "security": "plain", "username": user,
                "password_setting": "HELPDESK_MAILBOX_BENCH_PASSWORD"})
            if r.status_code != 200:
                raise SystemExit(f"connecting the mailbox: {r.status_code} {r.text}")
            self.run_function("mailboxes_schedule")
            wait_for(lambda: admin.get(f"/api/mailboxes/{MAILBOX}/health").json()
                     ["health"]["last_success_at"], timeout=60, interval=0.5,
                     what="the mailbox's first fetch")

    def tickets(self) -> dict[str, int]:
        """Tickets per requester, straight from the table."""
        found: dict[str, int] = {}
        with TableServiceClient.from_connection_string(self.storage) as service:
            for row in service.get_table_client("tickets").query_entities(
                    "RowKey eq @r", parameters={"r": "ticket"}, select=["requester_email"]):
                found[row["requester_email"]] = found.get(row["requester_email"], 0) + 1
        return found

    def fetch_runs(self) -> list[tuple[str, int]]:
        """(outcome, fetched) of every fetch run the host logged, in order."""
        return [(m.group(1), int(m.group(2))) for m in re.finditer(
            rf"mailbox {MAILBOX}: (\w+), (\d+) fetched", self.log_path.read_text())]


@contextmanager
def desk(log_dir: Path, **env: str) -> Iterator[Desk]:
    """Azurite (in memory), MailDev and one local host on free ports, stopped on exit."""
    ports = services.free_ports(6)
    azurite = services.azurite(blob=ports[0], queue=ports[1], table=ports[2], location=None,
                               log_dir=log_dir)
    maildev = services.maildev(smtp=ports[3], web=ports[4], log_dir=log_dir)
    started: list[services.Service] = []
    host: subprocess.Popen[bytes] | None = None
    base = f"http://127.0.0.1:{ports[5]}"
    log_path = log_dir / "devhost.log"
    try:
        for s in (azurite, maildev):
            s.start()
            started.append(s)
        storage = services.azurite_connection_string(blob=ports[0], queue=ports[1],
                                                     table=ports[2])
        host_env = {**os.environ, "AzureWebJobsStorage": storage, "SMTP_HOST": "127.0.0.1",
                    "SMTP_PORT": str(ports[3]), "SMTP_SECURITY": "none",
                    "HELPDESK_PUBLIC_URL": base, "HELPDESK_MAILBOX_BENCH_PASSWORD": PASSWORD,
                    # The daily repair is a sweep that would land in a run crossing 03:17.
                    "AzureWebJobs.automation_repair.Disabled": "true", **env}
        with log_path.open("wb") as log:
            host = subprocess.Popen(
                [sys.executable, "-m", "devhost", "--port", str(ports[5]),
                 "--keys-file", str(log_dir / "keys.json"),
                 "--settings", str(services.ROOT / "local.settings.example.json")],
                cwd=services.ROOT, env=host_env, stdout=log, stderr=subprocess.STDOUT)
        services.wait_healthy(base, host, log_dir)
        yield Desk(base, storage, f"http://127.0.0.1:{ports[4]}", log_dir / "keys.json",
                   log_path)
    finally:
        if host is not None:
            host.terminate()
            try:
                host.wait(20)
            except subprocess.TimeoutExpired:
                host.kill()
        for s in reversed(started):
            s.stop()


# -- the two figures -------------------------------------------------------------------------

def function_timeout() -> float:
    """host.json's functionTimeout, in seconds."""
    value = json.loads((services.ROOT / "host.json").read_text())["functionTimeout"]
    h, m, s = (float(part) for part in value.split(":"))
    return h * 3600 + m * 60 + s


def big_fetch(box: Dovecot, log_dir: Path, messages: int) -> dict[str, Any]:
    user = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    box.add_user(user)
    with desk(log_dir, HELPDESK_MAILBOX_FETCH_SCHEDULE="0 0 0 1 1 *",  # by hand only
              HELPDESK_LIMIT_ACKNOWLEDGEMENTS_PER_HOUR="0") as d:
        d.connect(box, user)
        tag = uuid.uuid4().hex[:6]
        with box.session(user) as imap:
            for n in range(messages):
                imap.append("INBOX", message(user, f"f{n}-{tag}@example.org", n))
        print(f"{messages} messages in the mailbox; one timer round", flush=True)
        started = time.monotonic()
        d.run_function("mailboxes_schedule")
        found = wait_for(lambda: (t := d.tickets()) and sum(t.values()) >= messages and t,
                         timeout=max(900, messages), interval=1, what=f"{messages} tickets")
        elapsed = time.monotonic() - started
        time.sleep(2)  # the last run's log line
        runs = d.fetch_runs()[1:]  # the first is the connection's
        found = d.tickets()
    limit = function_timeout()
    resumed = len(runs) > 1
    clean = (sum(found.values()) == messages and all(c == 1 for c in found.values())
             and not any(outcome == "failed" for outcome, _ in runs))
    return {"messages": messages, "seconds": round(elapsed, 1),
            "per_second": round(messages / elapsed, 1), "tickets": sum(found.values()),
            "duplicates": sum(c - 1 for c in found.values()),
            "runs": [{"outcome": o, "fetched": f} for o, f in runs],
            "run_budget_seconds": MailboxSettings().fetch_seconds,
            "function_timeout_seconds": limit,
            "met": clean and (resumed or elapsed < limit)}


def latency(box: Dovecot, log_dir: Path, count: int, seed: int) -> dict[str, Any]:
    user = f"lat-{uuid.uuid4().hex[:8]}@example.com"
    box.add_user(user)
    with desk(log_dir, HELPDESK_MAILBOX_FETCH_SCHEDULE="0 * * * * *") as d:
        d.connect(box, user)
        rng = random.Random(seed)
        tag = uuid.uuid4().hex[:6]
        sent: dict[str, float] = {}
        print(f"{count} messages at random times, the timer every minute", flush=True)
        for n in range(count):
            time.sleep(rng.uniform(0, 9))
            sender = f"lat{n}-{tag}@example.org"
            with box.session(user) as imap:
                imap.append("INBOX", message(user, sender, n))
            sent[sender] = time.monotonic()
        latencies: dict[str, float] = {}

        def all_acked() -> bool:
            for mail in httpx.get(f"{d.maildev_url}/email", timeout=10).json():
                for to in mail.get("to", []):
                    address = to.get("address", "")
                    if address in sent and address not in latencies:
                        latencies[address] = time.monotonic() - sent[address]
            return len(latencies) == len(sent)

        wait_for(all_acked, timeout=TIMER_PERIOD * 3, interval=0.5,
                 what="every acknowledgement")
    values = sorted(latencies.values())
    p95 = statistics.quantiles(values, n=20)[-1]
    return {"messages": count, "seed": seed, "p50": round(statistics.median(values), 1),
            "p95": round(p95, 1), "max": round(values[-1], 1),
            "target_p95": TIMER_PERIOD + SLACK, "met": p95 < TIMER_PERIOD + SLACK}


# -- output ----------------------------------------------------------------------------------

def markdown(r: dict[str, Any]) -> str:
    lines = [f"Measured {r['when']} on {r['machine']}, Python {r['python']}: `{r['command']}`",
             "", "| figure | result | target | met |", "| --- | --- | --- | --- |"]
    if f := r.get("fetch"):
        runs = ", ".join(f"{x['outcome']} {x['fetched']}" for x in f["runs"])
        lines.append(
            f"| a fetch of {f['messages']:,} new messages, one timer round by hand | "
            f"{f['seconds']} s ({f['per_second']}/s) in {len(f['runs'])} run(s) ({runs}); "
            f"{f['tickets']:,} tickets, {f['duplicates']} twice | within the function's time "
            f"limit ({f['function_timeout_seconds']:.0f} s; a run's budget is "
            f"{f['run_budget_seconds']:.0f} s) or resumed | {'met' if f['met'] else 'not met'} |")
    if lat := r.get("latency"):
        lines.append(
            f"| message in the mailbox to its acknowledgement in MailDev, timer every "
            f"{TIMER_PERIOD:.0f} s, {lat['messages']} messages 0-9 s apart | p50 {lat['p50']} s, "
            f"p95 {lat['p95']} s, max {lat['max']} s | p95 under {lat['target_p95']:.0f} s | "
            f"{'met' if lat['met'] else 'not met'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000,
                        help="messages in the one big fetch (default 1000)")
    parser.add_argument("--latency-messages", type=int, default=20,
                        help="messages for the acknowledgement latency (default 20)")
    parser.add_argument("--seed", type=int, default=19, help="of the random gaps")
    parser.add_argument("--only", nargs="+", choices=("fetch", "latency"),
                        default=["fetch", "latency"])
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    command = "python -m bench.mailbox " + shlex.join(sys.argv[1:])
    result: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": command.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version()}
    log_root = Path(tempfile.mkdtemp(prefix="bench-mailbox-"))
    print(f"logs in {log_root}", flush=True)
    with dovecot(log_root) as box:
        if "fetch" in args.only:
            (log_root / "fetch").mkdir()
            result["fetch"] = big_fetch(box, log_root / "fetch", args.messages)
            print(result["fetch"], flush=True)
        if "latency" in args.only:
            (log_root / "latency").mkdir()
            result["latency"] = latency(box, log_root / "latency", args.latency_messages,
                                        args.seed)
            print(result["latency"], flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(markdown(result))


if __name__ == "__main__":
    main()
