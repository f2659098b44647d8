"""The knowledge base: articles promoted from resolutions, found by their words, and the
resolved tickets most like an open one.

Search ranks by the query's words an article contains, each weighted by how rare it is
(its inverse document frequency, from the rows its range returned) and doubled in the
title. Every word is one range read of at most `WORD_ROWS` rows, all read at once, so a
search costs a few requests whatever the size of the knowledge base: at 10,000 articles
a common word is read to its first rows, which is why the rarer words decide the order.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from shared.helpdesk import Helpdesk
from shared.indexing import word_prefix
from shared.intake import field_errors
from shared.queues import QueueItem, item
from shared.storage.kb import StaleArticle
from shared.words import query_tokens, words

MAX_WORDS = 45            # an article's word rows, with as many stale ones, fit a transaction
BODY_WORD_CHARS = 4000
WORD_ROWS = 500
QUERY_WORDS = 6
RESULTS = 10
DONE = ("resolved", "closed")

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class ArticleInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body | None = Field(None, description="defaults to the ticket's resolution notes")
    category: str = "general"
    public: bool = Field(False, description="shown to requesters (portal, web form)")
    from_ticket: str | None = Field(None, description="a resolved ticket whose notes it keeps")


class ArticleEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body
    category: str = "general"
    public: bool = False


class Article(BaseModel):
    id: str
    title: str
    body: str
    category: str
    public: bool
    from_ticket: str | None = None
    author: str
    created_at: datetime
    updated_at: datetime
    etag: str = Field("", exclude=True)


class ArticleHit(BaseModel):
    id: str
    title: str
    snippet: str
    category: str
    public: bool
    score: float


class Similar(BaseModel):
    tickets: list[QueueItem]
    articles: list[ArticleHit]


def _parse(model: type[BaseModel], body: dict[str, Any] | None) -> Any:
    try:
        return model.model_validate(body or {})
    except ValidationError as exc:
        raise ValidationFailed("Invalid article.", errors=field_errors(exc)) from None


def article_words(title: str, body: str) -> tuple[list[str], int]:
    """Distinct words, the title's first; and how many came from the title."""
    seen: dict[str, None] = dict.fromkeys(words(title))
    in_title = len(seen)
    for word in words(body[:BODY_WORD_CHARS]):
        if len(seen) >= MAX_WORDS:
            break
        seen.setdefault(word, None)
    ordered = list(seen)[:MAX_WORDS]
    return ordered, min(in_title, MAX_WORDS)


def _article(entity: dict[str, Any]) -> Article:
    return Article.model_validate({**entity, "etag": entity.get("etag", "")})


async def _check_category(category: str, desk: Helpdesk) -> None:
    if category not in desk.settings.categories:
        raise ValidationFailed("Unknown category.", errors=[
            {"field": "category", "message": f"one of {', '.join(desk.settings.categories)}"}])


async def create(body: dict[str, Any] | None, *, author: str, desk: Helpdesk) -> Article:
    data: ArticleInput = _parse(ArticleInput, body)
    await _check_category(data.category, desk)
    text = data.body
    if data.from_ticket is not None:
        stored = await desk.tickets.get(data.from_ticket) if data.from_ticket.isdigit() else None
        if stored is None:
            raise NotFound(f"No ticket {data.from_ticket!r}.")
        if stored.ticket.status not in DONE or not stored.ticket.resolution:
            raise Conflict("Only a resolved ticket's notes can become an article.")
        text = text or stored.ticket.resolution
    if not text:
        raise ValidationFailed("Invalid article.", errors=[{"field": "body", "message": "required"}])
    now = desk.clock()
    article = {"id": secrets.token_hex(6), "title": data.title, "body": text, "category": data.category,
               "public": data.public, "from_ticket": data.from_ticket, "author": author,
               "created_at": now, "updated_at": now}
    tokens, title_words = article_words(data.title, text)
    etag = await desk.kb.save({**article, "title_words": title_words}, tokens, old_words=[],
                              etag=None, new=True)
    return Article.model_validate({**article, "etag": etag})


async def read(article_id: str, *, desk: Helpdesk, public_only: bool = False) -> Article:
    entity = await desk.kb.get(article_id) if article_id.isalnum() else None
    if entity is None or (public_only and not entity.get("public")):
        raise NotFound(f"No article {article_id!r}.")
    return _article(entity)


async def edit(article_id: str, body: dict[str, Any] | None, *, if_match: str | None,
               desk: Helpdesk) -> Article:
    data: ArticleEdit = _parse(ArticleEdit, body)
    await _check_category(data.category, desk)
    entity = await desk.kb.get(article_id) if article_id.isalnum() else None
    if entity is None:
        raise NotFound(f"No article {article_id!r}.")
    if if_match and if_match != entity["etag"]:
        raise PreconditionFailed("The article changed since you read it; reload it.")
    article = {**_article(entity).model_dump(), "title": data.title, "body": data.body,
               "category": data.category, "public": data.public, "updated_at": desk.clock()}
    tokens, title_words = article_words(data.title, data.body)
    try:
        etag = await desk.kb.save({**article, "title_words": title_words}, tokens,
                                  old_words=str(entity.get("words", "")).split(),
                                  etag=entity["etag"], new=False)
    except StaleArticle:
        raise PreconditionFailed("The article changed since you read it; reload it.") from None
    return Article.model_validate({**article, "etag": etag})


def _query(text: str) -> list[str]:
    if not text.strip() or len(text) > 300:
        raise ValidationFailed("Give one to 300 characters to search for.",
                               errors=[{"field": "q", "message": "1 to 300 characters"}])
    return query_tokens(text)[:QUERY_WORDS]


async def search(text: str, *, desk: Helpdesk, public_only: bool, limit: int = RESULTS) -> list[ArticleHit]:
    tokens = _query(text)
    if not tokens:
        return []
    return await _ranked(tokens, desk=desk, public_only=public_only, limit=limit)


async def _ranked(tokens: list[str], *, desk: Helpdesk, public_only: bool, limit: int) -> list[ArticleHit]:
    per_word = await desk.kb.word_rows(tokens, limit=WORD_ROWS, public_only=public_only)
    scores: dict[str, float] = {}
    shown: dict[str, dict[str, Any]] = {}
    for rows in per_word:
        weight = math.log(1 + WORD_ROWS / max(len({r["id"] for r in rows}), 1))
        best: dict[str, float] = {}
        for row in rows:  # a prefix may match several words of one article: count it once
            best[row["id"]] = max(best.get(row["id"], 0), weight * (2 if row.get("in_title") else 1))
            shown[row["id"]] = row
        for article_id, value in best.items():
            scores[article_id] = scores.get(article_id, 0) + value
    ranked = sorted(scores, key=lambda a: (-scores[a], str(shown[a].get("title", ""))))[:limit]
    return [ArticleHit(id=a, title=shown[a]["title"], snippet=shown[a]["snippet"],
                       category=shown[a]["category"], public=bool(shown[a]["public"]),
                       score=round(scores[a], 3)) for a in ranked]


async def similar(number: str, *, desk: Helpdesk, limit: int = 5) -> Similar:
    """The resolved tickets and the articles that share the most words with a ticket."""
    stored = await desk.tickets.get(number)
    if stored is None:
        raise NotFound(f"No ticket {number}.")
    t = stored.ticket
    tokens = query_tokens(f"{t.subject} {t.description[:500]}")[:QUERY_WORDS]
    if not tokens:
        return Similar(tickets=[], articles=[])
    # One range read per word and finished status, all at once.
    reads = await asyncio.gather(*(desk.tickets.list_index(word_prefix(w), limit=WORD_ROWS,
                                                           filters=[("status", status)])
                                   for w in tokens for status in DONE))
    scores: dict[str, float] = {}
    rows_by_number: dict[str, dict[str, Any]] = {}
    for rows in (reads[i] + reads[i + 1] for i in range(0, len(reads), 2)):
        numbers = {r["number"] for r in rows if r["number"] != number}
        weight = math.log(1 + WORD_ROWS / max(len(numbers), 1))
        for row in rows:
            if row["number"] != number:
                rows_by_number[row["number"]] = row
        for n in numbers:
            scores[n] = scores.get(n, 0) + weight
    ranked = sorted(scores, key=lambda n: (-scores[n], n))[:limit]
    articles = await _ranked(tokens, desk=desk, public_only=False, limit=limit)
    return Similar(tickets=[item(rows_by_number[n]) for n in ranked], articles=articles)
