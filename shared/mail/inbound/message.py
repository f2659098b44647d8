"""Inbound email: what the help desk needs to know about one raw RFC 822 message.

Responsible for reading whatever a mail server hands the email channel - any charset,
any MIME shape real clients produce, broken or hostile input - and answering: who
wrote, in reply to what (message ids, the ``[#NNNNNNNN]`` ticket token), what did they
newly say (quoted reply history stripped, inline forwards kept, since the forwarded
content is the question), what is attached, and whether a machine sent it (bounce,
auto-reply, list mail, our own mail coming back), in which case it must neither open a
ticket nor be answered.

Pure: no I/O, no Azure. The one error is `MailParseError` (a `ValueError`): the message
cannot be read and should be rejected, not retried. Everything short of that degrades
instead of raising: an unknown charset decodes with replacement characters, a bad date
becomes None, an undecodable encoded word stays as written.

This module is the entry: `parse_email` composes the pieces, each in its own module of
this package: `mime` (the MIME walk, limits, attachments), `headers` (headers, charsets,
encoded words, addresses), `text` (bodies as text, HTML cleaned), `quoted` (reply
history) and `machine` (bounces, auto-replies, list mail).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from shared.mail.inbound.headers import (
    address_list,
    addresses,
    decode_words,
    header,
    header_date,
    message_ids,
    one_line,
    ticket_token,
)
from shared.mail.inbound.machine import Bounce, auto_reason, find_bounce
from shared.mail.inbound.mime import (
    Content,
    MailParseError,
    ParsedAttachment,
    attachments,
    check_limits,
    cid_references,
    collect,
    parse_bytes,
)
from shared.mail.inbound.quoted import is_reply_subject, split_quoted
from shared.mail.inbound.text import bodies, sanitise_html

# The entry's public surface: what a caller of parse_email handles.
__all__ = ["Bounce", "MailParseError", "ParsedAttachment", "ParsedEmail", "parse_email"]


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_name: str
    from_address: str
    reply_to: str | None
    to: list[str]
    cc: list[str]
    subject: str
    date: datetime | None
    text: str
    quoted: str  # the history cut from `text`, for an agent to check what was cut
    html: str | None
    attachments: list[ParsedAttachment]
    auto_reason: str | None
    bounce: Bounce | None
    ticket_number: str | None


def parse_email(
    raw: bytes, *, own_addresses: Collection[str] = (), max_depth: int = 50, max_parts: int = 500
) -> ParsedEmail:
    """Read one inbound message; raises MailParseError only when it cannot be read at all."""
    msg = parse_bytes(bytes(raw))
    check_limits(msg, max_depth=max_depth, max_parts=max_parts)
    from_name, from_address = _sender(msg)
    subject = one_line(decode_words(header(msg, "Subject") or ""))
    content = Content()
    collect(msg, content)
    source_text, html_source = bodies(content.plain, content.html)
    bounce = find_bounce(msg, content, from_address=from_address, subject=subject, text=source_text)
    own = {address.strip().lower() for address in own_addresses}
    reply_to = addresses(header(msg, "Reply-To"))
    split = split_quoted(source_text, is_reply=is_reply_subject(subject))
    return ParsedEmail(
        message_id=next(iter(message_ids(header(msg, "Message-ID"))), None),
        in_reply_to=message_ids(header(msg, "In-Reply-To")),
        references=message_ids(header(msg, "References")),
        from_name=from_name,
        from_address=from_address,
        reply_to=reply_to[0][1] if reply_to else None,
        to=address_list(header(msg, "To")),
        cc=address_list(header(msg, "Cc")),
        subject=subject,
        date=header_date(header(msg, "Date")),
        text=split.new,
        quoted=split.history,
        html=sanitise_html(html_source) if html_source.strip() else None,
        attachments=attachments(content.files, cid_references(html_source)),
        auto_reason=auto_reason(msg, bounce=bounce, from_address=from_address, subject=subject, own=own),
        bounce=bounce,
        ticket_number=ticket_token(subject),
    )


def _sender(msg: Message) -> tuple[str, str]:
    found = addresses(header(msg, "From"))
    if not found:
        raise MailParseError("message has no From address")
    return found[0]
