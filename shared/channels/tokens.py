"""OAuth2 access tokens for IMAP's SASL XOAUTH2, by provider, cached until shortly before
they expire.

- Microsoft 365: the client-credentials flow of an Entra app registration allowed into
  the mailbox (azure-identity's `ClientSecretCredential`, scope
  `https://outlook.office365.com/.default`).
- Google Workspace: a service account with domain-wide delegation, impersonating the
  mailbox's user (google-auth, scope `https://mail.google.com/`).
- A bearer token from an app setting, kept fresh by something else (and the tests' token
  service behind Dovecot's `oauth2` passdb).

Everything here is synchronous: the fetch runs its IMAP session in a worker thread
(shared/channels/imap.py). A token is never logged nor put into an error message.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Protocol

MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_SCOPE = "https://mail.google.com/"
# A cached token is used until this many seconds before it expires, then fetched anew:
# an IMAP login must not race the expiry.
REFRESH_BEFORE = 300.0


class TokenError(Exception):
    """No token could be had (a missing setting, a refused client secret, a network
    failure); the message says which without naming any secret."""


class TokenProvider(Protocol):
    def token(self) -> str: ...
    def invalidate(self) -> None: ...


class CachedToken:
    """A token from `fetch` (returning the token and its expiry, epoch seconds), reused
    until `REFRESH_BEFORE` seconds before that expiry."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], *,
                 clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires - REFRESH_BEFORE:
                self._token, self._expires = self._fetch()
            return self._token

    def invalidate(self) -> None:
        """The server refused the token: fetch a new one next time."""
        with self._lock:
            self._token = None

    def __repr__(self) -> str:  # never the token
        return f"CachedToken(expires={self._expires:.0f})"


def microsoft(tenant_id: str, client_id: str, client_secret: str) -> CachedToken:
    from azure.identity import ClientSecretCredential  # only where a mailbox uses it

    credential = ClientSecretCredential(tenant_id, client_id, client_secret)

    def fetch() -> tuple[str, float]:
        try:
            got = credential.get_token(MICROSOFT_SCOPE)
        except Exception as exc:  # azure-identity raises its own and azure-core's errors
            raise TokenError(f"Microsoft Entra ID gave no token for client {client_id} in "
                             f"tenant {tenant_id}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:300] if str(exc) else ''}") from None
        return got.token, float(got.expires_on)

    return CachedToken(fetch)


def google(service_account_json: str, subject: str) -> CachedToken:
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    try:
        info = json.loads(service_account_json)
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=[GOOGLE_SCOPE], subject=subject)
    except (ValueError, KeyError) as exc:
        raise TokenError(f"the service account key is not a Google service account's JSON "
                         f"key ({type(exc).__name__})") from None

    def fetch() -> tuple[str, float]:
        try:
            credentials.refresh(Request())
        except Exception as exc:  # google-auth's RefreshError, transport errors
            raise TokenError(f"Google gave no token for {subject}: {type(exc).__name__}: "
                             f"{str(exc)[:300]}") from None
        expiry = credentials.expiry.timestamp() if credentials.expiry else time.time() + 3000
        # google-auth keeps a naive UTC expiry; timestamp() would read it as local time.
        if credentials.expiry is not None and credentials.expiry.tzinfo is None:
            from datetime import UTC

            expiry = credentials.expiry.replace(tzinfo=UTC).timestamp()
        return str(credentials.token), expiry

    return CachedToken(fetch)


class SettingToken:
    """A token read from an app setting each time (whatever keeps it fresh writes it)."""

    def __init__(self, read: Callable[[], str | None], name: str) -> None:
        self._read = read
        self._name = name

    def token(self) -> str:
        value = self._read()
        if not value:
            raise TokenError(f"app setting {self._name} is not set")
        return value

    def invalidate(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"SettingToken({self._name})"
