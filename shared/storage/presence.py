"""Who has a ticket open: one row per agent on the ticket, rewritten by each heartbeat.

Table `presence`, PartitionKey = ticket number, RowKey = the agent's id (key-encoded), so
that the agents on one ticket are one partition read. A row says when its agent was last
heard from; the service (`shared/tickets/presence.py`) decides what still counts. Rows are
upserted, never read-modified-written: each agent writes only their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.storage import failures
from shared.storage.keys import key_part


@dataclass(frozen=True)
class Seen:
    agent: str
    name: str
    typing: bool
    at: datetime
    etag: str


@failures.store
class PresenceStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def beat(self, number: str, *, agent: str, name: str, typing: bool,
                   at: datetime) -> None:
        await self._table.upsert_entity({
            "PartitionKey": number, "RowKey": key_part(agent), "agent": agent,
            "name": name, "typing": typing, "at": at}, mode=UpdateMode.REPLACE)

    async def on_ticket(self, number: str) -> list[Seen]:
        """Every row of the ticket, expired ones included."""
        found = []
        async for row in self._table.query_entities(
                "PartitionKey eq @number", parameters={"number": number}):
            found.append(Seen(agent=row["agent"], name=row.get("name") or row["agent"],
                              typing=bool(row.get("typing")), at=row["at"],
                              etag=row.metadata.get("etag") or ""))
        return found

    async def leave(self, number: str, agent: str, *, etag: str | None = None) -> None:
        """Remove the agent's row; with `etag`, only if nobody rewrote it since (an
        expired row being cleared while its agent comes back stays)."""
        try:
            if etag is None:
                await self._table.delete_entity(number, key_part(agent))
            else:
                await self._table.delete_entity(number, key_part(agent), etag=etag,
                                                match_condition=MatchConditions.IfNotModified)
        except (ResourceNotFoundError, ResourceModifiedError):
            pass
