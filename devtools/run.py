"""`make run`: the whole help desk on this machine, in the foreground.

Starts Azurite (data kept in `.data/azurite`), MailDev and the local host on the usual
ports, seeds sample tickets on the first run, prints where everything is, and stops all
of it on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devtools import services
from devtools.seed import seed

ROOT = services.ROOT
DATA = ROOT / ".data"
HOST_PORT = 7071
PORTS = {"blob": 10000, "queue": 10001, "table": 10002, "smtp": 1025, "mail_web": 1080}


def ensure_local_settings() -> Path:
    settings = ROOT / "local.settings.json"
    if not settings.exists():
        shutil.copy(ROOT / "local.settings.example.json", settings)
        print(f"created {settings.name} from local.settings.example.json")
    return settings


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


def main() -> int:
    settings_file = ensure_local_settings()
    values = json.loads(settings_file.read_text())["Values"]
    DATA.mkdir(exist_ok=True)
    log_dir = DATA / "logs"
    azurite = services.azurite(blob=PORTS["blob"], queue=PORTS["queue"], table=PORTS["table"],
                               location=DATA / "azurite", log_dir=log_dir)
    maildev = services.maildev(smtp=PORTS["smtp"], web=PORTS["mail_web"], log_dir=log_dir)
    started: list[services.Service] = []
    host: subprocess.Popen[bytes] | None = None
    try:
        for service in (azurite, maildev):
            service.start()
            started.append(service)
        env = {**os.environ, **{k: v for k, v in values.items() if k not in os.environ}}
        host = subprocess.Popen([sys.executable, "-m", "devhost", "--port", str(HOST_PORT)],
                                cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{HOST_PORT}"
        wait_healthy(base, host)
        marker = DATA / "seeded"
        if not marker.exists():
            seed(base)
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        print(
            "\nThe help desk is running:\n"
            f"  web form      {base}/  (redirects to {base}/api/form)\n"
            f"  agent sign-in {base}/.auth/login/dev\n"
            f"  API           {base}/api/health, {base}/api/tickets/<number>\n"
            f"  mail (MailDev) http://127.0.0.1:{PORTS['mail_web']}\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        host.wait()
        return host.returncode or 0
    except KeyboardInterrupt:
        return 0
    except services.ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if host is not None and host.poll() is None:
            host.send_signal(signal.SIGINT)
            try:
                host.wait(15)
            except subprocess.TimeoutExpired:
                host.kill()
        for service in reversed(started):
            service.stop()


if __name__ == "__main__":
    raise SystemExit(main())
