"""500 messages fetched from a real Dovecot while the fetching host is killed (SIGKILL) in
the middle of a batch and Dovecot is restarted: exactly 500 tickets, one acknowledgement
each. Also the figure: how long the fetch of 500 messages takes."""

from __future__ import annotations

import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import psutil
import pytest
from azure.data.tables import TableServiceClient

from tests.e2e.conftest import RunningHost, running_host
from tests.faults.conftest import FaultyServices
from tests.support import LocalDovecot, wait_for

pytestmark = pytest.mark.faults

MESSAGES = 500
PASSWORD = "crash-test-password"


def tickets(host: RunningHost) -> dict[str, int]:
    """Tickets per requester, straight from the table."""
    found: dict[str, int] = {}
    with TableServiceClient.from_connection_string(host.storage) as service:
        for row in service.get_table_client("tickets").query_entities(
                "RowKey eq @r", parameters={"r": "ticket"}, select=["requester_email"]):
            found[row["requester_email"]] = found.get(row["requester_email"], 0) + 1
    return found


def kill(host: RunningHost) -> None:
    """SIGKILL the host process that listens on the host's port: no clean shutdown."""
    port = int(host.base_url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN \
                and conn.pid:
            psutil.Process(conn.pid).kill()
            return
    raise AssertionError("no process listens on the host's port")


def test_500_messages_through_a_killed_worker_and_a_dovecot_restart(
        faulty: FaultyServices, dovecot: LocalDovecot, tmp_path: Path):
    user = f"crash-{uuid.uuid4().hex[:8]}@example.com"
    dovecot.add_user(user, PASSWORD)
    env = {"HELPDESK_MAILBOX_CRASH_PASSWORD": PASSWORD, "HELPDESK_MAILBOX_LEASE_SECONDS": "10",
           "HELPDESK_MAILBOX_FETCH_SECONDS": "20",
           "HELPDESK_MAILBOX_FETCH_SCHEDULE": "0 0 0 1 1 *",
           "HELPDESK_LIMIT_ACKNOWLEDGEMENTS_PER_HOUR": "0"}
    tag = uuid.uuid4().hex[:6]
    senders = [f"r{n}-{tag}@example.org" for n in range(MESSAGES)]
    (tmp_path / "one").mkdir()
    with running_host(faulty.local, tmp_path / "one", **env) as first:
        with first.signed_in(roles="agent,admin", user="crash-admin",
                             email="crash-admin@example.com") as admin:
            r = admin.put("/api/directory/mailboxes/crash", json={
                "address": user, "host": dovecot.host, "port": dovecot.port,
                "security": "plain", "username": user,
                "password_setting": "HELPDESK_MAILBOX_CRASH_PASSWORD", "import_existing": True})
            assert r.status_code == 200, r.text
        for n, sender in enumerate(senders):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = sender, user, f"Crash test {n}"
            msg["Message-ID"] = make_msgid(domain="client.example")
            msg.set_content(f"Message {n}.")
            dovecot.append(user, bytes(msg))
        started = time.monotonic()
        first.run_function("mailboxes_schedule")
        wait_for(lambda: len(tickets(first)) >= 60, timeout=120, interval=0.2,
                 what="the fetch to be well into its batches")
        kill(first)
    dovecot.restart()
    done_at_kill = len(tickets(first))
    assert done_at_kill < MESSAGES, "the worker was killed before it finished"

    (tmp_path / "two").mkdir()
    with running_host(faulty.local, tmp_path / "two", **env) as second:
        def all_in() -> bool:
            second.run_function("mailboxes_schedule")  # a timer round; a busy lease is a no-op
            return len(tickets(second)) >= MESSAGES

        wait_for(all_in, timeout=600, interval=5, what=f"{MESSAGES} tickets")
        elapsed = time.monotonic() - started
        found = tickets(second)
        assert {s: n for s, n in found.items() if s in senders} == dict.fromkeys(senders, 1)
        assert len(found) == MESSAGES

        def acked() -> bool:
            got = [t["address"] for m in faulty.maildev.messages() for t in m.get("to", [])]
            return len([a for a in got if a in set(senders)]) >= MESSAGES and got

        wait_for(acked, timeout=300, interval=2, what="the acknowledgements")
        time.sleep(5)
        got = [t["address"] for m in faulty.maildev.messages() for t in m.get("to", [])]
        counts = {s: got.count(s) for s in senders}
        assert set(counts.values()) == {1}, "one acknowledgement each, none twice"
        with dovecot.session(user) as imap:
            imap.select_folder("INBOX", readonly=True)
            assert imap.search("UNSEEN") == [], "every fetched message is marked seen"
        print(f"\n{MESSAGES} messages fetched in {elapsed:.1f}s through a kill at "
              f"{done_at_kill} and a Dovecot restart")
