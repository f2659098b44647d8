"""The knowledge base in the `knowledge` table: articles and their word rows, one partition.

An article is row `a|<id>`; each of its search words is row `w|<word>|<id>`, carrying
what a result list shows (title, snippet, public, category), so a search reads only word
ranges. An article and its word rows are in one partition, so saving an article replaces
its rows in one entity group transaction: a search never sees half an edit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.storage.keys import join

PARTITION = "kb"
ARTICLE = "a"
WORD = "w"


def article_key(article_id: str) -> str:
    return join(ARTICLE, article_id)


def word_key(word: str, article_id: str) -> str:
    return join(WORD, word, article_id)


class StaleArticle(Exception):
    """The article changed since the version the caller read (its ETag)."""


class KnowledgeStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def get(self, article_id: str) -> dict[str, Any] | None:
        try:
            entity = await self._table.get_entity(PARTITION, article_key(article_id))
        except ResourceNotFoundError:
            return None
        return {**entity, "etag": entity.metadata["etag"]}

    async def save(self, article: dict[str, Any], words: list[str], *, old_words: list[str],
                   etag: str | None, new: bool) -> str:
        """Write the article and its word rows at once; returns the article's new ETag.
        `etag` guards an edit (StaleArticle if it changed); `new` refuses an existing id."""
        article_id = article["id"]
        row = {"PartitionKey": PARTITION, "RowKey": article_key(article_id), **article,
               "words": " ".join(words)}
        ops: list[tuple[Any, ...]] = []
        if new:
            ops.append(("create", row))
        elif etag:
            ops.append(("update", row, {"mode": UpdateMode.REPLACE, "etag": etag,
                                        "match_condition": MatchConditions.IfNotModified}))
        else:
            ops.append(("upsert", row, {"mode": UpdateMode.REPLACE}))
        shown = {"id": article_id, "title": article["title"], "snippet": article["body"][:240],
                 "category": article["category"], "public": article["public"],
                 "updated_at": article["updated_at"]}
        for position, word in enumerate(words):
            ops.append(("upsert", {"PartitionKey": PARTITION, "RowKey": word_key(word, article_id),
                                   **shown, "in_title": position < article.get("title_words", 0)},
                        {"mode": UpdateMode.REPLACE}))
        for word in sorted(set(old_words) - set(words)):
            ops.append(("delete", {"PartitionKey": PARTITION, "RowKey": word_key(word, article_id)}))
        try:
            results = await self._table.submit_transaction(ops)
        except TableTransactionError as exc:
            raise StaleArticle(article_id) from exc
        return str(results[0]["etag"])

    async def word_rows(self, prefixes: list[str], *, limit: int, public_only: bool
                        ) -> list[list[dict[str, Any]]]:
        """For each word prefix, up to `limit` word rows (one range read each, at once)."""

        async def one(prefix: str) -> list[dict[str, Any]]:
            low = join(WORD, prefix)
            clauses = ["PartitionKey eq @pk", "RowKey ge @low", "RowKey lt @high"]
            if public_only:
                clauses.append("public eq true")
            rows = []
            async for row in self._table.query_entities(
                    " and ".join(clauses), parameters={"pk": PARTITION, "low": low, "high": low + "\x7f"},
                    results_per_page=min(limit, 1000)):
                rows.append(dict(row))
                if len(rows) >= limit:
                    break
            return rows

        return list(await asyncio.gather(*(one(p) for p in prefixes)))
