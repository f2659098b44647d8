"""An IMAP session on a mailbox (imapclient), and the connector that opens one with the
mailbox's credentials.

imapclient is synchronous: the fetch (shared/channels/mailfetch.py) calls every method
here through `asyncio.to_thread`, so a slow server never blocks the worker's event loop.
Every failure of the server, the network or the credentials leaves as `MailboxError`,
whose message is fit for the mailbox's health (it never carries a password or token).

Credentials are looked up by the app setting names the mailbox gives, when a session is
opened, so a rotated secret is used at the next fetch. OAuth2 tokens are cached per
mailbox in the connector (shared/channels/tokens.py).
"""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from shared.channels import tokens
from shared.core.mailboxes import Mailbox

TIMEOUT_SECONDS = 60.0
SEEN = b"\\Seen"


class MailboxError(Exception):
    """The mailbox could not be read: connection, TLS, login or a command refused."""


class LoginFailed(MailboxError):
    """The server refused the credentials (or the token)."""


@dataclass(frozen=True)
class Folder:
    uidvalidity: int
    uidnext: int
    exists: int


@dataclass(frozen=True)
class Summary:
    size: int | None
    internaldate: datetime | None


class MailSession(Protocol):
    """What the fetch needs of a logged-in IMAP session (a fake in unit tests)."""

    def select(self, folder: str) -> Folder: ...
    def uids_above(self, uid: int) -> list[int]: ...
    def summaries(self, uids: list[int]) -> dict[int, Summary]: ...
    def body(self, uid: int) -> bytes | None: ...
    def mark_seen(self, uids: list[int]) -> None: ...
    def move(self, uids: list[int], folder: str) -> None: ...
    def close(self) -> None: ...


def _fail(action: str, exc: BaseException) -> MailboxError:
    text = str(exc).strip() or type(exc).__name__
    return MailboxError(f"{action}: {text[:300]}")


class ImapSession:
    """A logged-in imapclient connection with one folder selected at a time."""

    def __init__(self, client: IMAPClient) -> None:
        self._client = client
        self._folders: set[str] = set()

    def _call(self, action: str, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except (IMAPClientError, OSError) as exc:
            raise _fail(action, exc) from None

    def select(self, folder: str) -> Folder:
        info = self._call(f"SELECT {folder}", lambda: self._client.select_folder(folder))
        assert isinstance(info, dict)
        return Folder(uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
                      uidnext=int(info.get(b"UIDNEXT", 0)), exists=int(info.get(b"EXISTS", 0)))

    def uids_above(self, uid: int) -> list[int]:
        found = self._call("UID SEARCH",
                           lambda: self._client.search(["UID", f"{uid + 1}:*"]))
        return [int(u) for u in found if int(u) > uid]  # type: ignore[attr-defined]

    def summaries(self, uids: list[int]) -> dict[int, Summary]:
        if not uids:
            return {}
        got = self._call("FETCH sizes",
                         lambda: self._client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"]))
        assert isinstance(got, dict)
        return {int(uid): Summary(size=data.get(b"RFC822.SIZE"),
                                  internaldate=data.get(b"INTERNALDATE"))
                for uid, data in got.items()}

    def body(self, uid: int) -> bytes | None:
        got = self._call("FETCH body", lambda: self._client.fetch([uid], ["BODY.PEEK[]"]))
        assert isinstance(got, dict)
        data = got.get(uid)
        return None if data is None else data.get(b"BODY[]")

    def mark_seen(self, uids: list[int]) -> None:
        if uids:
            self._call("STORE \\Seen", lambda: self._client.add_flags(uids, [SEEN], silent=True))

    def move(self, uids: list[int], folder: str) -> None:
        """MOVE (RFC 6851), or COPY, \\Deleted and UID EXPUNGE where the server lacks it;
        the folder is created when missing."""
        if not uids:
            return
        if folder not in self._folders:
            if not self._call("LIST", lambda: self._client.folder_exists(folder)):
                self._call(f"CREATE {folder}", lambda: self._client.create_folder(folder))
            self._folders.add(folder)
        if self._client.has_capability("MOVE"):
            self._call(f"MOVE to {folder}", lambda: self._client.move(uids, folder))
            return
        self._call(f"COPY to {folder}", lambda: self._client.copy(uids, folder))
        self._call("STORE \\Deleted", lambda: self._client.delete_messages(uids, silent=True))
        if self._client.has_capability("UIDPLUS"):
            self._call("UID EXPUNGE", lambda: self._client.uid_expunge(uids))
        else:
            self._call("EXPUNGE", lambda: self._client.expunge())

    def close(self) -> None:
        try:
            self._client.logout()
        except (IMAPClientError, OSError):
            try:
                self._client.shutdown()
            except (IMAPClientError, OSError):
                pass


Secrets = Callable[[str], "str | None"]


class Connector:
    """Opens `ImapSession`s; keeps each mailbox's token provider between fetches (a
    changed mailbox definition gets a new one)."""

    def __init__(self, secrets: Secrets, *, timeout: float = TIMEOUT_SECONDS,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._secrets = secrets
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._providers: dict[str, tokens.TokenProvider] = {}
        self._lock = threading.Lock()

    def _secret(self, name: str | None) -> str:
        value = self._secrets(name) if name else None
        if not value:
            raise MailboxError(f"app setting {name} is not set")
        return value

    def provider(self, mailbox: Mailbox) -> tokens.TokenProvider:
        key = f"{mailbox.id}:{hashlib.sha256(mailbox.model_dump_json().encode()).hexdigest()}"
        with self._lock:
            found = self._providers.get(key)
            if found is not None:
                return found
            try:
                if mailbox.auth == "oauth2-microsoft":
                    assert mailbox.tenant_id and mailbox.client_id
                    made: tokens.TokenProvider = tokens.microsoft(
                        mailbox.tenant_id, mailbox.client_id,
                        self._secret(mailbox.client_secret_setting))
                elif mailbox.auth == "oauth2-google":
                    made = tokens.google(self._secret(mailbox.service_account_setting),
                                         str(mailbox.impersonate or mailbox.username))
                else:
                    name = mailbox.token_setting or ""
                    made = tokens.SettingToken(lambda: self._secrets(name), name)
            except tokens.TokenError as exc:
                raise MailboxError(str(exc)) from None
            self._providers = {k: v for k, v in self._providers.items()
                               if not k.startswith(f"{mailbox.id}:")} | {key: made}
            return made

    def connect(self, mailbox: Mailbox) -> ImapSession:
        """A logged-in session (blocking: call it in a worker thread)."""
        context = self._ssl_context or ssl.create_default_context()
        try:
            client = IMAPClient(mailbox.host, port=mailbox.port,
                                ssl=mailbox.security == "tls",
                                ssl_context=context if mailbox.security == "tls" else None,
                                timeout=self._timeout)
        except (IMAPClientError, OSError) as exc:
            raise _fail(f"connect to {mailbox.host}:{mailbox.port}", exc) from None
        client.normalise_times = False  # keep INTERNALDATE's own zone
        try:
            if mailbox.security == "starttls":
                client.starttls(context)
            self._login(client, mailbox)
        except BaseException:
            try:
                client.shutdown()
            except (IMAPClientError, OSError):
                pass
            raise
        return ImapSession(client)

    def _login(self, client: IMAPClient, mailbox: Mailbox) -> None:
        try:
            if mailbox.auth == "password":
                client.login(mailbox.username, self._secret(mailbox.password_setting))
                return
            provider = self.provider(mailbox)
            try:
                access = provider.token()
            except tokens.TokenError as exc:
                raise MailboxError(str(exc)) from None
            try:
                client.oauth2_login(mailbox.username, access)
            except LoginError:
                provider.invalidate()  # revoked or expired early: a new one next time
                raise
        except LoginError as exc:
            raise LoginFailed(f"login refused for {mailbox.username} ({mailbox.auth}): "
                              f"{str(exc)[:300]}") from None
        except (IMAPClientError, OSError) as exc:
            raise _fail("login", exc) from None


def chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
