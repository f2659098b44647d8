"""The knowledge base's articles in the `knowledge` table (row `a|<id>`), edited under
their ETags. Search does not read this table: every saved article is also appended to
the `kb` search log (shared/storage/searchlog.py), which workers hold in memory."""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.storage import failures
from shared.storage.keys import join

PARTITION = "kb"
ARTICLE = "a"


def article_key(article_id: str) -> str:
    return join(ARTICLE, article_id)


class StaleArticle(Exception):
    """The article changed since the version the caller read (its ETag)."""


@failures.store
class KnowledgeStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def get(self, article_id: str) -> dict[str, Any] | None:
        try:
            entity = await self._table.get_entity(PARTITION, article_key(article_id))
        except ResourceNotFoundError:
            return None
        return {**entity, "etag": entity.metadata["etag"]}

    async def save(self, article: dict[str, Any], *, etag: str | None, new: bool) -> str:
        """Write the article; its new ETag. `etag` guards an edit (StaleArticle if it
        changed meanwhile); `new` refuses an id that exists."""
        row = {"PartitionKey": PARTITION, "RowKey": article_key(article["id"]), **article}
        try:
            if new:
                result = await self._table.create_entity(row)
            else:
                result = await self._table.update_entity(row, mode=UpdateMode.REPLACE, etag=etag,
                                                         match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise StaleArticle(article["id"]) from exc
        return str(result["etag"])

    async def all(self) -> list[dict[str, Any]]:
        """Every article (the search log's rebuild)."""
        return [dict(e) async for e in self._table.query_entities("PartitionKey eq @pk",
                                                                   parameters={"pk": PARTITION})]
