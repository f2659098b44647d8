"""The `<queue>-poison` queues, where the Functions host puts messages that failed
`maxDequeueCount` times: peeked for admins, and moved back onto their queue on request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError

from shared.storage import failures
from shared.storage.clients import StorageClients

MAX_SCAN = 32 * 20


@dataclass(frozen=True)
class Parked:
    id: str
    content: str  # as stored: base64, as the host expects
    inserted_at: datetime | None
    dequeue_count: int | None


@failures.translated
async def peek(clients: StorageClients, queue: str) -> list[Parked]:
    """Up to 32 messages waiting in the queue's poison queue; none when it does not exist."""
    poison = clients.queues.get_queue_client(f"{queue}-poison")
    try:
        peeked = await poison.peek_messages(max_messages=32)
    except ResourceNotFoundError:
        return []
    return [Parked(m.id, m.content, m.inserted_on, m.dequeue_count) for m in peeked]


@failures.translated
async def move_back(clients: StorageClients, queue: str, ids: set[str] | None) -> list[str]:
    """Move poison messages (all, or those with `ids`) back onto their queue, content
    unchanged; the ids moved."""
    poison = clients.queues.get_queue_client(f"{queue}-poison")
    target = clients.queues.get_queue_client(queue)
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
                await target.send_message(message.content)
                await poison.delete_message(message)
                done.append(message.id)
    except ResourceNotFoundError:
        pass
    return done
