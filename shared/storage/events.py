"""The queues the domain events travel on (shared/core/events.py): `ticket-events`, one
message per thread entry that needs a side effect, and `portal-links`."""

from __future__ import annotations

from azure.storage.queue.aio import QueueClient

from shared.core import telemetry
from shared.core.events import LinkRequest, TicketEvent
from shared.storage import failures


@failures.store
class EventQueue:
    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    async def publish(self, event: TicketEvent) -> None:
        if event.traceparent is None:
            event = event.model_copy(update={"traceparent": telemetry.current_traceparent()})
        await self._queue.send_message(event.model_dump_json(exclude_none=True))


@failures.store
class LinkQueue:
    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    async def publish(self, request: LinkRequest) -> None:
        await self._queue.send_message(request.model_dump_json())
