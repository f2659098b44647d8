"""`make run`: the whole help desk on this machine, in the foreground.

Starts Azurite (data kept in `.data/azurite`), MailDev, Dovecot (IMAP, with the sample
mailbox `support@helpdesk.example.com`; mail kept in `.data/dovecot`) and the local host on the
usual ports, seeds sample tickets on the first run, prints where everything is, and
stops all of it however it is stopped: Ctrl-C (SIGINT), a process manager's SIGTERM (make
passes a SIGTERM on to this process) or a closed terminal's SIGHUP. Azurite, MailDev,
Dovecot and the host run in process groups of their own, so a signal meant for the
terminal's job reaches them only through this cleanup, in order: the host first (it
finishes running functions), then Dovecot, MailDev and Azurite (terminate, wait, kill).

Before starting anything it checks every port; one that is taken is reported with the
process holding it (pid and command, from /proc) and how to stop it.

    python -m devtools.run [--ports host=7071,blob=10000,...] [--data DIR]

`--ports` (or HELPDESK_RUN_PORTS) moves any of host, blob, queue, table, smtp, mail (the
MailDev web page), imap and imaps (Dovecot) to another port; `--data` (or
HELPDESK_RUN_DATA) keeps the data, the logs and the "seeded" marker elsewhere than `.data/`.
Settings in local.settings.json that point at a default port (the storage connection
string, SMTP_PORT, HELPDESK_PUBLIC_URL) follow the port chosen for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from devtools import dovecot as dovecot_files
from devtools import services
from devtools.seed import connect_sample_mailbox, seed

ROOT = services.ROOT
DATA = ROOT / ".data"
PORTS = {"host": 7071, "blob": 10000, "queue": 10001, "table": 10002, "smtp": 1025, "mail": 1080,
         "imap": 1143, "imaps": 1993}
LABELS = {"host": "the local host", "blob": "Azurite blob", "queue": "Azurite queue",
          "table": "Azurite table", "smtp": "MailDev SMTP", "mail": "MailDev web",
          "imap": "Dovecot IMAP", "imaps": "Dovecot IMAPS"}
# The sample mailbox; its password is this setting of local.settings.json, which the
# desk's mailbox settings name too.
SAMPLE_MAILBOX = "support@helpdesk.example.com"
SAMPLE_MAILBOX_PASSWORD = "HELPDESK_MAILBOX_SAMPLE_PASSWORD"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
HOST_GRACE = 15.0


class Stopped(BaseException):
    """A stop signal arrived. A BaseException, so that no `except Exception` on the way
    (httpx, the seeding) swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def parse_ports(text: str) -> dict[str, int]:
    ports = dict(PORTS)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in PORTS or not value.strip().isdigit():
            raise SystemExit(f"error: bad port setting {item!r}: expected NAME=PORT, NAME one of "
                             f"{', '.join(PORTS)}")
        ports[name.strip()] = int(value)
    if len(set(ports.values())) != len(ports):
        raise SystemExit(f"error: two services on one port: {ports}")
    return ports


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.run",
                                     description="The help desk locally, with Azurite, MailDev "
                                                 "and Dovecot.")
    parser.add_argument("--ports", default=os.environ.get("HELPDESK_RUN_PORTS", ""),
                        help="NAME=PORT,... for host, blob, queue, table, smtp, mail, imap, "
                             "imaps (default: HELPDESK_RUN_PORTS, else 7071, 10000-10002, "
                             "1025, 1080, 1143, 1993)")
    parser.add_argument("--data", default=os.environ.get("HELPDESK_RUN_DATA") or str(DATA),
                        help="folder for Azurite's data, the logs and the seeded marker "
                             "(default: HELPDESK_RUN_DATA, else .data)")
    return parser.parse_args(argv)


def ensure_local_settings() -> Path:
    settings = ROOT / "local.settings.json"
    if not settings.exists():
        shutil.copy(ROOT / "local.settings.example.json", settings)
        print(f"created {settings.name} from local.settings.example.json")
    return settings


def with_new_settings(values: dict[str, str]) -> dict[str, str]:
    """local.settings.json's values, plus those the example gained since it was copied
    (the sample mailbox's password, the fetch schedule): an older copy lacks them."""
    example = json.loads((ROOT / "local.settings.example.json").read_text())["Values"]
    return {**{k: str(v) for k, v in example.items()}, **values}


def host_environment(values: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    """The host's environment: ours, then local.settings.json's values, with the settings
    that point at a default port moved to the port this run uses instead."""
    follow = {
        "AzureWebJobsStorage": (
            services.azurite_connection_string(blob=PORTS["blob"], queue=PORTS["queue"],
                                               table=PORTS["table"]),
            services.azurite_connection_string(blob=ports["blob"], queue=ports["queue"],
                                               table=ports["table"])),
        "SMTP_PORT": (str(PORTS["smtp"]), str(ports["smtp"])),
        "HELPDESK_PUBLIC_URL": (f"http://127.0.0.1:{PORTS['host']}",
                                f"http://127.0.0.1:{ports['host']}"),
    }
    settings = dict(values)
    for name, (default, chosen) in follow.items():
        if settings.get(name) == default:
            settings[name] = chosen
    return {**os.environ, **{k: v for k, v in settings.items() if k not in os.environ}}


def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the local host exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/api/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the local host did not become healthy in time")


class Run:
    """The processes of one run, and the one way they are stopped."""

    def __init__(self) -> None:
        self.services: list[services.Service] = []
        self.host: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            raise Stopped(signum)
        # A second signal while stopping (Ctrl-C again): do not wait for running functions.
        if self.host is not None and self.host.poll() is None:
            self.host.kill()

    def stop(self) -> None:
        self.stopping = True
        host = self.host
        if host is not None and host.poll() is None:
            host.send_signal(signal.SIGINT)  # the host's graceful stop
            try:
                host.wait(HOST_GRACE)
            except subprocess.TimeoutExpired:
                host.kill()
                host.wait()
        for service in reversed(self.services):
            service.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ports = parse_ports(args.ports)
    data = Path(args.data).resolve()
    busy = services.describe_busy_ports((LABELS[name], port) for name, port in ports.items())
    if busy:
        print(f"error: cannot start, a port is taken.\n{busy}\n"
              "Other ports, for instance: HELPDESK_RUN_PORTS=host=8071,blob=20000 make run",
              file=sys.stderr)
        return 1
    settings_file = ensure_local_settings()
    values = with_new_settings(json.loads(settings_file.read_text())["Values"])
    data.mkdir(parents=True, exist_ok=True)
    log_dir = data / "logs"
    run = Run()
    previous = {signum: signal.signal(signum, run.on_signal) for signum in STOP_SIGNALS}
    try:
        azurite = services.azurite(blob=ports["blob"], queue=ports["queue"], table=ports["table"],
                                   location=data / "azurite", log_dir=log_dir)
        maildev = services.maildev(smtp=ports["smtp"], web=ports["mail"], log_dir=log_dir)
        dovecot_files.add_user(data / "dovecot", SAMPLE_MAILBOX, values[SAMPLE_MAILBOX_PASSWORD])
        dovecot = services.dovecot(imap=ports["imap"], imaps=ports["imaps"],
                                   data=data / "dovecot", log_dir=log_dir)
        for service in (azurite, maildev, dovecot):
            run.services.append(service)  # before start(): a signal during it still stops it
            service.start()
        # A process group of its own: the terminal's Ctrl-C reaches the host once, from
        # run.stop(), not twice (a second SIGINT makes it skip its graceful stop).
        run.host = subprocess.Popen(
            [sys.executable, "-m", "devhost", "--port", str(ports["host"])],
            cwd=ROOT, env=host_environment(values, ports), process_group=0)
        base = f"http://127.0.0.1:{ports['host']}"
        wait_healthy(base, run.host)
        marker = data / "seeded"
        if not marker.exists():
            seed(base)
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        connect_sample_mailbox(base, address=SAMPLE_MAILBOX, port=ports["imap"],
                               password_setting=SAMPLE_MAILBOX_PASSWORD)
        print(
            "\nThe help desk is running:\n"
            f"  web form      {base}/  (redirects to {base}/api/form)\n"
            f"  agent sign-in {base}/.auth/login/dev\n"
            f"  API           {base}/api/health, {base}/api/tickets/<number>\n"
            f"  mail (MailDev) http://127.0.0.1:{ports['mail']}\n"
            f"  IMAP (Dovecot) 127.0.0.1:{ports['imap']} (TLS {ports['imaps']}), mailbox "
            f"{SAMPLE_MAILBOX}, password in local.settings.json's {SAMPLE_MAILBOX_PASSWORD};\n"
            f"                 drop a message in: python -m tools.mail_drop --subject ...\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        run.host.wait()
        return run.host.returncode or 0
    except Stopped as stop:
        print(f"\n{stop}: stopping the host, Dovecot, MailDev and Azurite", file=sys.stderr,
              flush=True)
        return 0
    except (services.ServiceError, dovecot_files.DovecotError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        run.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    raise SystemExit(main())
