"""The local Dovecot the mailbox fetcher is tested against: password and OAuth2 logins
(XOAUTH2 and OAUTHBEARER through the token service's introspection), mail put in and
read back, and the two server events a fetcher must survive: a restart and a
UIDVALIDITY change."""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.support import LocalDovecot


def message(subject: str) -> bytes:
    return (f"From: someone@example.com\r\nTo: support@desk.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\nHello.\r\n").encode()


@pytest.fixture
def user(dovecot: LocalDovecot) -> str:
    name = f"support-{uuid.uuid4().hex[:8]}@desk.test"
    dovecot.add_user(name, "right-password")
    return name


@pytest.fixture
def client(dovecot: LocalDovecot) -> Iterator[IMAPClient]:
    imap = IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10)
    yield imap
    imap.shutdown()


def test_password_login(dovecot: LocalDovecot, user: str, client: IMAPClient) -> None:
    assert client.login(user, "right-password") == b"Logged in"
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    wrong = IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10)
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        wrong.login(user, "wrong-password")
    wrong.shutdown()


def test_add_user_is_idempotent_and_changes_the_password(dovecot: LocalDovecot,
                                                          user: str) -> None:
    uid = dovecot.append(user, message("kept"))
    dovecot.add_user(user, "new-password")
    dovecot.add_user(user, "new-password")
    assert dovecot.uids(user) == [uid]
    old = IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10)
    with pytest.raises(LoginError):
        old.login(user, "right-password")
    old.shutdown()


def test_xoauth2_with_a_valid_token(dovecot: LocalDovecot, user: str,
                                    client: IMAPClient) -> None:
    client.oauth2_login(user, dovecot.issue_token(user))
    assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_oauthbearer_with_a_valid_token(dovecot: LocalDovecot, user: str,
                                        client: IMAPClient) -> None:
    client.oauthbearer_login(user, dovecot.issue_token(user))
    assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_xoauth2_refuses_an_expired_token(dovecot: LocalDovecot, user: str,
                                          client: IMAPClient) -> None:
    token = dovecot.issue_token(user, seconds=1)
    probe = IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10)
    probe.oauth2_login(user, token)  # valid while it lasts
    probe.logout()
    time.sleep(1.2)
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        client.oauth2_login(user, token)


@pytest.mark.parametrize("kind", ["forged", "another account's"])
def test_xoauth2_refuses_a_token_that_is_not_the_accounts(dovecot: LocalDovecot, user: str,
                                                          client: IMAPClient,
                                                          kind: str) -> None:
    token = (dovecot.forged_token() if kind == "forged"
             else dovecot.issue_token("someone-else@desk.test"))
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        client.oauth2_login(user, token)


def test_implicit_tls_and_starttls(dovecot: LocalDovecot, user: str) -> None:
    context = ssl.create_default_context(cafile=str(dovecot.cert_file))
    with IMAPClient(dovecot.host, dovecot.tls_port, ssl=True, ssl_context=context,
                    timeout=10) as imap:
        assert imap.login(user, "right-password") == b"Logged in"
    with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10) as imap:
        imap.starttls(context)
        assert imap.login(user, "right-password") == b"Logged in"


def test_append_uids_flags_folders(dovecot: LocalDovecot, user: str) -> None:
    first = dovecot.append(user, message("one"))
    second = dovecot.append(user, message("two"))
    assert dovecot.uids(user) == [first, second] and second > first
    assert dovecot.flags(user, first) == set()
    with dovecot.session(user) as imap:
        imap.select_folder("INBOX")
        imap.add_flags([first], [b"\\Seen"])
    assert dovecot.flags(user, first) == {"\\Seen"}
    quarantined = dovecot.append(user, message("bad"), folder="Quarantine")
    assert dovecot.folders(user) == ["INBOX", "Quarantine"]
    assert dovecot.uids(user, "Quarantine") == [quarantined]


def test_restart_keeps_the_messages(dovecot: LocalDovecot, user: str) -> None:
    uids = [dovecot.append(user, message(f"m{i}")) for i in range(3)]
    before = dovecot.uidvalidity(user)
    dovecot.restart()
    assert dovecot.uids(user) == uids
    assert dovecot.uidvalidity(user) == before
    assert dovecot.owns_ports()


def test_reset_uidvalidity_keeps_the_messages(dovecot: LocalDovecot, user: str) -> None:
    for i in range(3):
        dovecot.append(user, message(f"m{i}"))
    with dovecot.session(user) as imap:
        imap.select_folder("INBOX")
        imap.delete_messages([1])
        imap.expunge()  # UIDs 2, 3 remain: a reset numbers them from 1 again
    before = dovecot.uidvalidity(user)
    dovecot.reset_uidvalidity(user)
    assert dovecot.uidvalidity(user) != before
    assert dovecot.uids(user) == [1, 2]
    with dovecot.session(user) as imap:
        imap.select_folder("INBOX", readonly=True)
        subjects = [m[b"ENVELOPE"].subject for m in imap.fetch([1, 2], ["ENVELOPE"]).values()]
    assert sorted(subjects) == [b"m1", b"m2"]
