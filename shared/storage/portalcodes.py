"""Spent portal codes (shared/core/links.py): one row per emailed link that has been
exchanged for a session, so that the link, wherever it was logged, opens nothing again.

Rows live in the `ratelimits` table (partition `portalcode|<code id>`), beside the other
marks public callers leave; creating the row is the spending, so two confirmations of
one link at once open one session.
"""

from __future__ import annotations

from datetime import datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableClient

from shared.storage import failures
from shared.storage.keys import key_part

ROW = "spent"


@failures.store
class SpentCodes:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    @staticmethod
    def _pk(code_id: str) -> str:
        return f"portalcode|{key_part(code_id)}"

    async def spend(self, code_id: str, *, number: str, at: datetime) -> bool:
        """Mark the code spent; False if it had been spent before."""
        try:
            await self._table.create_entity({"PartitionKey": self._pk(code_id), "RowKey": ROW,
                                             "number": number, "spent_at": at})
        except ResourceExistsError:
            return False
        return True

    async def is_spent(self, code_id: str) -> bool:
        try:
            await self._table.get_entity(self._pk(code_id), ROW)
        except ResourceNotFoundError:
            return False
        return True
