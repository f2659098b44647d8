"""The requester portal's signed tokens: the one-time code an emailed link carries, and
the session a browser holds after exchanging it. Pure: no I/O.

Every token names one ticket and the address it belongs to, and is good until its expiry:

    token = base64url(payload) "." base64url(HMAC-SHA256(secret, "<label>|" payload))

| kind | label | payload | where it travels |
| --- | --- | --- | --- |
| code (emailed) | `portal-code` | `c1|<number>|<expiry>|<email>|<nonce>` | the link's path, once |
| session | `portal-session` | `s1|<number>|<expiry>|<email>` | an HttpOnly cookie only |
| link (before codes) | `portal-link` | `v1|<number>|<expiry>|<email>` | links already emailed |
| stop copying | `cc-stop` | `u1|<number>|<expiry>|<email>` | a collaborator's "stop copying me" link |

A link lands in request logs, proxies and browser history, so what it carries must be
worth nothing once used: a code only opens a page asking to confirm, the confirming POST
spends it (the portal records its `code_id`, shared/portal/service.py) and installs the
session. Each kind is signed under its own label, so neither a code nor an old link
can stand in for a session cookie. Old `v1` links are accepted as codes (spent the same
way) until they expire. The same secret, under another label, derives the portal form's
anti-forgery field from the session token (`form_token`).

A "stop copying me" link (`stop_link_for`) is not spent: it only removes its address from
its ticket's collaborators, which doing twice does once, and it must keep working for as
long as the emails carrying it are read (`STOP_LINK_DAYS`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core.numbering import is_valid
from shared.core.settings import Settings, SettingsError

LINK_PATH = "/api/portal/t/"
STOP_PATH = "/api/portal/unsubscribe/"
STOP_LINK_DAYS = 365

# kind -> (payload version, signing label)
_KINDS = {"code": ("c1", "portal-code"), "session": ("s1", "portal-session"),
          "link": ("v1", "portal-link"), "stop": ("u1", "cc-stop")}


class BadLink(Exception):
    """The token is malformed, forged or expired; `expired` tells the last apart (and
    `grant` then says what it named, so that a new link can be sent for it)."""

    def __init__(self, reason: str, *, expired: bool = False,
                 grant: PortalGrant | None = None) -> None:
        super().__init__(reason)
        self.expired = expired
        self.grant = grant


@dataclass(frozen=True)
class PortalGrant:
    """What a valid token lets its holder do: see and answer one ticket."""

    number: str
    email: str
    expires: int  # unix seconds
    code_id: str = ""  # codes and old links: what spending it records; sessions: ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, label: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), label.encode() + b"|" + data, hashlib.sha256).digest()


def _sign(kind: str, fields: list[str], secret: str) -> str:
    version, label = _KINDS[kind]
    payload = "|".join([version, *fields]).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, label, payload))}"


def make_code(number: str, email: str, *, secret: str, expires: datetime,
              nonce: str | None = None) -> str:
    """The one-time code an emailed link carries."""
    return _sign("code", [number, str(int(expires.timestamp())), email.strip().lower(),
                          nonce or secrets.token_urlsafe(12)], secret)


def make_session(number: str, email: str, *, secret: str, expires: datetime) -> str:
    """The session cookie's value, made when a code is spent."""
    return _sign("session", [number, str(int(expires.timestamp())), email.strip().lower()],
                 secret)


def make_token(number: str, email: str, *, secret: str, expires: datetime) -> str:
    """A link as emailed before one-time codes (kept so that tests can make one)."""
    return _sign("link", [number, str(int(expires.timestamp())), email.strip().lower()],
                 secret)


def _read(kind: str, token: str, secret: str, now: datetime) -> PortalGrant:
    version, label = _KINDS[kind]
    try:
        payload_text, mac_text = token.split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise BadLink("malformed link") from None
    if not hmac.compare_digest(mac, _mac(secret, label, payload)):
        raise BadLink("the link's signature does not match")
    try:
        fields = payload.decode().split("|")
        expires = int(fields[2])
    except (UnicodeDecodeError, ValueError, IndexError):
        raise BadLink("malformed link") from None
    width = 5 if kind == "code" else 4
    if len(fields) != width or fields[0] != version or not is_valid(fields[1]) \
            or "@" not in fields[3]:
        raise BadLink("malformed link")
    code_id = ""
    if kind == "code":
        code_id = "c-" + fields[4]
    elif kind == "link":
        code_id = "v-" + hashlib.sha256(payload).hexdigest()[:32]
    grant = PortalGrant(number=fields[1], email=fields[3], expires=expires, code_id=code_id)
    if now.timestamp() >= expires:
        raise BadLink("the link has expired", expired=True, grant=grant)
    return grant


def make_stop(number: str, email: str, *, secret: str, expires: datetime) -> str:
    """A collaborator's "stop copying me" token."""
    return _sign("stop", [number, str(int(expires.timestamp())), email.strip().lower()],
                 secret)


def read_stop(token: str, *, secret: str, now: datetime) -> PortalGrant:
    """The ticket and address a "stop copying me" link names; `BadLink` otherwise."""
    return _read("stop", token, secret, now)


def read_code(token: str, *, secret: str, now: datetime) -> PortalGrant:
    """What an emailed link names: a one-time code, or a link emailed before codes;
    `BadLink` if neither was made with `secret`, or it expired."""
    try:
        return _read("code", token, secret, now)
    except BadLink as bad:
        if bad.expired:
            raise
    return _read("link", token, secret, now)


def read_session(token: str, *, secret: str, now: datetime) -> PortalGrant:
    """What a session cookie grants; `BadLink` if it is not a session made with `secret`."""
    return _read("session", token, secret, now)


def read_token(token: str, *, secret: str, now: datetime) -> PortalGrant:
    """An old-style link's grant (see `make_token`)."""
    return _read("link", token, secret, now)


def form_token(token: str, *, secret: str) -> str:
    """The hidden field the portal's forms carry: tied to the session's token, so a page
    of another site, which cannot read the token, cannot forge it."""
    return _b64(_mac(secret, "portal-form", token.encode()))


def secret_of(settings: Settings) -> str:
    if not settings.portal_secret:
        raise SettingsError("HELPDESK_PORTAL_SECRET is not set: the portal's links cannot "
                            "be signed")
    return settings.portal_secret


def link_for(number: str, email: str, *, settings: Settings, now: datetime) -> str:
    """The absolute link an email carries: a one-time code valid for `portal_link_days`."""
    code = make_code(number, email, secret=secret_of(settings),
                     expires=now + timedelta(days=settings.portal_link_days))
    return settings.public_base_url.rstrip("/") + LINK_PATH + code


def stop_link_for(number: str, email: str, *, settings: Settings, now: datetime) -> str:
    """The absolute "stop copying me" link an email to a collaborator carries."""
    token = make_stop(number, email, secret=secret_of(settings),
                      expires=now + timedelta(days=STOP_LINK_DAYS))
    return settings.public_base_url.rstrip("/") + STOP_PATH + token


def session_for(grant: PortalGrant, *, settings: Settings, now: datetime) -> tuple[str, int]:
    """The session a spent code opens, and its lifetime in seconds: `portal_link_days`
    from now, as long as a fresh link would have lasted."""
    days = timedelta(days=settings.portal_link_days)
    return (make_session(grant.number, grant.email, secret=secret_of(settings),
                         expires=now + days), int(days.total_seconds()))
