"""The `directory` table: one partition each for teams, agents and categories.

These lists are small and read on most requests, so reads are cached in the process
for a few seconds; a write through this store clears the cache at once.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from pydantic import BaseModel

from shared.directory import SEED_TEAMS, Agent, CannedResponse, CategoryDef, Team
from shared.rules import Rule
from shared.sla import SlaPlan

M = TypeVar("M", bound=BaseModel)
CACHE_SECONDS = 10.0
_KINDS: dict[type[BaseModel], str] = {Team: "team", Agent: "agent", CategoryDef: "category",
                                      CannedResponse: "canned", Rule: "rule",
                                      SlaPlan: "slaplan"}


class DirectoryStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._cache: dict[str, tuple[float, list[Any]]] = {}

    async def list(self, model: type[M]) -> list[M]:
        kind = _KINDS[model]
        cached = self._cache.get(kind)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return list(cached[1])
        items = [
            model.model_validate_json(entity["json"])
            async for entity in self._table.query_entities("PartitionKey eq @k",
                                                           parameters={"k": kind})
        ]
        self._cache[kind] = (time.monotonic(), items)
        return list(items)

    async def get(self, model: type[M], item_id: str) -> M | None:
        for item in await self.list(model):
            if getattr(item, "id", None) == item_id:
                return item
        return None

    async def put(self, item: BaseModel) -> None:
        kind = _KINDS[type(item)]
        await self._table.upsert_entity(
            {"PartitionKey": kind, "RowKey": item.id,  # type: ignore[attr-defined]
             "json": item.model_dump_json()},
            mode=UpdateMode.REPLACE,
        )
        self._cache.pop(kind, None)

    async def delete(self, model: type[BaseModel], item_id: str) -> bool:
        kind = _KINDS[model]
        self._cache.pop(kind, None)
        try:
            await self._table.get_entity(kind, item_id)
        except ResourceNotFoundError:
            return False
        await self._table.delete_entity(kind, item_id)
        return True

    async def seed(self, categories: tuple[str, ...]) -> None:
        """First start: the four teams and the configured categories, if none exist."""
        if not await self.list(Team):
            for team in SEED_TEAMS:
                await self.put(team)
        if not await self.list(CategoryDef):
            for slug in categories:
                await self.put(CategoryDef(id=slug, name=slug.replace("-", " ").capitalize()))
