"""Per-address limits (public submissions, portal links, acknowledgements), kept in Table Storage so that every
instance of the app counts against the same number (an in-memory counter would let a
scaled-out app accept N times the limit).

Fixed windows of one hour: one row per (address, window), incremented under its ETag.
"""

from __future__ import annotations

from datetime import datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.errors import HelpdeskError
from shared.storage import failures
from shared.storage.keys import key_part

WINDOW_SECONDS = 3600


class TooManyRequests(HelpdeskError):
    status = 429
    title = "Too many requests"


@failures.store
class RateLimiter:
    def __init__(self, table: TableClient, *, per_window: int, prefix: str = "ip",
                 mostly_new: bool = False) -> None:
        self._table = table
        self._limit = per_window
        self._prefix = prefix  # what is counted: client addresses, email addresses...
        # Most addresses counted are seen once in a window (requesters acknowledged):
        # insert first, one request, and read only when the row is already there.
        self._mostly_new = mostly_new

    async def hit(self, address: str | None, now: datetime) -> None:
        """Count one submission from `address`; raise `TooManyRequests` past the limit."""
        if not await self.take(address, now):
            window = int(now.timestamp()) // WINDOW_SECONDS
            retry_after = (window + 1) * WINDOW_SECONDS - int(now.timestamp())
            raise TooManyRequests(
                f"At most {self._limit} submissions an hour from one address; "
                f"try again in {retry_after // 60 + 1} minutes.",
                extra={"retry_after": retry_after})

    async def take(self, address: str | None, now: datetime) -> bool:
        """Count one use by `address` if this hour has room for it; False (and nothing
        counted) when the limit is reached. Always True with no limit or no address."""
        if self._limit <= 0 or not address:
            return True
        window = int(now.timestamp()) // WINDOW_SECONDS
        pk, rk = f"{self._prefix}|{key_part(address)}", str(window)
        if self._mostly_new and await self._first(pk, rk):
            return True
        for _ in range(10):
            try:
                entity = await self._table.get_entity(pk, rk)
            except ResourceNotFoundError:
                if await self._first(pk, rk):
                    return True
                continue
            if entity["count"] >= self._limit:
                return False
            entity["count"] += 1
            try:
                await self._table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified)
                return True
            except ResourceModifiedError:
                continue
        # Ten lost races in a row: the count is contended, not exceeded.
        return True

    async def _first(self, pk: str, rk: str) -> bool:
        """Count the window's first use; False if the window's row is already there."""
        try:
            await self._table.create_entity({"PartitionKey": pk, "RowKey": rk, "count": 1})
            return True
        except ResourceExistsError:
            return False
