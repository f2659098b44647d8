"""Chat transcripts from a chat integration (`POST /api/channels/chat`).

The integration signs the body with a shared secret (HMAC-SHA256, hex, in
`X-Signature: sha256=<hex>`). A conversation becomes one ticket whose thread holds it;
the same conversation again (transcripts are cumulative) appends only the messages the
ticket does not have yet. A record per conversation (in the `idempotency` table) holds
the ticket number and how many messages it has; it is changed only under its ETag, so
two deliveries at once cannot both create a ticket or append the same messages.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from shared.core.errors import Conflict, Forbidden, HelpdeskError, Unauthorized
from shared.core.models import Channel
from shared.tickets.idempotency import record_key
from shared.tickets.intake import submit_ticket
from shared.tickets.workflow import requester_reply

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

LOCK_SECONDS = 60


class ChatVisitor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: EmailStr


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    author: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    role: Literal["visitor", "agent", "bot"] = "visitor"
    at: datetime
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class ChatTranscript(BaseModel):
    model_config = ConfigDict(extra="ignore")

    conversation_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    visitor: ChatVisitor
    subject: str | None = Field(None, max_length=250)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)


class ChatResult(BaseModel):
    number: str
    outcome: Literal["created", "appended", "unchanged"]
    appended: int


def verify_signature(body: bytes, header: str | None, secret: str | None) -> None:
    if not secret:
        raise HelpdeskError("The chat channel is not configured (HELPDESK_CHAT_SECRET).")
    if not header:
        raise Unauthorized("The X-Signature header is missing.")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, header.strip()):
        raise Forbidden("The X-Signature does not match the body.")


def transcript_text(messages: list[ChatMessage]) -> str:
    return "\n".join(f"[{m.at:%Y-%m-%d %H:%M}] {m.author}: {m.text}" for m in messages)


async def receive_chat(chat: ChatTranscript, *, desk: Helpdesk) -> ChatResult:
    key = record_key("chat", chat.conversation_id)
    now = desk.clock()
    await desk.idempotency.insert(key, {"number": "", "seen": 0})
    found = await desk.idempotency.read(key)
    if found is None:
        raise Conflict("The conversation is being recorded; retry.", extra={"retry_after": 1})
    record, etag = found
    if not record.get("number"):
        return await _create(chat, key, record, etag, now, desk=desk)
    seen = int(record.get("seen", 0))
    new = chat.messages[seen:]
    if not new:
        return ChatResult(number=record["number"], outcome="unchanged", appended=0)
    if not await desk.idempotency.replace(key, {**_props(record), "seen": len(chat.messages)},
                                          etag=etag):
        raise Conflict("Another delivery of this conversation is being recorded; retry.",
                       extra={"retry_after": 1})
    try:
        await requester_reply(record["number"], transcript_text(new),
                              requester=chat.visitor.email, desk=desk)
    except Exception:
        # Give the messages back, so the integration's retry appends them.
        latest = await desk.idempotency.read(key)
        if latest is not None:
            await desk.idempotency.replace(key, {**_props(latest[0]), "seen": seen},
                                           etag=latest[1])
        raise
    return ChatResult(number=record["number"], outcome="appended", appended=len(new))


async def _create(chat: ChatTranscript, key: str, record: dict, etag: str, now: datetime, *,
                  desk: Helpdesk) -> ChatResult:
    locked = record.get("locked_until")
    if locked and locked > now:
        raise Conflict("The conversation is being recorded; retry.", extra={"retry_after": 1})
    if not await desk.idempotency.replace(
            key, {"number": "", "seen": 0, "locked_until": now + timedelta(seconds=LOCK_SECONDS)},
            etag=etag):
        raise Conflict("The conversation is being recorded; retry.", extra={"retry_after": 1})
    first = next((m.text for m in chat.messages if m.role == "visitor"), chat.messages[0].text)
    subject = chat.subject or (first[:77] + "..." if len(first) > 80 else first)
    try:
        created = await submit_ticket(
            {"name": chat.visitor.name, "email": str(chat.visitor.email), "subject": subject,
             "description": transcript_text(chat.messages)},
            [], desk=desk, channel=Channel.CHAT,
            entry_data={"conversation_id": chat.conversation_id,
                        "messages": len(chat.messages)})
    except Exception:
        latest = await desk.idempotency.read(key)
        if latest is not None:
            await desk.idempotency.replace(key, {"number": "", "seen": 0}, etag=latest[1])
        raise
    latest = await desk.idempotency.read(key)
    assert latest is not None
    await desk.idempotency.replace(key, {"number": created.number, "seen": len(chat.messages)},
                                   etag=latest[1])
    return ChatResult(number=created.number, outcome="created", appended=len(chat.messages))


def _props(record: dict) -> dict:
    return {k: v for k, v in record.items() if k in ("number", "seen")}
