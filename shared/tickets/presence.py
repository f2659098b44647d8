"""Who else has a ticket open, and who is typing an answer: a heartbeat every few seconds
from each agent's open ticket page, answered with the other agents heard from lately.

Polling, not a connection kept open: the page sends a heartbeat every `HEARTBEAT_SECONDS`
while it is visible (and at once when its agent starts or stops typing), and a row older
than `FRESH_SECONDS` no longer counts, so a closed laptop drops out by itself. A page that
is left says so (`leave`). This is a courtesy, not a lock: the ticket's ETag still refuses
the second of two agents who act on the same version.

Who is here comes only from the signed-in principal, never from the request's body. The
first heartbeat of an agent on a ticket checks that the ticket exists; later ones find
their own row and skip that read. Rows of agents long gone are removed by the next
heartbeat on the same ticket, under their ETag, so a returning agent's row stays.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.core.auth import Principal
from shared.core.directory import Agent
from shared.core.errors import NotFound, ValidationFailed, field_errors
from shared.storage.presence import Seen

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

HEARTBEAT_SECONDS = 5
FRESH_SECONDS = 20
# Rows older than this are removed when seen; younger expired ones are left to be
# overwritten by their agent's next visit (cheaper than a delete per heartbeat).
FORGET_AFTER = timedelta(hours=1)


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    typing: bool = Field(False, description="the agent is typing a reply or note now")


class Present(BaseModel):
    agent: str
    name: str
    typing: bool
    at: datetime = Field(description="when they were last heard from")


class Presence(BaseModel):
    others: list[Present] = Field(description="the other agents with the ticket open, "
                                  "heard from in the last fresh_seconds, typing first")
    heartbeat_seconds: int = HEARTBEAT_SECONDS
    fresh_seconds: int = FRESH_SECONDS


def parse_heartbeat(raw: dict | None) -> Heartbeat:
    try:
        return Heartbeat.model_validate(raw or {})
    except ValidationError as exc:
        raise ValidationFailed("The heartbeat has invalid fields.",
                               errors=field_errors(exc)) from None


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


async def heartbeat(number: str, beat: Heartbeat, *, who: Principal, desk: Helpdesk
                    ) -> Presence:
    """Record that `who` has the ticket open (typing or not); the others present."""
    now = desk.clock()
    rows = await desk.presence.on_ticket(number)
    if not any(r.agent == who.user_id for r in rows) and await desk.tickets.get(number) is None:
        raise NotFound(f"No ticket {number}.")
    record = await desk.directory.get(Agent, who.user_id)
    name = record.name if record else (who.display_name or who.name or who.user_id)
    await desk.presence.beat(number, agent=who.user_id, name=name, typing=beat.typing, at=now)
    fresh = now - timedelta(seconds=FRESH_SECONDS)
    forgotten = [r for r in rows if r.agent != who.user_id and _utc(r.at) < now - FORGET_AFTER]
    if forgotten:
        await asyncio.gather(*(desk.presence.leave(number, r.agent, etag=r.etag)
                               for r in forgotten))
    others = [_present(r) for r in rows if r.agent != who.user_id and _utc(r.at) >= fresh]
    others.sort(key=lambda p: (not p.typing, p.name.casefold(), p.agent))
    return Presence(others=others)


async def leave(number: str, *, who: Principal, desk: Helpdesk) -> None:
    await desk.presence.leave(number, who.user_id)


def _present(row: Seen) -> Present:
    return Present(agent=row.agent, name=row.name, typing=row.typing, at=_utc(row.at))
