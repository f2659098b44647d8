"""Messages that failed `maxDequeueCount` times land in `<queue>-poison` (the Functions
host moves them there). Admins list them and replay them onto their queue once the cause
is fixed; every handler is idempotent, so a replay never sends an email twice."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from pydantic import BaseModel

from shared.core.errors import NotFound
from shared.storage.clients import QUEUES, StorageClients

MAX_SCAN = 32 * 20


class PoisonMessage(BaseModel):
    id: str
    queue: str
    body: str
    inserted_at: datetime | None
    dequeue_count: int | None


class Replayed(BaseModel):
    queue: str
    replayed: list[str]


def _queue(name: str) -> str:
    if name not in QUEUES:
        raise NotFound(f"No queue {name!r}; one of: {', '.join(QUEUES)}.")
    return name


def _text(content: str) -> str:
    # Bodies are base64 as the host expects; show them decoded.
    try:
        return base64.b64decode(content, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return content


async def list_poison(clients: StorageClients, queue: str) -> list[PoisonMessage]:
    name = _queue(queue)
    poison = clients.queues.get_queue_client(f"{name}-poison")
    try:
        peeked = await poison.peek_messages(max_messages=32)
    except ResourceNotFoundError:
        return []
    return [PoisonMessage(id=m.id, queue=name, body=_text(m.content),
                          inserted_at=m.inserted_on, dequeue_count=m.dequeue_count)
            for m in peeked]


async def replay(clients: StorageClients, queue: str, ids: set[str] | None) -> Replayed:
    """Move poison messages (all, or those with `ids`) back onto their queue."""
    name = _queue(queue)
    poison = clients.queues.get_queue_client(f"{name}-poison")
    target = clients.queues.get_queue_client(name)
    done: list[str] = []
    seen: set[str] = set()
    try:
        while len(seen) < MAX_SCAN:
            batch = [m async for m in poison.receive_messages(max_messages=32,
                                                               visibility_timeout=30)]
            fresh = [m for m in batch if m.id not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message.id)
                if ids is not None and message.id not in ids:
                    continue
                # Raw content, so the base64 body goes back exactly as it was.
                await target.send_message(message.content)
                await poison.delete_message(message)
                done.append(message.id)
    except ResourceNotFoundError:
        pass
    return Replayed(queue=name, replayed=done)
