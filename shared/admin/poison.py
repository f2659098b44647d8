"""Messages that failed `maxDequeueCount` times land in `<queue>-poison` (the Functions
host moves them there). Admins list them and replay them onto their queue once the cause
is fixed; every handler is idempotent, so a replay never sends an email twice."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from pydantic import BaseModel

from shared.core.errors import NotFound
from shared.storage import poison
from shared.storage.clients import QUEUES, StorageClients


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
    return [PoisonMessage(id=m.id, queue=name, body=_text(m.content),
                          inserted_at=m.inserted_at, dequeue_count=m.dequeue_count)
            for m in await poison.peek(clients, name)]


async def replay(clients: StorageClients, queue: str, ids: set[str] | None) -> Replayed:
    """Move poison messages (all, or those with `ids`) back onto their queue."""
    name = _queue(queue)
    return Replayed(queue=name, replayed=await poison.move_back(clients, name, ids))
