"""The `directory` table: one partition each for teams, agents and categories.

These lists are small and read on most requests, so reads are cached in the process
for a few seconds; a write through this store clears the cache at once.

A removed agent leaves a tombstone in a partition of its own (`agent-removed`), so that
their next sign-in does not create them again (shared/admin/agents.py); putting the agent
back (an admin's PUT) lifts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from pydantic import BaseModel

from shared.core.directory import SEED_TEAMS, Agent, CannedResponse, CategoryDef, Team
from shared.storage import failures

M = TypeVar("M", bound=BaseModel)
CACHE_SECONDS = 10.0
# The directory's own kinds; the composition root (shared/helpdesk.py) adds the models of
# the packages above storage (rules, SLA plans), so storage never imports them.
CORE_KINDS: dict[type[BaseModel], str] = {Team: "team", Agent: "agent",
                                          CategoryDef: "category", CannedResponse: "canned"}
# Kinds whose removal is remembered (see the module docstring).
_TOMBSTONED = {Agent}
_REMOVED = "-removed"
_ROTATION = "rr"  # each team's round-robin position (shared/automation/autoassign.py)


@failures.store
class DirectoryStore:
    def __init__(self, table: TableClient, *,
                 kinds: dict[type[BaseModel], str] | None = None) -> None:
        self._table = table
        self._kinds = {**CORE_KINDS, **(kinds or {})}
        self._cache: dict[str, tuple[float, list[Any]]] = {}

    async def removed(self, model: type[M]) -> list[M]:
        """The removed items whose removal is remembered (agents), as they were."""
        return await self._list(self._kinds[model] + _REMOVED, model)

    async def _list(self, partition: str, model: type[M]) -> list[M]:
        cached = self._cache.get(partition)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return list(cached[1])
        items = [
            model.model_validate_json(entity["json"])
            async for entity in self._table.query_entities("PartitionKey eq @k",
                                                           parameters={"k": partition})
        ]
        self._cache[partition] = (time.monotonic(), items)
        return list(items)

    async def list(self, model: type[M]) -> list[M]:
        return await self._list(self._kinds[model], model)

    async def get(self, model: type[M], item_id: str) -> M | None:
        for item in await self.list(model):
            if getattr(item, "id", None) == item_id:
                return item
        return None

    async def put(self, item: BaseModel) -> None:
        """Create or replace; for an agent also lift a removal (an admin restores them)."""
        kind = self._kinds[type(item)]
        await self._table.upsert_entity(
            {"PartitionKey": kind, "RowKey": item.id,  # type: ignore[attr-defined]
             "json": item.model_dump_json()},
            mode=UpdateMode.REPLACE,
        )
        self._cache.pop(kind, None)
        if type(item) in _TOMBSTONED:
            await self._table.delete_entity(kind + _REMOVED, item.id)  # type: ignore[attr-defined]
            self._cache.pop(kind + _REMOVED, None)

    async def add(self, item: BaseModel) -> bool:
        """Create only: False when the item exists already (whoever wrote it first wins)."""
        kind = self._kinds[type(item)]
        try:
            await self._table.create_entity(
                {"PartitionKey": kind, "RowKey": item.id,  # type: ignore[attr-defined]
                 "json": item.model_dump_json()})
        except ResourceExistsError:
            return False
        finally:
            self._cache.pop(kind, None)
        return True

    async def modify(self, model: type[M], item_id: str, change: Callable[[M], M | None],
                     *, tries: int = 5) -> M | None:
        """Read, change and write back under the entity's ETag, again on a race; `change`
        returns None to leave it. None when the item does not exist."""
        kind = self._kinds[model]
        for _ in range(tries):
            try:
                entity = await self._table.get_entity(kind, item_id)
            except ResourceNotFoundError:
                return None
            current = model.model_validate_json(entity["json"])
            changed = change(current)
            if changed is None:
                return current
            try:
                await self._table.update_entity(
                    {"PartitionKey": kind, "RowKey": item_id, "json": changed.model_dump_json()},
                    mode=UpdateMode.REPLACE, etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                continue
            finally:
                self._cache.pop(kind, None)
            return changed
        return None

    async def advance_rotation(self, team: str, *, tries: int = 50) -> int | None:
        """The team's round-robin position (0, 1, 2, …), claimed under the row's ETag so no
        two callers get the same one; None when `tries` races were lost."""
        for _ in range(tries):
            try:
                entity = await self._table.get_entity(_ROTATION, team)
            except ResourceNotFoundError:
                try:
                    await self._table.create_entity({"PartitionKey": _ROTATION, "RowKey": team,
                                                     "next": 1})
                    return 0
                except ResourceExistsError:
                    continue
            position = int(entity["next"])
            entity["next"] = position + 1
            try:
                await self._table.update_entity(entity, mode=UpdateMode.REPLACE,
                                                etag=entity.metadata["etag"],
                                                match_condition=MatchConditions.IfNotModified)
                return position
            except ResourceModifiedError:
                continue
        return None

    async def delete(self, model: type[BaseModel], item_id: str) -> bool:
        """Remove; an agent's removal is remembered (a tombstone) before the record goes."""
        kind = self._kinds[model]
        self._cache.pop(kind, None)
        try:
            entity = await self._table.get_entity(kind, item_id)
        except ResourceNotFoundError:
            return False
        if model in _TOMBSTONED:
            await self._table.upsert_entity(
                {"PartitionKey": kind + _REMOVED, "RowKey": item_id, "json": entity["json"]},
                mode=UpdateMode.REPLACE)
            self._cache.pop(kind + _REMOVED, None)
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
