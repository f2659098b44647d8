"""The requester portal's signed, expiring links. Pure: no I/O.

A link names one ticket and the address it belongs to, and is good until its expiry:

    token = base64url(payload) "." base64url(HMAC-SHA256(secret, "portal-link|" payload))
    payload = "v1|<number>|<expiry, unix seconds>|<email, lowercased>"

Nothing is stored: whoever holds the token may read and answer that ticket until it
expires, which is what an emailed link means. The same secret, under another label,
derives the portal form's anti-forgery field from the token (`form_token`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.numbering import is_valid
from shared.settings import Settings, SettingsError

VERSION = "v1"
LINK_PATH = "/api/portal/t/"


class BadLink(Exception):
    """The token is malformed, forged or expired; `expired` tells the last apart."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


@dataclass(frozen=True)
class PortalGrant:
    """What a valid link lets its holder do: see and answer one ticket."""

    number: str
    email: str
    expires: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, label: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), label.encode() + b"|" + data, hashlib.sha256).digest()


def make_token(number: str, email: str, *, secret: str, expires: datetime) -> str:
    payload = f"{VERSION}|{number}|{int(expires.timestamp())}|{email.strip().lower()}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, 'portal-link', payload))}"


def read_token(token: str, *, secret: str, now: datetime) -> PortalGrant:
    """The grant a token carries; `BadLink` if it was not made with `secret` or expired."""
    try:
        payload_text, mac_text = token.split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise BadLink("malformed link") from None
    if not hmac.compare_digest(mac, _mac(secret, "portal-link", payload)):
        raise BadLink("the link's signature does not match")
    try:
        version, number, expires_text, email = payload.decode().split("|", 3)
        expires = int(expires_text)
    except (UnicodeDecodeError, ValueError):
        raise BadLink("malformed link") from None
    if version != VERSION or not is_valid(number) or "@" not in email:
        raise BadLink("malformed link")
    if now.timestamp() >= expires:
        raise BadLink("the link has expired", expired=True)
    return PortalGrant(number=number, email=email, expires=expires)


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
    """The absolute link an email carries, valid for `portal_link_days`."""
    token = make_token(number, email, secret=secret_of(settings),
                       expires=now + timedelta(days=settings.portal_link_days))
    return settings.public_base_url.rstrip("/") + LINK_PATH + token
