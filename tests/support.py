"""Helpers the tests share: reading MailDev's REST API, a local Dovecot with its token
service, waiting for conditions."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, TypeVar

import httpx
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from devtools import dovecot as dovecot_files
from devtools import services

T = TypeVar("T")


def email_message(sender: str, subject: str, text: str, *, name: str = "Sender",
                  **headers: str) -> EmailMessage:
    """A plain-text email from `sender` to the desk's support address, as a client sends
    it; `headers` are more header fields (`In_Reply_To` → `In-Reply-To`), a `message_id`
    replaces the generated Message-ID."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("message_id", make_msgid(domain="client.example"))
    for header, value in headers.items():
        msg[header.replace("_", "-")] = value
    msg.set_content(text)
    return msg


def wait_for(probe: Callable[[], T | None], *, timeout: float = 15.0, interval: float = 0.1,
             what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class MailDev:
    """MailDev's REST API: GET /email lists messages, DELETE /email/all empties the box."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def messages(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.base_url}/email", timeout=10).json()

    def to(self, address: str) -> list[dict[str, Any]]:
        return [
            m for m in self.messages()
            if any(t.get("address", "").lower() == address.lower() for t in m.get("to", []))
        ]

    def raw(self, message_id: str) -> bytes:
        return httpx.get(f"{self.base_url}/email/{message_id}/download", timeout=10).content

    def text(self, message_id: str) -> str:
        """The plain-text part of a message, as the requester reads it."""
        message = message_from_bytes(self.raw(message_id), policy=policy.default)
        body = message.get_body(("plain",))
        return body.get_content() if body is not None else ""

    def portal_link(self, message_id: str) -> str:
        """The "View or answer your request" link every email to a requester carries."""
        match = re.search(r"View or answer your request: (\S+)", self.text(message_id))
        assert match, f"no portal link in message {message_id}"
        return match.group(1)

    def wait_to(self, address: str, count: int = 1, timeout: float = 20.0
                ) -> list[dict[str, Any]]:
        return wait_for(lambda: (m := self.to(address)) and len(m) >= count and m,
                        timeout=timeout, what=f"{count} email(s) to {address}")


@dataclass
class LocalDovecot:
    """A real Dovecot on loopback for the tests (the `dovecot` fixture starts one per
    session): accounts, mail put in and looked at over IMAP as each account, and bearer
    tokens from the token service its oauth2 passdb asks."""

    host: str
    port: int            # plain IMAP (STARTTLS offered); loopback only
    tokens_url: str      # the token service: POST /token {"user", "seconds"}
    tls_port: int = 0    # implicit TLS, with the self-signed certificate in `cert_file`
    cert_file: Path | None = None
    _data: Path = field(default=Path(), repr=False)
    _service: services.Service | None = field(default=None, repr=False)
    _start: Callable[[], services.Service] | None = field(default=None, repr=False)
    _passwords: dict[str, str] = field(default_factory=dict, repr=False)

    def add_user(self, user: str, password: str) -> None:
        """Create the account and its INBOX (or set a new password); idempotent."""
        dovecot_files.add_user(self._data, user, password)
        self._passwords[user.lower()] = password
        # Dovecot looks at the passwd-file at most once a second: wait until it has seen
        # the change, so that the account works as soon as this returns.
        wait_for(lambda: self._can_log_in(user, password), timeout=5,
                 what=f"Dovecot to accept {user}'s new password")

    def _can_log_in(self, user: str, password: str) -> bool:
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(user, password)
        except LoginError:
            client.shutdown()
            return False
        client.logout()
        return True

    @contextmanager
    def session(self, user: str) -> Iterator[IMAPClient]:
        """Logged in as `user` with its password."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=30)
        try:
            client.login(user, self._passwords[user.lower()])
            yield client
        finally:
            try:
                client.logout()
            except Exception:  # a dead connection has nothing to log out of
                client.shutdown()

    def append(self, user: str, raw: bytes, folder: str = "INBOX",
               when: datetime | None = None) -> int:
        """APPEND the message as `user` (creating the folder if missing), arrived `when`
        (its INTERNALDATE; default now): its new UID."""
        with self.session(user) as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            answer = imap.append(folder, raw, msg_time=when)
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", answer)
        assert match, f"no APPENDUID in {answer!r}"
        return int(match.group(1))

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        with self.session(user) as imap:
            imap.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in imap.search("ALL"))

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.session(user) as imap:
            return int(imap.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def folders(self, user: str) -> list[str]:
        with self.session(user) as imap:
            return sorted(name for _flags, _sep, name in imap.list_folders())

    def flags(self, user: str, uid: int, folder: str = "INBOX") -> set[str]:
        with self.session(user) as imap:
            imap.select_folder(folder, readonly=True)
            found = imap.get_flags([uid])
        if uid not in found:
            raise KeyError(f"no message with UID {uid} in {user}'s {folder}")
        # \Recent belongs to a session, not to the message (and IMAP4rev2 dropped it).
        names = {f.decode() if isinstance(f, bytes) else str(f) for f in found[uid]}
        return names - {"\\Recent"}

    def start(self) -> None:
        assert self._start is not None
        self._service = self._start()

    def restart(self) -> None:
        """Stop and start Dovecot on the same ports and data."""
        self.stop()
        self.start()

    def reset_uidvalidity(self, user: str, folder: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY (its messages stay, numbered again from 1), as
        a server that lost its indexes does."""
        self.stop()
        dovecot_files.remove_folder_indexes(self._data, user, folder)
        self.start()

    def issue_token(self, user: str, seconds: int = 3600) -> str:
        """A bearer token Dovecot accepts for `user` (XOAUTH2, OAUTHBEARER) until it expires."""
        response = httpx.post(f"{self.tokens_url}/token", json={"user": user, "seconds": seconds},
                              timeout=10)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def forged_token(self) -> str:
        """A token of the same shape that the token service never issued."""
        return secrets.token_urlsafe(32)

    def owns_ports(self) -> bool:
        return self._service is not None and self._service.owns_ports()

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop()
