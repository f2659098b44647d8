"""Composing outbound email with the standard library: the finished `EmailMessage` a
`Mailer` (shared.mail.mailer) sends, with headers that what people typed cannot break
(no CR/LF injection, encoded words written by us), our reply marker and the headers that
keep vacation responders from answering.
"""

from __future__ import annotations

import re
from email.header import Header
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formataddr, formatdate

from shared.core.settings import MailSettings

REPLY_MARKER = "##- Please type your reply above this line -##"


def one_line(value: str) -> str:
    """A header value on one line: every line break (CR, LF, and Unicode's) a space."""
    return " ".join(value.splitlines()).strip() if value else value


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class EncodedHeader(str):
    """A header value we encode ourselves (RFC 2047 encoded words in UTF-8) and that is
    written out exactly so.

    Given a plain string, the standard library parses it as if it were already encoded:
    an `=?utf-8?b?...?=` in a subject someone typed is decoded, and before Python
    3.11.10/3.12.5 a decoded CR/LF was written out raw, starting a header or the body of
    the desk's own email (CVE-2024-6923). This value never reaches that parser: the
    policy keeps a value that has a `name` as the header object itself, and asks it to
    `fold`. Its text (what `str()` gives, e.g. to Azure Communication Services) is the
    text as typed, on one line."""

    name: str

    def __new__(cls, name: str, text: str) -> EncodedHeader:
        value = super().__new__(cls, _CONTROL.sub(" ", one_line(text)))
        value.name = name
        return value

    def fold(self, *, policy: Policy) -> str:
        encoded = Header(str(self), "utf-8", header_name=self.name,
                         maxlinelen=policy.max_line_length or 78)
        return f"{self.name}: {encoded.encode(linesep=policy.linesep)}{policy.linesep}"


class RawHeader(str):
    """A header value of our own making (printable ASCII, such as a `List-Unsubscribe`
    URL) written out on one line as it is: the standard library would encode a token
    longer than a line as encoded words, which no mail client reads as a URL. RFC 5322
    allows 998 characters a line."""

    name: str

    def __new__(cls, name: str, text: str) -> RawHeader:
        value = one_line(text)
        if not value.isascii() or _CONTROL.search(value) or len(name) + len(value) > 990:
            raise ValueError(f"{name}: not a short printable ASCII value")
        made = super().__new__(cls, value)
        made.name = name
        return made

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def header_value(name: str, text: str) -> str:
    """`text` for header `name`: plain printable ASCII without encoded-word syntax as it
    is (nothing in it can be decoded to anything else), anything else encoded by us."""
    text = one_line(text)
    if text.isascii() and "=?" not in text and not _CONTROL.search(text):
        return text
    return EncodedHeader(name, text)


def compose(
    *,
    settings: MailSettings,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    reply_to: str | None = None,
    cc: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """`cc`: the addresses the message shows as copied (who receives this very message
    is the mailer's `recipients`); `headers`: more fields of our own making (plain ASCII,
    such as `List-Unsubscribe`)."""
    message = EmailMessage()
    message["From"] = formataddr((settings.sender_name, settings.sender))
    # What people typed reaches these headers (an address, a subject): CR/LF in it would
    # end the header, so it becomes a space and can never start another one; a subject
    # that is not plain ASCII is encoded here, never by the standard library's parser
    # (see EncodedHeader). An address cannot be encoded: one with encoded-word syntax or
    # a control character is refused by intake (shared.tickets.intake.validate_submission).
    message["To"] = one_line(to)
    if cc:
        message["Cc"] = one_line(", ".join(cc))
    message["Subject"] = header_value("Subject", subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    if reply_to:  # a fetched mailbox's address: answers go back to the mailbox
        message["Reply-To"] = one_line(reply_to)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    # Tell other help desks and vacation responders not to answer us automatically.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    for name, value in (headers or {}).items():
        message[name] = RawHeader(name, value)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
