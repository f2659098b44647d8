"""Outbound email: composing MIME with the standard library, sending over SMTP.

`Mailer` is the seam: the notification service hands it a finished `EmailMessage`.
SMTP (MailDev locally) is the one implementation so far; Azure Communication Services
Email plugs in here later.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Protocol

from shared.settings import MailSettings

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
    # What people typed reaches these headers (a name, a subject): CR/LF in it would end
    # the header, so it becomes a space and can never start another one.
    message["To"] = one_line(to)
    message["Subject"] = one_line(subject)
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
    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        s = self._settings
        handing_over = delivered = False
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_seconds,
                    context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            with smtp:
                if s.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password or "")
                handing_over = True
                smtp.send_message(message)
                handing_over, delivered = False, True
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                smtplib.SMTPDataError) as exc:
            # The server answered with a refusal: certainly not delivered.
            raise MailError(f"{s.host}:{s.port} refused the mail: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            if delivered:
                return  # only the QUIT after the delivered message failed
            raise MailError(f"could not send mail via {s.host}:{s.port}: {exc}",
                            maybe_sent=handing_over) from exc
