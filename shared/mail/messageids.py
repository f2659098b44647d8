"""Our outgoing Message-IDs: made so that nobody else can make one, and recognised.

A reply's `In-Reply-To`/`References` naming one of our Message-IDs joins that ticket, so
the id must not be guessable from what a stranger knows (the ticket number is on every
email and portal page). Each id carries an HMAC-SHA256 tag over ticket number, sequence,
purpose and our mail domain, keyed by a key derived from `HELPDESK_PORTAL_SECRET`:
`<ticket-NUMBER.SEQ.PURPOSE.TAG@our-domain>`. The derived key (not the secret itself)
keeps the tag from ever equalling a portal token's MAC, and every email that carries such
an id also carries a portal link, which needs that secret anyway.

Pure: no I/O. An id of the old unsigned shape, another domain, or a wrong tag is simply
not ours (the subject token, with its sender check, still threads genuine replies to
emails sent before the tag existed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from shared.core.links import secret_of
from shared.core.settings import Settings

TAG_HEX = 24  # 96 bits: no forging by trial through a rate-limited mail gateway
_OURS = re.compile(
    r"^<ticket-(\d{8})\.(\d{1,10})\.([a-z0-9-]{1,80})\.([0-9a-f]{" + str(TAG_HEX)
    + r"})@([^<>@\s]{1,253})>$")
_CONTEXT = b"helpdesk message-id v1"
_FALLBACK_DOMAIN = "helpdesk.invalid"


@dataclass(frozen=True)
class OurId:
    number: str
    seq: int
    purpose: str


def _derive(secret: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def domain_of(settings: Settings) -> str:
    return settings.mail.sender.rpartition("@")[2].lower() or _FALLBACK_DOMAIN


def _tag(key: bytes, number: str, seq: int, purpose: str, domain: str) -> str:
    mac = hmac.new(key, f"{number}.{seq}.{purpose}@{domain}".encode(), hashlib.sha256)
    return mac.hexdigest()[:TAG_HEX]


def make(number: str, seq: int, purpose: str, *, settings: Settings) -> str:
    # Without the secret this raises SettingsError naming it, as the portal link in the
    # same email would: never an unsigned id.
    key = _derive(secret_of(settings))
    domain = domain_of(settings)
    return f"<ticket-{number}.{seq}.{purpose}.{_tag(key, number, seq, purpose, domain)}@{domain}>"


def verify(message_id: str, *, settings: Settings) -> OurId | None:
    """The ticket, sequence and purpose of `message_id` if we made it, else None."""
    found = _OURS.match(message_id.strip().lower())
    if not settings.portal_secret or found is None:
        return None
    key = _derive(settings.portal_secret)
    number, seq_text, purpose, tag, domain = found.groups()
    seq = int(seq_text)
    if domain != domain_of(settings):
        return None
    if not hmac.compare_digest(tag, _tag(key, number, seq, purpose, domain)):
        return None
    return OurId(number=number, seq=seq, purpose=purpose)
