"""The seam where outbound mail leaves: a `Mailer` takes a finished `EmailMessage`
(shared.mail.compose) and hands it to a mail service, SMTP (shared.mail.smtp, MailDev
locally) or Azure Communication Services (shared.mail.acs). Its one error is `MailError`.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class MailError(Exception):
    """The message could not be handed to the mail server; the caller retries.

    `maybe_sent` says the failure came while the server was taking the message (the
    connection broke mid-transfer or before its answer): it may have been delivered."""

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class Mailer(Protocol):
    # `recipients`: who gets this message, when not everyone its To and Cc name (each
    # collaborator gets a copy of their own, shared/notifications/notify.py).
    async def send(self, message: EmailMessage, *, recipients: list[str] | None = None
                   ) -> None: ...
