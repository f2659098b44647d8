"""The `idempotency` table: one row per claimed key (a client's Idempotency-Key, a received
Message-ID, a chat conversation; shared/tickets/idempotency.py names them), pointing at
the ticket it created. The insert is the lock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.storage import failures


@failures.store
class IdempotencyStore:
    """Idempotency-Key → the ticket it created. The insert is the lock: only one
    request per key gets to create a ticket.

    An intake claim is `claimed` (with `claimed_at`) until the ticket is stored and its
    event queued, then `done`. A claim left `claimed` (storage failed before the request
    knew the outcome) is settled by the client's retry or by tools.repair."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def claim(self, key_hash: str, *, number: str, fingerprint: str,
                    now: datetime | None = None) -> dict[str, Any] | None:
        """Claim the key for `number`; if it was claimed before, return that claim."""
        entity: dict[str, Any] = {"PartitionKey": key_hash, "RowKey": "", "number": number,
                                  "fingerprint": fingerprint}
        if now is not None:
            entity |= {"state": "claimed", "claimed_at": now}
        try:
            await self._table.create_entity(entity)
            return None
        except ResourceExistsError:
            prior = await self._table.get_entity(key_hash, "")
        if prior.get("number") == number and prior.get("fingerprint") == fingerprint:
            return None  # our own insert, answered late and retried by the SDK
        return {**prior, "etag": prior.metadata["etag"]}

    async def take_over(self, key_hash: str, prior: dict[str, Any], *, now: datetime) -> bool:
        """Renew a stale claim (its request gave up); False if someone else did first."""
        entity = {"PartitionKey": key_hash, "RowKey": "", "number": prior["number"],
                  "fingerprint": prior["fingerprint"], "state": "claimed", "claimed_at": now}
        try:
            await self._table.update_entity(entity, mode=UpdateMode.REPLACE,
                                            etag=prior["etag"],
                                            match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    async def finish(self, key_hash: str) -> None:
        """The ticket is stored and announced: retries only replay it."""
        await self._table.update_entity({"PartitionKey": key_hash, "RowKey": "",
                                         "state": "done"}, mode=UpdateMode.MERGE)

    async def unsettled(self) -> AsyncIterator[dict[str, Any]]:
        """Intake claims still `claimed` (tools.repair settles the stale ones)."""
        async for entity in self._table.query_entities("state eq @s",
                                                       parameters={"s": "claimed"}):
            yield {**entity, "etag": entity.metadata["etag"]}

    async def repoint(self, key_hash: str, number: str) -> None:
        entity = await self._table.get_entity(key_hash, "")
        entity["number"] = number
        await self._table.update_entity(
            entity, mode=UpdateMode.REPLACE, etag=entity.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )

    async def release(self, key_hash: str, *, etag: str | None = None) -> bool:
        """Delete the record (only if it still has `etag`, when given)."""
        try:
            if etag is None:
                await self._table.delete_entity(key_hash, "")
            else:
                await self._table.delete_entity(key_hash, "", etag=etag,
                                                match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            pass
        except ResourceModifiedError:
            return False
        return True

    # -- channel records: a conversation or Message-ID → its ticket ----------------------

    async def read(self, key_hash: str) -> tuple[dict[str, Any], str] | None:
        try:
            entity = await self._table.get_entity(key_hash, "")
        except ResourceNotFoundError:
            return None
        return dict(entity), str(entity.metadata["etag"])

    async def insert(self, key_hash: str, props: dict[str, Any]) -> bool:
        """Create the record; False if it exists already."""
        try:
            await self._table.create_entity({"PartitionKey": key_hash, "RowKey": "", **props})
            return True
        except ResourceExistsError:
            return False

    async def replace(self, key_hash: str, props: dict[str, Any], *, etag: str) -> bool:
        """Replace the record if it still has `etag`; False if someone changed it."""
        try:
            await self._table.update_entity(
                {"PartitionKey": key_hash, "RowKey": "", **props}, mode=UpdateMode.REPLACE,
                etag=etag, match_condition=MatchConditions.IfNotModified)
            return True
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
