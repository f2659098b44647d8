"""Outbound email through Azure Communication Services Email, when `ACS_EMAIL_CONNECTION`
is set: the same finished `EmailMessage` the SMTP mailer sends, handed to ACS's API.

ACS takes subject, plain text, HTML and custom headers; it assigns its own Message-ID,
so our Message-ID travels as `X-Helpdesk-Message-ID` and threading relies on
`In-Reply-To`/`References` (which ACS passes on) and the `[#NUMBER]` subject token.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from azure.communication.email.aio import EmailClient
from azure.core.exceptions import AzureError

from shared.mail.mailer import MailError

PASSED_HEADERS = ("In-Reply-To", "References", "Auto-Submitted", "X-Auto-Response-Suppress",
                  "List-Unsubscribe", "List-Unsubscribe-Post")


def acs_message(message: EmailMessage, sender: str, recipients: list[str] | None = None
                ) -> dict[str, Any]:
    """ACS sends to every address it is given, so a copy meant for some of its To and
    Cc (`recipients`) goes to those alone, shown as its To."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    headers = {h: str(message[h]) for h in PASSED_HEADERS if message[h]}
    if message["Message-ID"]:
        headers["X-Helpdesk-Message-ID"] = str(message["Message-ID"])
    return {
        "senderAddress": sender,
        "recipients": {"to": [{"address": addr, "displayName": name}
                              for name, addr in getaddresses([str(message["To"])])]
                       if recipients is None else [{"address": a} for a in recipients]},
        "content": {
            "subject": str(message["Subject"]),
            "plainText": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else None,
        },
        "headers": headers,
    }


class AcsMailer:
    def __init__(self, connection_string: str, sender: str, **client_options: Any) -> None:
        self._client = EmailClient.from_connection_string(connection_string, **client_options)
        self._sender = sender

    async def close(self) -> None:
        await self._client.close()

    async def send(self, message: EmailMessage, *, recipients: list[str] | None = None
                   ) -> None:
        try:
            poller = await self._client.begin_send(acs_message(message, self._sender,
                                                               recipients))
            result = await poller.result()
        except AzureError as exc:
            raise MailError(f"Azure Communication Services refused the email: {exc}") from exc
        if str(result.get("status", "")).lower() != "succeeded":
            raise MailError(f"Azure Communication Services did not send it: {result}")
