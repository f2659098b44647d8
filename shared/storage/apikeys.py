"""API keys in the `directory` table (partition `apikey`), one point read per check."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.admin.apikeys import ApiKey

PARTITION = "apikey"


class ApiKeyStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def put(self, info: ApiKey) -> None:
        await self._table.upsert_entity(
            {"PartitionKey": PARTITION, "RowKey": info.id,
             "json": info.model_dump_json(exclude=set()),
             "secret_sha256": info.secret_sha256},
            mode=UpdateMode.REPLACE)

    async def get(self, key_id: str) -> ApiKey | None:
        try:
            entity = await self._table.get_entity(PARTITION, key_id)
        except ResourceNotFoundError:
            return None
        return ApiKey.model_validate_json(entity["json"]).model_copy(
            update={"secret_sha256": entity["secret_sha256"]})

    async def list(self) -> list[ApiKey]:
        return [ApiKey.model_validate_json(e["json"]).model_copy(
                    update={"secret_sha256": e["secret_sha256"]})
                async for e in self._table.query_entities("PartitionKey eq @p",
                                                          parameters={"p": PARTITION})]
