"""Outbound email: composing MIME with the standard library, sending over SMTP.

`Mailer` is the seam: the notification service hands it a finished `EmailMessage`.
SMTP (MailDev locally) is the one implementation so far; Azure Communication Services
Email plugs in here later.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
import threading
import time
from email.header import Header
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formataddr, formatdate
from typing import Protocol

from shared.core.settings import MailSettings

REPLY_MARKER = "##- Please type your reply above this line -##"


class MailError(Exception):
    """The message could not be handed to the mail server; the caller retries.

    `maybe_sent` says the failure came while the server was taking the message (the
    connection broke mid-transfer or before its answer): it may have been delivered."""

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


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


def header_value(name: str, text: str) -> str:
    """`text` for header `name`: plain printable ASCII without encoded-word syntax as it
    is (nothing in it can be decoded to anything else), anything else encoded by us."""
    text = one_line(text)
    if text.isascii() and "=?" not in text and not _CONTROL.search(text):
        return text
    return EncodedHeader(name, text)


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


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
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((settings.sender_name, settings.sender))
    # What people typed reaches these headers (an address, a subject): CR/LF in it would
    # end the header, so it becomes a space and can never start another one; a subject
    # that is not plain ASCII is encoded here, never by the standard library's parser
    # (see EncodedHeader). An address cannot be encoded: one with encoded-word syntax or
    # a control character is refused by intake (shared.tickets.intake.validate_submission).
    message["To"] = one_line(to)
    message["Subject"] = header_value("Subject", subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    # Tell other help desks and vacation responders not to answer us automatically.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class SmtpMailer:
    """Sends over SMTP, keeping a few connections open between mails.

    Opening one costs more than the mail it carries: TCP, the server's greeting (MailDev,
    like many servers, looks the client up first: about 100 ms here), TLS and the login.
    So a delivered mail's connection goes back to `idle` (at most `keep` of them) and the
    next mail takes it. Before it is used again it must answer NOOP: one the server has
    closed meanwhile is dropped before the message is handed over, so a stale connection
    can never make a mail "maybe sent". One unused for `idle_seconds` is closed instead.
    Any failure drops the connection it happened on."""

    def __init__(self, settings: MailSettings, *, keep: int = 4, idle_seconds: float = 30.0) -> None:
        self._settings = settings
        self._keep = keep
        self._idle_seconds = idle_seconds
        self._idle: list[tuple[smtplib.SMTP, float]] = []  # (connection, when it was put back)
        self._lock = threading.Lock()

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_idle)

    def _send(self, message: EmailMessage) -> None:
        s = self._settings
        handing_over = False
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._checkout()
            handing_over = True
            smtp.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                smtplib.SMTPDataError) as exc:
            # The server answered with a refusal: certainly not delivered.
            _drop(smtp)
            raise MailError(f"{s.host}:{s.port} refused the mail: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            _drop(smtp, polite=False)
            raise MailError(f"could not send mail via {s.host}:{s.port}: {exc}",
                            maybe_sent=handing_over) from exc
        self._checkin(smtp)

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        if s.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            _drop(smtp, polite=False)
            raise
        return smtp

    def _checkout(self) -> smtplib.SMTP:
        """A connection that answers NOOP now: an idle one, or a new one."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                smtp, since = self._idle.pop()
            # An expired one is closed without QUIT: after a few idle minutes a NAT may
            # have forgotten it, and QUIT would wait the whole timeout for an answer.
            if time.monotonic() - since <= self._idle_seconds and _alive(smtp):
                return smtp
            _drop(smtp, polite=False)
        return self._connect()

    def _checkin(self, smtp: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append((smtp, time.monotonic()))
                return
        _drop(smtp)

    def _close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for smtp, _ in idle:
            _drop(smtp)


def _alive(smtp: smtplib.SMTP) -> bool:
    try:
        code, _ = smtp.noop()
    except (OSError, smtplib.SMTPException):
        return False
    return code == 250


def _drop(smtp: smtplib.SMTP | None, *, polite: bool = True) -> None:
    """Close the connection; say QUIT first when it is in a known state (`polite`)."""
    if smtp is None:
        return
    if polite:
        try:
            smtp.quit()
            return
        except (OSError, smtplib.SMTPException):
            pass
    smtp.close()
