"""Helpers the tests share: reading MailDev's REST API, waiting for conditions."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout: float = 15.0, interval: float = 0.1,
             what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class MailDev:
    """MailDev's REST API: GET /email lists messages, DELETE /email/all empties the box."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def messages(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.base_url}/email", timeout=10).json()

    def to(self, address: str) -> list[dict[str, Any]]:
        return [
            m for m in self.messages()
            if any(t.get("address", "").lower() == address.lower() for t in m.get("to", []))
        ]

    def raw(self, message_id: str) -> bytes:
        return httpx.get(f"{self.base_url}/email/{message_id}/download", timeout=10).content

    def text(self, message_id: str) -> str:
        """The plain-text part of a message, as the requester reads it."""
        message = message_from_bytes(self.raw(message_id), policy=policy.default)
        body = message.get_body(("plain",))
        return body.get_content() if body is not None else ""

    def portal_link(self, message_id: str) -> str:
        """The "View or answer your request" link every email to a requester carries."""
        match = re.search(r"View or answer your request: (\S+)", self.text(message_id))
        assert match, f"no portal link in message {message_id}"
        return match.group(1)

    def wait_to(self, address: str, count: int = 1, timeout: float = 20.0
                ) -> list[dict[str, Any]]:
        return wait_for(lambda: (m := self.to(address)) and len(m) >= count and m,
                        timeout=timeout, what=f"{count} email(s) to {address}")
