"""Mail a machine sent: bounces (delivery status notifications, or a mailer-daemon's
message that looks like one), auto-replies, list and bulk mail, and our own mail coming
back. Such mail must neither open a ticket nor be answered; `auto_reason` says why.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message

from shared.mail.inbound.headers import header, header_in_text, message_ids
from shared.mail.inbound.mime import Content, param


@dataclass(frozen=True)
class Bounce:
    original_message_id: str | None
    recipients: list[str]
    status: str | None
    action: str | None


_DSN_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed|notification|problem)|failure notice|returned mail"
    r"|mail delivery (failed|system|subsystem)|non-?delivery|could not be delivered|unzustellbar"
    r"|nicht zugestellt|zustellung fehlgeschlagen", re.I)
_DAEMON_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.I)
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|auto\s*:|out of (the )?office|abwesenheitsnotiz"
    r"|automatische antwort|r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica)", re.I)
_LIST_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}


def auto_reason(msg: Message, *, bounce: Bounce | None, from_address: str, subject: str,
                 own: Collection[str]) -> str | None:
    if bounce is not None:
        return "bounce"
    if from_address in own:
        return "own-address"
    auto_submitted = header(msg, "Auto-Submitted")
    if auto_submitted is not None and _token(auto_submitted) != "no":
        return "auto-submitted"
    if header(msg, "X-Autoreply") is not None or header(msg, "X-Autorespond") is not None:
        return "auto-submitted"
    if msg.get_content_type() == "multipart/report":  # read receipts and other machine reports
        return "auto-submitted"
    if header(msg, "X-Auto-Response-Suppress") is not None:
        return "auto-response-suppress"
    if _token(header(msg, "Precedence") or "") in _LIST_PRECEDENCE:
        return "precedence"
    if header(msg, "List-Id") is not None or header(msg, "List-Unsubscribe") is not None:
        return "list"
    if _AUTOREPLY_SUBJECT.match(subject):
        return "autoreply-subject"
    return None


def _token(value: str) -> str:
    """The first word of a header value, comments and parameters removed, lower-cased."""
    words = re.sub(r"\([^)]*\)", " ", value).split(";", 1)[0].split()
    return words[0].lower() if words else ""


def find_bounce(msg: Message, content: Content, *, from_address: str, subject: str, text: str) -> Bounce | None:
    is_report = (msg.get_content_type() == "multipart/report"
                 and param(msg, "report-type").lower() in ("delivery-status", "global-delivery-status"))
    from_daemon = bool(_DAEMON_SENDER.match(from_address) and _DSN_SUBJECT.search(subject))
    if not (is_report or content.dsn_blocks or from_daemon):
        return None
    original = content.original_ids + [found for found in [header_in_text(text, "Message-ID")] if found]
    ids = [normalised for value in original for normalised in message_ids(value)]
    recipients: list[str] = []
    for block in content.dsn_blocks:
        for key in ("final-recipient", "original-recipient"):
            address = block.get(key, "").split(";", 1)[-1].strip().strip("<>").lower()
            if "@" in address and address not in recipients:
                recipients.append(address)
    per_recipient = next((block for block in content.dsn_blocks if "status" in block or "action" in block), {})
    status = re.search(r"\b[245]\.\d{1,3}\.\d{1,3}\b", per_recipient.get("status") or text)
    action = _token(per_recipient.get("action", ""))
    return Bounce(
        original_message_id=ids[0] if ids else None,
        recipients=recipients,
        status=status.group(0) if status else None,
        action=action or None,
    )
