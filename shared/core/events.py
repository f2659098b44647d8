"""The domain events: what happened to a ticket that something must act on (an email, an
index repair, the reports), and a requester's request for a portal link. They travel as
queue messages (shared/storage/events.py); the queue-triggered functions act on them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TicketEvent(BaseModel):
    """A queue message: which entry of which ticket happened. `indexed` says whether the
    request already wrote the ticket's index rows; when it could not, the handler writes
    them, removing `stale_index_keys` (the rows the ticket had before)."""

    ticket: str
    seq: int
    kind: str
    indexed: bool = False
    stale_index_keys: list[str] = Field(default_factory=list)
    # The W3C trace context of the request that caused it, so the handler continues its
    # trace (shared/core/telemetry.py); absent on messages from before it existed.
    traceparent: str | None = None

    @property
    def id(self) -> str:
        return f"{self.ticket}:{self.seq}"


class LinkRequest(BaseModel):
    """A queue message: someone asked the portal to email a link to ticket `number` at
    `email`. Whether the pair exists is decided by the handler, off the request's path."""

    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    number: str = Field(max_length=20)
    email: str = Field(max_length=320)
