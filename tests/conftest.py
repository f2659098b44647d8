"""Session-wide services for the tests: a real Azurite and a real MailDev, each started
on free ports of its own (so the tests can run beside `make run`), checked to be the
process that answers, and stopped at the end. Set HELPDESK_TEST_STORAGE and
HELPDESK_TEST_MAILDEV (smtp port, web URL) to use running ones instead. A real Dovecot and
its token service (`dovecot`) start the first time a test asks for them."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools import services
from devtools.tokens import TokenService
from tests.support import DkimKey, LocalDns, LocalDovecot, MailDev

# Every test app asks this DNS server (HELPDESK_DNS_SERVER) for DKIM keys and DMARC
# policies: sending domains' keys are made in the tests and published in it. It starts
# here, once, so that hosts started anywhere in the session ask the same one.
LOCAL_DNS = LocalDns()


@dataclass(frozen=True)
class LocalServices:
    storage: str
    smtp_port: int
    maildev_url: str


@pytest.fixture(scope="session")
def test_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServices]:
    storage = os.environ.get("HELPDESK_TEST_STORAGE")
    maildev_spec = os.environ.get("HELPDESK_TEST_MAILDEV")  # "SMTP_PORT,http://host:port"
    started: list[services.Service] = []
    log_dir = tmp_path_factory.mktemp("services")
    try:
        if not storage:
            ports = services.free_ports(3)
            azurite = services.azurite(blob=ports[0], queue=ports[1], table=ports[2],
                                       location=None, log_dir=log_dir)
            azurite.start()
            started.append(azurite)
            storage = services.azurite_connection_string(
                blob=ports[0], queue=ports[1], table=ports[2])
        if maildev_spec:
            smtp_text, web_url = maildev_spec.split(",", 1)
            smtp_port = int(smtp_text)
        else:
            smtp_port, web_port = services.free_ports(2)
            maildev = services.maildev(smtp=smtp_port, web=web_port, log_dir=log_dir)
            maildev.start()
            started.append(maildev)
            web_url = f"http://127.0.0.1:{web_port}"
        # Other conftests (the local host's own tests) read the storage from here.
        os.environ["HELPDESK_TEST_STORAGE"] = storage
        yield LocalServices(storage=storage, smtp_port=smtp_port, maildev_url=web_url)
        for service in started:
            assert service.owns_ports(), f"{service.name} no longer owns its ports"
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture(scope="session")
def storage_connection_string(test_services: LocalServices) -> str:
    return test_services.storage


@pytest.fixture(scope="session")
def local_dns() -> LocalDns:
    return LOCAL_DNS


@pytest.fixture(scope="session")
def requester_key() -> DkimKey:
    """The DKIM key of example.org, the domain of `unique_email`'s addresses, published in
    the session's DNS: a requester's mail signed with it is authenticated."""
    return DkimKey.publish(LOCAL_DNS, "example.org")


@pytest.fixture(scope="session")
def maildev(test_services: LocalServices) -> MailDev:
    return MailDev(test_services.maildev_url)


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDovecot]:
    """Dovecot on free loopback ports with an empty data folder, and the token service
    its oauth2 passdb asks, for the whole session."""
    # Not under pytest's temporary folder: that is private to us (0700), and when the
    # tests run as root Dovecot reads and writes mail as its own user.
    data = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    log_dir = tmp_path_factory.mktemp("dovecot-logs")
    tokens = TokenService()
    tokens.start()
    imap, imaps = services.free_ports(2)

    def start() -> services.Service:
        service = services.dovecot(imap=imap, imaps=imaps, data=data, log_dir=log_dir,
                                   introspection_url=tokens.introspection_url)
        service.start()
        return service

    local = LocalDovecot(host="127.0.0.1", port=imap, tokens_url=tokens.url, tls_port=imaps,
                         cert_file=data / "tls" / "cert.pem", _data=data, _start=start)
    try:
        local.start()
        yield local
        assert local.owns_ports(), f"dovecot no longer owns its ports; see {log_dir}"
    finally:
        local.stop()
        tokens.stop()
        shutil.rmtree(data, ignore_errors=True)


# Signs the portal's links in every test app; tests mint links of their own with it.
PORTAL_SECRET = "test-portal-secret-0123456789"


def app_env(test_services: LocalServices, **overrides: str) -> dict[str, str]:
    """The environment the function app runs with in tests."""
    env = {
        "AzureWebJobsStorage": test_services.storage,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(test_services.smtp_port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "helpdesk@example.com",
        "HELPDESK_NAME": "Test Desk",
        "HELPDESK_PORTAL_SECRET": PORTAL_SECRET,
        "HELPDESK_DNS_SERVER": LOCAL_DNS.server,
        # The address the tests' mail is sent to (tests/support.py email_message): the
        # desk's own, never a collaborator.
        "HELPDESK_MAIL_ADDRESSES": "support@example.com",
    }
    env.update(overrides)
    return env


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.org"


ROOT = Path(__file__).resolve().parent.parent
