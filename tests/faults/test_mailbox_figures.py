"""The mailbox fetch's two targets, measured against a real Dovecot (slow, so under the
`faults` marker; `pytest -m faults -s tests/faults/test_mailbox_figures.py` prints them):
a fetch of 1,000 new messages finishes within the function's time limit (or resumes by
its continuation), and a message's acknowledgement reaches MailDev within one timer
period plus 10 seconds at the 95th percentile, the timer running on its own schedule."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningHost, running_host
from tests.faults.conftest import FaultyServices
from tests.faults.test_mailbox_crash import tickets
from tests.support import LocalDovecot, wait_for

pytestmark = pytest.mark.faults
PASSWORD = "figures-password"


def connect(host: RunningHost, dovecot: LocalDovecot, user: str) -> None:
    with host.signed_in(roles="agent,admin", user="fig-admin",
                        email="fig-admin@example.com") as admin:
        r = admin.put("/api/directory/mailboxes/figures", json={
            "address": user, "host": dovecot.host, "port": dovecot.port, "security": "plain",
            "username": user, "password_setting": "HELPDESK_MAILBOX_FIG_PASSWORD"})
        assert r.status_code == 200, r.text


def drop(dovecot: LocalDovecot, user: str, sender: str, n: int) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, user, f"Figure {n}"
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg.set_content(f"Message {n}.")
    dovecot.append(user, bytes(msg))


def test_a_fetch_of_1000_messages(faulty: FaultyServices, dovecot: LocalDovecot,
                                  tmp_path: Path):
    user = f"fig-{uuid.uuid4().hex[:8]}@example.com"
    dovecot.add_user(user, PASSWORD)
    env = {"HELPDESK_MAILBOX_FIG_PASSWORD": PASSWORD,
           "HELPDESK_MAILBOX_FETCH_SCHEDULE": "0 0 0 1 1 *",
           "HELPDESK_LIMIT_ACKNOWLEDGEMENTS_PER_HOUR": "0"}
    with running_host(faulty.local, tmp_path, **env) as host:
        connect(host, dovecot, user)
        host.run_function("mailboxes_schedule")  # the first connection: from now
        time.sleep(3)
        tag = uuid.uuid4().hex[:6]
        for n in range(1000):
            drop(dovecot, user, f"f{n}-{tag}@example.org", n)
        started = time.monotonic()
        host.run_function("mailboxes_schedule")
        wait_for(lambda: len(tickets(host)) >= 1000, timeout=900, interval=1,
                 what="1,000 tickets")
        elapsed = time.monotonic() - started
        print(f"\n1,000 messages fetched into tickets in {elapsed:.1f}s "
              f"({1000 / elapsed:.1f}/s), one timer round and its continuations")
        assert len(tickets(host)) == 1000


def test_message_to_acknowledgement_through_the_timer(faulty: FaultyServices,
                                                      dovecot: LocalDovecot, tmp_path: Path):
    user = f"fig-{uuid.uuid4().hex[:8]}@example.com"
    dovecot.add_user(user, PASSWORD)
    env = {"HELPDESK_MAILBOX_FIG_PASSWORD": PASSWORD,
           "HELPDESK_MAILBOX_FETCH_SCHEDULE": "0 * * * * *"}  # every minute, as deployed
    with running_host(faulty.local, tmp_path, **env) as host:
        connect(host, dovecot, user)
        host.run_function("mailboxes_schedule")
        time.sleep(3)
        rng = random.Random(19)
        tag = uuid.uuid4().hex[:6]
        sent: dict[str, float] = {}
        for n in range(20):
            time.sleep(rng.uniform(0, 9))
            sender = f"lat{n}-{tag}@example.org"
            drop(dovecot, user, sender, n)
            sent[sender] = time.monotonic()
        latencies: dict[str, float] = {}

        def all_acked() -> bool:
            for message in faulty.maildev.messages():
                for to in message.get("to", []):
                    address = to.get("address", "")
                    if address in sent and address not in latencies:
                        latencies[address] = time.monotonic() - sent[address]
            return len(latencies) == len(sent)

        wait_for(all_acked, timeout=180, interval=0.5, what="every acknowledgement")
        values = sorted(latencies.values())
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"\nmessage to acknowledgement, timer every 60 s, {len(values)} messages: "
              f"p50 {statistics.median(values):.1f}s, p95 {p95:.1f}s, max {values[-1]:.1f}s "
              "(polling MailDev every 0.5 s)")
        assert p95 < 70
