"""The mailbox model and the pure rules of fetching: where a fetch starts, the next
batch, when a run stops, and the health and alert state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.core import mailboxes as m
from shared.core.mailboxes import Checkpoint, Mailbox, MailboxHealth

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BASE = {"id": "support", "address": "support@example.com", "host": "imap.example.com",
        "username": "support@example.com", "password_setting": "HELPDESK_MAILBOX_SUPPORT_PASSWORD"}


def test_a_password_mailbox_with_defaults():
    box = Mailbox.model_validate(BASE)
    assert (box.port, box.security, box.folder, box.after_fetch, box.import_existing,
            box.enabled) == (993, "tls", "INBOX", "mark-seen", False, True)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"])
def test_plain_imap_is_allowed_on_loopback(host: str):
    assert Mailbox.model_validate({**BASE, "host": host, "security": "plain"}).security == "plain"


@pytest.mark.parametrize("host", ["imap.example.com", "10.0.0.5", "localhost.example.com",
                                  "0.0.0.0"])
def test_plain_imap_is_refused_elsewhere(host: str):
    with pytest.raises(ValidationError, match="plain is allowed only for a loopback host"):
        Mailbox.model_validate({**BASE, "host": host, "security": "plain"})


@pytest.mark.parametrize(("auth", "missing"), [
    ("password", "password_setting"),
    ("oauth2-microsoft", "tenant_id, client_id, client_secret_setting"),
    ("oauth2-google", "service_account_setting"),
    ("oauth2-token", "token_setting"),
])
def test_each_auth_names_what_it_needs(auth: str, missing: str):
    fields = {k: v for k, v in BASE.items() if k != "password_setting"}
    with pytest.raises(ValidationError, match=f"needs {missing}"):
        Mailbox.model_validate({**fields, "auth": auth})


def test_microsoft_and_google_mailboxes():
    ms = Mailbox.model_validate({**BASE, "auth": "oauth2-microsoft", "tenant_id": "t",
                                 "client_id": "c",
                                 "client_secret_setting": "HELPDESK_MAILBOX_SUPPORT_SECRET"})
    assert ms.auth == "oauth2-microsoft"
    google = Mailbox.model_validate({**BASE, "auth": "oauth2-google",
                                     "service_account_setting": "HELPDESK_MAILBOX_SA",
                                     "impersonate": "support@example.com"})
    assert str(google.impersonate) == "support@example.com"


@pytest.mark.parametrize("name", ["AzureWebJobsStorage", "HELPDESK_PORTAL_SECRET",
                                  "HELPDESK_MAILBOX_", "helpdesk_mailbox_x"])
def test_a_credential_is_only_a_mailbox_setting_name(name: str):
    with pytest.raises(ValidationError):
        Mailbox.model_validate({**BASE, "password_setting": name})


def test_no_password_field_exists():
    with pytest.raises(ValidationError, match="Extra inputs"):
        Mailbox.model_validate({**BASE, "password": "hunter2"})


def test_move_needs_a_folder_and_folders_differ():
    with pytest.raises(ValidationError, match="needs move_to"):
        Mailbox.model_validate({**BASE, "after_fetch": "move"})
    with pytest.raises(ValidationError, match="cannot be the quarantine"):
        Mailbox.model_validate({**BASE, "quarantine": "INBOX"})
    with pytest.raises(ValidationError):
        Mailbox.model_validate({**BASE, "folder": "INBOX\r\nA1 DELETE INBOX"})


def test_a_new_mailbox_starts_from_now_unless_it_imports():
    assert m.first_checkpoint(7, 201, import_existing=False, now=NOW).last_uid == 200
    assert m.first_checkpoint(7, 201, import_existing=True, now=NOW).last_uid == 0


def test_a_uidvalidity_change_rescans_but_not_what_came_before_connecting():
    first = m.first_checkpoint(7, 201, import_existing=False, now=NOW)
    again = m.after_uidvalidity(first.model_copy(update={"last_uid": 250}), 8,
                                import_existing=False)
    assert (again.uidvalidity, again.last_uid) == (8, 0)
    assert again.since == NOW - m.SINCE_MARGIN
    assert m.after_uidvalidity(first, 8, import_existing=True).since is None


def test_next_batch_is_bounded_ordered_and_above_the_checkpoint():
    cp = Checkpoint(uidvalidity=1, last_uid=10, connected_at=NOW)
    assert m.next_batch([12, 11, 5, 10, 13, 11], cp, 2) == [11, 12]
    # `UID 11:*` answers the newest message even when it is below 11.
    assert m.next_batch([9], cp, 50) == []
    assert m.next_batch(list(range(1, 1001)), cp, 50) == list(range(11, 61))


def test_batches_walk_a_thousand_messages_once_each():
    cp = Checkpoint(uidvalidity=1, last_uid=0, connected_at=NOW)
    seen: list[int] = []
    while batch := m.next_batch(list(range(1, 1001)), cp, 50):
        seen += batch
        cp = cp.model_copy(update={"last_uid": batch[-1]})
    assert seen == list(range(1, 1001))


def test_a_run_stops_at_its_budget():
    assert m.should_continue(started=0, now=239.9, budget=240)
    assert not m.should_continue(started=0, now=240, budget=240)


def test_oversized():
    assert m.is_oversized(11, 10) and not m.is_oversized(10, 10) and not m.is_oversized(None, 1)


T = timedelta(minutes=15)


def test_failure_then_alert_once_then_recovery_once():
    h = m.failed(MailboxHealth(), NOW, "login refused")
    assert h.failing_since == NOW and m.alert_step(h, NOW + T - timedelta(seconds=1), T) is None
    h = m.failed(h, NOW + timedelta(minutes=5), "login refused again")
    assert h.failing_since == NOW, "the failure started at the first one"
    assert m.alert_step(h, NOW + T, T) == "alert"
    assert m.is_alarming(h, NOW + T, T)
    h = m.after_alert(h, "alert", NOW + T)
    assert m.alert_step(h, NOW + 2 * T, T) is None, "one email, however long it fails"
    h = m.succeeded(h, NOW + 2 * T, fetched=3, waiting=0)
    assert not m.is_alarming(h, NOW + 2 * T, T)
    assert m.alert_step(h, NOW + 2 * T, T) == "recovered"
    h = m.after_alert(h, "recovered", NOW + 2 * T)
    assert m.alert_step(h, NOW + 3 * T, T) is None
    assert h.last_error == "login refused again", "the last error stays visible"


def test_a_short_failure_sends_nothing():
    h = m.failed(MailboxHealth(), NOW, "timeout")
    h = m.succeeded(h, NOW + timedelta(minutes=1), fetched=0, waiting=0)
    assert m.alert_step(h, NOW + 2 * T, T) is None


def test_fetched_today_counts_per_utc_day():
    h = m.succeeded(MailboxHealth(), NOW, fetched=3, waiting=0)
    h = m.failed(h, NOW, "x", fetched=2)
    assert h.fetched_today == 5
    h = m.succeeded(h, NOW + timedelta(days=1), fetched=1, waiting=4)
    assert (h.fetched_today, h.waiting) == (1, 4)


def test_silence_is_a_failure():
    h = MailboxHealth(watched_since=NOW)
    assert m.stalled(h, NOW + T - timedelta(seconds=1), threshold=T,
                     enabled_since=h.watched_since) is h
    h = m.stalled(h, NOW + T, threshold=T, enabled_since=h.watched_since)
    assert h.failing_since == NOW + T and "no fetch has finished" in (h.last_error or "")


def test_notes_are_bounded():
    h = MailboxHealth()
    for i in range(30):
        h = m.noted(h, NOW, f"note {i}")
    assert len(h.notes) == m.MAX_NOTES and h.notes[-1].text == "note 29"


def test_a_new_mailbox_fetches_what_arrived_just_before_its_first_connection():
    """An admin connects the mailbox and sends a test message before the first fetch: that
    message is fetched; the older history is not."""
    recent = {198: NOW - timedelta(days=3), 199: NOW - timedelta(minutes=30),
              200: NOW - timedelta(minutes=2)}
    first = m.first_checkpoint(7, 201, import_existing=False, now=NOW, recent=recent)
    assert first.last_uid == 199
    nothing_new = {199: NOW - timedelta(hours=1), 200: NOW - timedelta(minutes=11)}
    assert m.first_checkpoint(7, 201, import_existing=False, now=NOW,
                              recent=nothing_new).last_uid == 200
