"""API keys in the `directory` table (partition `apikey`), one point read per check."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from pydantic import BaseModel

from shared.storage import failures

PARTITION = "apikey"


class _Key(Protocol):
    id: str
    secret_sha256: str


K = TypeVar("K", bound=BaseModel)


@failures.store
class ApiKeyStore(Generic[K]):
    """Keys of the model the admin package defines (shared/admin/apikeys.py); its hash is
    kept in a property of its own beside the JSON."""

    def __init__(self, table: TableClient, model: type[K]) -> None:
        self._table = table
        self._model = model

    async def put(self, info: K) -> None:
        key: _Key = info  # type: ignore[assignment]
        await self._table.upsert_entity(
            {"PartitionKey": PARTITION, "RowKey": key.id,
             "json": info.model_dump_json(exclude=set()),
             "secret_sha256": key.secret_sha256},
            mode=UpdateMode.REPLACE)

    async def get(self, key_id: str) -> K | None:
        try:
            entity = await self._table.get_entity(PARTITION, key_id)
        except ResourceNotFoundError:
            return None
        return self._from(entity)

    async def list(self) -> list[K]:
        return [self._from(e) async for e in self._table.query_entities(
            "PartitionKey eq @p", parameters={"p": PARTITION})]

    def _from(self, entity: dict) -> K:
        return self._model.model_validate_json(entity["json"]).model_copy(
            update={"secret_sha256": entity["secret_sha256"]})
