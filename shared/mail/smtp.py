"""Sending over SMTP (MailDev locally): the `Mailer` (shared.mail.mailer) that keeps a
few connections open between mails and says, when it fails, whether the mail may have
been delivered anyway.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage

from shared.core.settings import MailSettings
from shared.mail.mailer import MailError


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

    async def send(self, message: EmailMessage, *, recipients: list[str] | None = None
                   ) -> None:
        await asyncio.to_thread(self._send, message, recipients)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_idle)

    def _send(self, message: EmailMessage, recipients: list[str] | None = None) -> None:
        s = self._settings
        handing_over = False
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._checkout()
            handing_over = True
            smtp.send_message(message, to_addrs=recipients)
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
