"""The knowledge base: articles promoted from resolutions, found by their words, and the
resolved tickets most like an open one.

Both searches run in the worker's memory (shared/kb/searchindex.py) over the search logs
(shared/storage/searchlog.py): the `kb` log gets a line for every saved article, the
`resolved` log one for every resolution (and a `gone` line when a ticket is reopened).
A search reads nothing from storage but what was appended since the worker last looked,
so it answers in milliseconds whatever the size of the knowledge base; the articles
themselves stay in the `knowledge` table, the source of truth for reading and editing.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.core.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed, field_errors
from shared.core.lifecycle import Status, is_done
from shared.core.models import ThreadEntry
from shared.core.words import query_tokens, ticket_tokens, words
from shared.storage.indexing import summary
from shared.storage.kb import StaleArticle
from shared.storage.tickets import StoredTicket
from shared.tickets.queues import QueueItem, item

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

MAX_WORDS = 60
BODY_WORD_CHARS = 4000
QUERY_WORDS = 6
KB_LOG = "kb"
RESOLVED_LOG = "resolved"
RESULTS = 10

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
        if not is_done(stored.ticket.status) or not stored.ticket.resolution:
            raise Conflict("Only a resolved ticket's notes can become an article.")
        text = text or stored.ticket.resolution
    if not text:
        raise ValidationFailed("Invalid article.", errors=[{"field": "body", "message": "required"}])
    now = desk.clock()
    article = {"id": secrets.token_hex(6), "title": data.title, "body": text, "category": data.category,
               "public": data.public, "from_ticket": data.from_ticket, "author": author,
               "created_at": now, "updated_at": now}
    etag = await desk.kb.save(article, etag=None, new=True)
    await _log_article(article, desk)
    return Article.model_validate({**article, "etag": etag})


async def _log_article(article: dict[str, Any], desk: Helpdesk) -> None:
    """The article's searchable state, appended to the `kb` log and applied here at once."""
    tokens, title_words = article_words(article["title"], article["body"])
    line = {"id": article["id"], "title": article["title"], "snippet": article["body"][:240],
            "category": article["category"], "public": article["public"], "words": tokens,
            "title_words": title_words}
    await desk.search_logs.append(KB_LOG, line)
    desk.search.articles.apply(line)


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
    article = {**_article(entity).model_dump(exclude={"etag"}), "title": data.title, "body": data.body,
               "category": data.category, "public": data.public, "updated_at": desk.clock()}
    try:
        etag = await desk.kb.save(article, etag=entity["etag"], new=False)
    except StaleArticle:
        raise PreconditionFailed("The article changed since you read it; reload it.") from None
    await _log_article(article, desk)
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
    await desk.search_logs.refresh(desk.search.articles_view)
    return _articles(tokens, desk=desk, public_only=public_only, limit=limit)


def _articles(tokens: list[str], *, desk: Helpdesk, public_only: bool, limit: int) -> list[ArticleHit]:
    ranked = desk.search.articles.rank(tokens, public_only=public_only, limit=limit)
    return [ArticleHit(id=d["id"], title=d["title"], snippet=d["snippet"], category=d["category"],
                       public=bool(d["public"]), score=score) for d, score in ranked]


async def record_resolution(stored: StoredTicket, entry: ThreadEntry, *, desk: Helpdesk) -> None:
    """Keep the `resolved` log in step with a resolution, a closing or a reopening. What
    is appended is the ticket's state now, so a redelivered or late event appends the
    same state again (or nothing), which changes nothing."""
    to, came_from = entry.data.get("to"), entry.data.get("from")
    t = stored.ticket
    if is_done(to) and not is_done(came_from) and is_done(t.status):
        # A queue row's summary, less the category fields' values (nothing lists them).
        shown = {k: v for k, v in summary(t).items() if k != "fields"}
        line = {"id": t.number, "words": ticket_tokens(t.subject, "", t.description),
                **shown, "status": Status.RESOLVED.value}
    elif is_done(came_from) and not is_done(to) and not is_done(t.status):
        line = {"id": t.number, "gone": True}
    else:
        return
    await desk.search_logs.append(RESOLVED_LOG, line)
    desk.search.resolved.apply(line)  # this worker sees it at once; others within REFRESH


async def similar(number: str, *, desk: Helpdesk, limit: int = 5) -> Similar:
    """The resolved tickets and the articles that share the most words with a ticket."""
    stored = await desk.tickets.get(number)
    if stored is None:
        raise NotFound(f"No ticket {number}.")
    t = stored.ticket
    tokens = query_tokens(f"{t.subject} {t.description[:500]}")[:QUERY_WORDS]
    if not tokens:
        return Similar(tickets=[], articles=[])
    await asyncio.gather(desk.search_logs.refresh(desk.search.resolved_view),
                         desk.search_logs.refresh(desk.search.articles_view))
    tickets = desk.search.resolved.rank(tokens, leave_out=number, limit=limit)
    return Similar(tickets=[item(d) for d, _ in tickets],
                   articles=_articles(tokens, desk=desk, public_only=False, limit=limit))
