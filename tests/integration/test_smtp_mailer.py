"""The SMTP mailer against a real MailDev: mails share one open connection, a connection
the server dropped between two mails is replaced before the next mail is handed over
(so it is delivered, once, and never reported as "maybe sent"), and closing the desk
says goodbye to the server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import psutil
import pytest

from devtools import services
from shared.core.settings import MailSettings
from shared.mail.compose import compose
from shared.mail.smtp import SmtpMailer
from tests.conftest import unique_email
from tests.support import MailDev


def mail_to(settings: MailSettings, address: str, n: int) -> EmailMessage:
    return compose(settings=settings, to=address, subject=f"Update {n}", text=f"Update {n}.",
                   html=f"<p>Update {n}.</p>", message_id=f"<{address}.{n}@example.com>")


def open_connections(port: int) -> set[tuple[str, int]]:
    """This process's established TCP connections to the SMTP port (their local ends)."""
    return {tuple(c.laddr) for c in psutil.Process(os.getpid()).net_connections("tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED}


class OwnMailDev:
    """A MailDev of this module's own, which a test may restart on the same ports."""

    def __init__(self, log_dir: Path) -> None:
        self.smtp, self.web = services.free_ports(2)
        self.service = services.maildev(smtp=self.smtp, web=self.web, log_dir=log_dir)
        self.box = MailDev(f"http://127.0.0.1:{self.web}")

    def restart(self) -> None:
        self.service.stop()
        self.service.start()


@pytest.fixture(scope="module")
def maildev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnMailDev]:
    server = OwnMailDev(tmp_path_factory.mktemp("maildev"))
    server.service.start()
    yield server
    server.service.stop()


async def test_mails_in_a_row_share_one_connection_and_all_arrive(maildev_server: OwnMailDev):
    settings = MailSettings(port=maildev_server.smtp)
    mailer = SmtpMailer(settings)
    address = unique_email("pool")
    for n in range(5):
        await mailer.send(mail_to(settings, address, n))
    subjects = sorted(m["subject"] for m in maildev_server.box.wait_to(address, count=5))
    assert subjects == [f"Update {n}" for n in range(5)]
    assert len(open_connections(maildev_server.smtp)) == 1
    await mailer.close()
    assert open_connections(maildev_server.smtp) == set()


async def test_a_server_restart_between_two_mails_still_delivers_the_second_once(
        maildev_server: OwnMailDev):
    settings = MailSettings(port=maildev_server.smtp)
    mailer = SmtpMailer(settings)
    address = unique_email("restart")
    await mailer.send(mail_to(settings, address, 1))
    maildev_server.box.wait_to(address, count=1)
    # The connection kept open for the next mail dies with the server.
    maildev_server.restart()
    await mailer.send(mail_to(settings, address, 2))
    [second] = maildev_server.box.wait_to(address, count=1)
    assert second["subject"] == "Update 2"
    await mailer.close()


async def test_a_connection_idle_too_long_is_replaced(maildev_server: OwnMailDev):
    settings = MailSettings(port=maildev_server.smtp)
    mailer = SmtpMailer(settings, idle_seconds=0)
    address = unique_email("idle")
    await mailer.send(mail_to(settings, address, 1))
    first = open_connections(maildev_server.smtp)
    await mailer.send(mail_to(settings, address, 2))
    assert len(maildev_server.box.wait_to(address, count=2)) == 2
    now = open_connections(maildev_server.smtp)
    assert len(first) == len(now) == 1 and now != first
    await mailer.close()
