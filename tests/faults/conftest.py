"""Fault tests: each gets an Azurite of its own, keeping its data on disk so that it can
be stopped and started again (or frozen) mid-run, its own MailDev and its own local host.
They run with `make faults` (CI runs it after `make test`), not with plain `pytest`."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools import services
from tests.conftest import LocalServices
from tests.support import MailDev


@dataclass
class FaultyServices:
    """The services of one fault test, with the faults it can inject."""

    azurite: services.Service
    maildev_service: services.Service
    local: LocalServices
    faults: int = 0

    @property
    def maildev(self) -> MailDev:
        return MailDev(self.local.maildev_url)

    def restart_azurite(self, down_for: float = 2.0) -> None:
        """Stop Azurite (terminate, then kill if it lingers) and start it again on the
        same ports and data directory."""
        self.faults += 1
        self.azurite.stop()
        time.sleep(down_for)
        self.azurite.start()

    def freeze_azurite(self, seconds: float = 10.0) -> None:
        """SIGSTOP, wait, SIGCONT: storage that hangs instead of refusing."""
        assert self.azurite.process is not None
        self.faults += 1
        os.killpg(self.azurite.process.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.killpg(self.azurite.process.pid, signal.SIGCONT)

    def stop_maildev(self) -> None:
        self.faults += 1
        self.maildev_service.stop()

    def start_maildev(self) -> None:
        self.maildev_service.start()


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[FaultyServices]:
    ports = services.free_ports(5)
    azurite = services.azurite(blob=ports[0], queue=ports[1], table=ports[2],
                               location=tmp_path / "azurite", log_dir=tmp_path)
    maildev = services.maildev(smtp=ports[3], web=ports[4], log_dir=tmp_path)
    started: list[services.Service] = []
    try:
        for service in (azurite, maildev):
            service.start()
            started.append(service)
        local = LocalServices(
            storage=services.azurite_connection_string(blob=ports[0], queue=ports[1],
                                                       table=ports[2]),
            smtp_port=ports[3], maildev_url=f"http://127.0.0.1:{ports[4]}")
        yield FaultyServices(azurite, maildev, local)
    finally:
        for service in reversed(started):
            service.stop()
