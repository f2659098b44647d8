"""Fetched mailboxes end to end: the running host, a real Dovecot (the `dovecot`
fixture), MailDev. The timer is run through the host's admin API.

The host here has an Azurite of its own: the session's host, on the shared Azurite,
would poll the same `mailbox-fetch` queue without these tests' credential settings."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.conftest import LocalServices, unique_email
from tests.e2e.conftest import RunningHost, own_storage, running_host
from tests.support import LocalDovecot, MailDev, email_message, wait_for

PASSWORD = "right-horse-battery"
ALERT_SECONDS = 3


@pytest.fixture(scope="module")
def tokens(dovecot: LocalDovecot) -> dict[str, str]:
    """Accounts for the OAuth2 tests and the tokens the host gets as app settings: one
    valid for an hour, one that expires a few seconds after the host starts, a forged one."""
    dovecot.add_user("oauth@example.com", PASSWORD)
    return {"HELPDESK_MAILBOX_TOKEN_VALID": dovecot.issue_token("oauth@example.com", 3600),
            "HELPDESK_MAILBOX_TOKEN_SHORT": dovecot.issue_token("oauth@example.com", 6),
            "HELPDESK_MAILBOX_TOKEN_FORGED": dovecot.forged_token()}


@pytest.fixture(scope="module")
def mailhost(test_services: LocalServices, tmp_path_factory: pytest.TempPathFactory,
             tokens: dict[str, str]) -> Iterator[RunningHost]:
    workdir = tmp_path_factory.mktemp("mailhost")
    with own_storage(test_services, workdir) as local, running_host(
            local, workdir,
            HELPDESK_MAILBOX_GOOD_PASSWORD=PASSWORD,
            HELPDESK_MAILBOX_WRONG_PASSWORD="not-the-password",
            HELPDESK_MAILBOX_ALERT_AFTER_SECONDS=str(ALERT_SECONDS),
            HELPDESK_MAILBOX_LEASE_SECONDS="15",
            HELPDESK_LIMIT_REQUEST_BYTES=str(1024 * 1024),
            # Run by the tests through the admin API, not by the clock.
            HELPDESK_MAILBOX_FETCH_SCHEDULE="0 0 0 1 1 *",
            **tokens) as host:
        yield host


@pytest.fixture
def admin(mailhost: RunningHost) -> Iterator[tuple[httpx.Client, str]]:
    email = unique_email("admin")
    with mailhost.signed_in(roles="agent,admin", user=email, email=email) as client:
        yield client, email


def mail(sender: str, subject: str, text: str = "My screen stays black.", **headers: str
         ) -> tuple[bytes, str]:
    msg = email_message(sender, subject, text, name="Requester", **headers)
    return bytes(msg), str(msg["Message-ID"])


class Box:
    """A Dovecot account connected to the desk as a mailbox of its own."""

    def __init__(self, host: RunningHost, dovecot: LocalDovecot, admin: httpx.Client,
                 **fields: object) -> None:
        self.host, self.dovecot, self.admin = host, dovecot, admin
        self.id = f"box-{uuid.uuid4().hex[:8]}"
        self.user = f"{self.id}@example.com"
        dovecot.add_user(self.user, PASSWORD)
        self.fields = {"address": self.user, "host": dovecot.host, "port": dovecot.port,
                       "security": "plain", "username": self.user, "auth": "password",
                       "password_setting": "HELPDESK_MAILBOX_GOOD_PASSWORD", **fields}
        self.put()

    def put(self, **changes: object) -> None:
        self.fields.update(changes)
        r = self.admin.put(f"/api/directory/mailboxes/{self.id}", json=self.fields)
        assert r.status_code == 200, r.text

    def append(self, raw: bytes, folder: str = "INBOX", when: datetime | None = None) -> int:
        return self.dovecot.append(self.user, raw, folder, when=when)

    def fetch(self) -> None:
        """One timer round: a fetch of every enabled mailbox is queued."""
        self.host.run_function("mailboxes_schedule")

    def health(self) -> dict:
        r = self.admin.get(f"/api/mailboxes/{self.id}/health")
        assert r.status_code == 200, r.text
        return r.json()["health"]

    def wait_health(self, probe, what: str, timeout: float = 30.0) -> dict:
        return wait_for(lambda: probe(h := self.health()) and h, timeout=timeout,
                        interval=0.3, what=what)

    def remove(self) -> None:
        self.admin.delete(f"/api/directory/mailboxes/{self.id}")


@pytest.fixture
def box(mailhost: RunningHost, dovecot: LocalDovecot, admin: tuple[httpx.Client, str]
        ) -> Iterator[Box]:
    made = Box(mailhost, dovecot, admin[0])
    made.fetch()  # the first connection: from now on
    made.wait_health(lambda h: h["last_success_at"], "the first fetch")
    yield made
    made.remove()


def number_of(ack: dict) -> str:
    return ack["subject"].split("[#")[1].split("]")[0]


def test_a_message_becomes_a_ticket_acknowledged_within_a_timer_period_and_a_reply_joins(
        box: Box, maildev: MailDev, admin: tuple[httpx.Client, str]):
    sender = unique_email("imap")
    raw, _ = mail(sender, "The screen stays black")
    uid = box.append(raw)
    started = time.monotonic()
    box.fetch()
    [ack] = maildev.wait_to(sender, timeout=60)
    assert time.monotonic() - started < 60, "within one timer period"
    number = number_of(ack)
    assert "\\Seen" in box.dovecot.flags(box.user, uid)
    health = box.health()
    assert health["fetched_today"] == 1 and health["waiting"] == 0
    assert health["last_error"] is None

    raw_ack = maildev.raw(ack["id"]).decode()
    ack_id = next(line.split(":", 1)[1].strip() for line in raw_ack.splitlines()
                  if line.lower().startswith("message-id:"))
    assert f"Reply-To: {box.user}" in raw_ack, "answers go back to the mailbox"
    reply, _ = mail(sender, "Re: The screen stays black", "It also beeps twice.",
                    In_Reply_To=ack_id, References=ack_id)
    box.append(reply)
    box.fetch()

    def joined() -> list[dict]:
        view = admin[0].get(f"/api/tickets/{number}").json()
        return [e for e in view["thread"] if e["kind"] == "message"]

    [entry] = wait_for(joined, timeout=30, what="the reply to join the ticket")
    assert entry["body"] == "It also beeps twice." and entry["data"]["mailbox"] == box.id
    assert len(box.host.tickets_of(sender)) == 1


def test_an_existing_mailbox_is_not_imported_unless_asked(
        mailhost: RunningHost, dovecot: LocalDovecot, admin: tuple[httpx.Client, str]):
    senders = [unique_email("old") for _ in range(200)]
    last_month = datetime.now(UTC) - timedelta(days=30)
    plain = Box(mailhost, dovecot, admin[0], enabled=False)
    for sender in senders:
        plain.append(mail(sender, "An old message")[0], when=last_month)
    # Sent to try the mailbox out after connecting it, before the first fetch: fetched.
    trial = unique_email("trial")
    plain.append(mail(trial, "Does this work?")[0])
    plain.put(enabled=True)
    plain.fetch()
    health = plain.wait_health(lambda h: h["last_success_at"], "the first fetch")
    wait_for(lambda: mailhost.tickets_of(trial), timeout=30, what="the trial message's ticket")
    assert health["fetched_today"] <= 1  # the trial message, nothing of the history
    assert not any(mailhost.tickets_of(s) for s in senders[:5] + senders[-5:])
    new = unique_email("new")
    plain.append(mail(new, "A new one")[0])
    plain.fetch()
    wait_for(lambda: mailhost.tickets_of(new), timeout=30, what="the new message's ticket")
    assert not mailhost.tickets_of(senders[0])
    plain.remove()

    importing = Box(mailhost, dovecot, admin[0], enabled=False, import_existing=True)
    few = senders[:5]
    for sender in few:
        importing.append(mail(sender, "An old message, imported")[0])
    importing.put(enabled=True)
    importing.fetch()
    wait_for(lambda: all(mailhost.tickets_of(s) for s in few), timeout=60,
             what="the imported messages' tickets")
    importing.remove()


def test_a_wrong_password_shows_alerts_once_and_recovers_without_losing_mail(
        box: Box, maildev: MailDev, admin: tuple[httpx.Client, str]):
    admin_email = admin[1]
    box.put(password_setting="HELPDESK_MAILBOX_WRONG_PASSWORD")
    sender = unique_email("waiting")
    box.append(mail(sender, "Sent while the login fails")[0])
    box.fetch()
    health = box.wait_health(lambda h: h["failing_since"], "the failure in the health")
    assert "login refused" in health["last_error"] and "AUTHENTICATIONFAILED" in \
        health["last_error"].upper()
    assert PASSWORD not in health["last_error"]
    time.sleep(ALERT_SECONDS + 0.5)
    for _ in range(3):
        box.fetch()
    [alert] = maildev.wait_to(admin_email, timeout=30)
    assert "is not being fetched" in alert["subject"]
    alerts = admin[0].get("/api/mailboxes/alerts").json()
    assert box.id in [a["id"] for a in alerts]
    time.sleep(2)
    box.fetch()
    time.sleep(2)
    assert len(maildev.to(admin_email)) == 1, "one alert, however long it fails"

    box.put(password_setting="HELPDESK_MAILBOX_GOOD_PASSWORD")
    box.fetch()
    maildev.wait_to(sender, timeout=60)  # the mail that waited is not lost
    recovered = maildev.wait_to(admin_email, count=2, timeout=30)
    assert any("fetched again" in m["subject"] for m in recovered)
    assert box.id not in [a["id"] for a in admin[0].get("/api/mailboxes/alerts").json()]
    box.fetch()
    time.sleep(2)
    assert len(maildev.to(admin_email)) == 2


def test_an_expired_token_shows_alerts_and_a_fresh_one_recovers(
        mailhost: RunningHost, dovecot: LocalDovecot, maildev: MailDev,
        admin: tuple[httpx.Client, str]):
    admin_client, admin_email = admin
    oauth = Box(mailhost, dovecot, admin_client, enabled=False, auth="oauth2-token",
                token_setting="HELPDESK_MAILBOX_TOKEN_SHORT", password_setting=None)
    oauth.user = "oauth@example.com"
    oauth.put(username=oauth.user, address=oauth.user)
    time.sleep(7)  # the short token has expired by now
    oauth.put(enabled=True)
    oauth.fetch()
    health = oauth.wait_health(lambda h: h["failing_since"], "the expired token's failure")
    assert "oauth2-token" in health["last_error"]
    time.sleep(ALERT_SECONDS + 0.5)
    oauth.fetch()
    wait_for(lambda: any("is not being fetched" in m["subject"]
                         for m in maildev.to(admin_email)), timeout=30, what="the alert")
    sender = unique_email("oauth")
    oauth.append(mail(sender, "Sent while the token had expired")[0])
    oauth.put(token_setting="HELPDESK_MAILBOX_TOKEN_VALID")
    oauth.fetch()
    oauth.wait_health(lambda h: h["failing_since"] is None and h["last_success_at"],
                      "recovery with a fresh token")
    oauth.append(mail(sender, "Sent after")[0])
    oauth.fetch()
    wait_for(lambda: len(mailhost.tickets_of(sender)) == 1, timeout=30,
             what="the message sent after recovery")
    oauth.remove()


@pytest.mark.parametrize(("which", "accepted"), [("TOKEN_VALID", True), ("TOKEN_FORGED", False),
                                                 ("TOKEN_SHORT", False)])
def test_xoauth2_with_a_valid_an_expired_and_a_forged_token(
        dovecot: LocalDovecot, tokens: dict[str, str], which: str, accepted: bool):
    if which == "TOKEN_SHORT":
        token = dovecot.issue_token("oauth@example.com", 1)
        time.sleep(2)
    else:
        token = tokens[f"HELPDESK_MAILBOX_{which}"]
    client = IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10)
    try:
        if accepted:
            client.oauth2_login("oauth@example.com", token)
            assert client.select_folder("INBOX")
        else:
            with pytest.raises(LoginError):
                client.oauth2_login("oauth@example.com", token)
    finally:
        client.shutdown()


def test_oversized_and_unreadable_messages_are_quarantined_and_not_retried(
        box: Box, maildev: MailDev):
    big_sender = unique_email("big")
    big, _ = mail(big_sender, "A huge attachment", "x" * (1024 * 1024 + 10))
    box.append(big)
    box.append(b"From: \r\nContent-Type: multipart/mixed; boundary=\"\r\n\r\n\xff\xfe garbage")
    good = unique_email("good")
    box.append(mail(good, "A normal one")[0])
    box.fetch()
    maildev.wait_to(good, timeout=60)
    health = box.wait_health(lambda h: len(h["notes"]) >= 1, "the quarantine notes")
    assert "Quarantine" in box.dovecot.folders(box.user)
    quarantined = box.dovecot.uids(box.user, "Quarantine")
    assert len(quarantined) >= 1
    assert any("over the limit" in n["text"] for n in health["notes"])
    assert not box.host.tickets_of(big_sender)
    box.fetch()
    time.sleep(3)
    assert box.dovecot.uids(box.user, "Quarantine") == quarantined, "not retried"


def test_a_uidvalidity_change_rescans_without_duplicates(box: Box, maildev: MailDev):
    senders = [unique_email("uv") for _ in range(3)]
    for sender in senders:
        box.append(mail(sender, "Before the change")[0])
    box.fetch()
    for sender in senders:
        maildev.wait_to(sender, timeout=60)
    box.dovecot.reset_uidvalidity(box.user)
    after = unique_email("uv-after")
    box.append(mail(after, "After the change")[0])
    box.fetch()
    maildev.wait_to(after, timeout=60)
    health = box.wait_health(lambda h: any("UIDVALIDITY" in n["text"] for n in h["notes"]),
                             "the UIDVALIDITY note")
    assert health["failing_since"] is None
    for sender in senders:
        assert len(box.host.tickets_of(sender)) == 1
        assert len(maildev.to(sender)) == 1


def test_plain_imap_to_a_remote_host_is_refused(admin: tuple[httpx.Client, str]):
    r = admin[0].put("/api/directory/mailboxes/remote-plain", json={
        "address": "a@example.com", "host": "imap.example.com", "port": 143,
        "security": "plain", "username": "a", "password_setting": "HELPDESK_MAILBOX_X"})
    assert r.status_code == 422
    assert "loopback" in r.text


def test_agents_cannot_read_mailboxes(mailhost: RunningHost):
    with mailhost.signed_in(roles="agent", user="plain-agent") as agent:
        assert agent.get("/api/directory/mailboxes").status_code == 403
        assert agent.get("/api/mailboxes").status_code == 403
        assert agent.get("/api/mailboxes/alerts").status_code == 200



def mailbox(client: httpx.Client, mailbox_id: str) -> dict:
    r = client.get("/api/directory/mailboxes")
    assert r.status_code == 200, r.text
    return next(m for m in r.json() if m["id"] == mailbox_id)


def with_results(value: str, raw: bytes) -> bytes:
    """`raw` as the receiving server delivers it, its Authentication-Results on top."""
    return f"Authentication-Results: {value}\r\n".encode() + raw


def test_the_configured_servers_results_decide_who_joins_by_subject(
        box: Box, maildev: MailDev, admin: tuple[httpx.Client, str]):
    box.put(sender_check="authentication-results", authserv_id="mx.receiving.example")
    sender = unique_email("authres")
    box.append(mail(sender, "Backup failed")[0])
    box.fetch()
    number = number_of(maildev.wait_to(sender, timeout=60)[0])
    trusted = with_results(
        "mx.receiving.example; dkim=pass header.d=example.org; dmarc=pass header.from=example.org",
        mail(sender, f"Re: [#{number}] Backup failed", "It worked tonight.")[0])
    untrusted = with_results(
        "mx.elsewhere.example; dmarc=pass header.from=example.org",
        mail(sender, f"Re: [#{number}] Backup failed", "Reopen it and mail me the logs.")[0])
    box.append(trusted)
    box.append(untrusted)
    box.fetch()
    wait_for(lambda: len(box.host.tickets_of(sender)) == 2, timeout=30,
             what="the unverified message's own ticket")
    view = admin[0].get(f"/api/tickets/{number}").json()
    [entry] = [e for e in view["thread"] if e["kind"] == "message"]
    assert entry["body"] == "It worked tonight."
    assert entry["data"]["sender"] == {"verified": True,
                                       "how": "DMARC pass (mx.receiving.example)"}
    [other] = [t["PartitionKey"] for t in box.host.tickets_of(sender)
               if t["PartitionKey"] != number]
    made = admin[0].get(f"/api/tickets/{other}").json()
    assert "sender-not-verified" in made["ticket"]["tags"]
    [created] = [e for e in made["thread"] if e["kind"] == "created"]
    assert created["data"]["claims_ticket"] == number
    assert created["data"]["sender"]["how"] == "no Authentication-Results from mx.receiving.example"


def test_a_mailbox_with_the_check_off_believes_the_from_address(
        box: Box, maildev: MailDev, admin: tuple[httpx.Client, str]):
    box.put(sender_check="off")
    assert mailbox(admin[0], box.id)["sender_check"] == "off"
    sender = unique_email("trusting")
    box.append(mail(sender, "Badge reader")[0])
    box.fetch()
    number = number_of(maildev.wait_to(sender, timeout=60)[0])
    box.append(mail(sender, f"Re: [#{number}] Badge reader", "It beeps red.")[0])
    box.fetch()

    def joined() -> list[dict]:
        view = admin[0].get(f"/api/tickets/{number}").json()
        return [e for e in view["thread"] if e["kind"] == "message"]

    [entry] = wait_for(joined, timeout=30, what="the reply to join by its subject token")
    assert entry["body"] == "It beeps red." and "sender" not in entry["data"]


def test_provider_mailboxes_read_their_providers_results_by_default(
        admin: tuple[httpx.Client, str]):
    client = admin[0]
    google = {"address": "desk@example.org", "host": "imap.gmail.com", "username": "desk@example.org",
              "auth": "oauth2-google", "service_account_setting": "HELPDESK_MAILBOX_GOOGLE_KEY"}
    assert client.put("/api/directory/mailboxes/gws", json=google).status_code == 200
    shown = mailbox(client, "gws")
    assert (shown["sender_check"], shown["authserv_id"]) == ("authentication-results",
                                                             "mx.google.com")
    bad = client.put("/api/directory/mailboxes/own", json={
        "address": "desk@example.org", "host": "imap.example.org", "username": "desk",
        "password_setting": "HELPDESK_MAILBOX_X", "sender_check": "authentication-results"})
    assert bad.status_code == 422 and "authserv_id" in bad.text
    client.delete("/api/directory/mailboxes/gws")
