"""The agents' search box: a ticket number, a requester's email, or words.

Every kind is a read of one key or one index range, never a scan:
- 8 digits with a valid check digit: that ticket (one partition read);
- an email address: the requester's tickets (`requester|<email>` rows);
- anything else: its longest word as a prefix range of `word|` rows (`shared/core/words.py`),
  the other words checked on the `words` those rows carry.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from shared.core.errors import ValidationFailed
from shared.core.numbering import is_valid
from shared.core.words import matches, query_tokens
from shared.storage.indexing import queue_prefix, summary, word_prefix
from shared.tickets.queues import QueueItem, item

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

LIMIT = 50
# Rows read for a word at most: a very common word gives its first rows, not a scan.
WORD_ROWS = 1000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SearchResult(BaseModel):
    kind: Literal["number", "email", "words"]
    query: str
    items: list[QueueItem]
    truncated: bool = Field(False, description="more tickets match than are listed")


async def search(query: str, *, desk: Helpdesk) -> SearchResult:
    text = query.strip()
    if not text or len(text) > 200:
        raise ValidationFailed("Give one to 200 characters to search for.",
                               errors=[{"field": "q", "message": "1 to 200 characters"}])
    if text.isdigit() and len(text) == 8:
        stored = await desk.tickets.get(text) if is_valid(text) else None
        items = [item(summary(stored.ticket))] if stored else []
        return SearchResult(kind="number", query=text, items=items)
    if _EMAIL.match(text):
        rows = await desk.tickets.list_index(queue_prefix("requester", text.lower()),
                                             limit=LIMIT + 1)
        newest = sorted((item(r) for r in rows), key=lambda i: i.created_at, reverse=True)
        return SearchResult(kind="email", query=text, items=newest[:LIMIT],
                            truncated=len(rows) > LIMIT)
    tokens = query_tokens(text)
    if not tokens:
        raise ValidationFailed("Search for a number, an email address or some words "
                               "(common words such as 'the' are not indexed).",
                               errors=[{"field": "q", "message": "no searchable words"}])
    rows = await desk.tickets.list_index(word_prefix(tokens[0]), limit=WORD_ROWS)
    found: dict[str, QueueItem] = {}
    for row in rows:
        if row["number"] not in found and matches(tokens[1:], row.get("words", "").split()):
            found[row["number"]] = item(row)
    newest = sorted(found.values(), key=lambda i: i.updated_at, reverse=True)
    return SearchResult(kind="words", query=text, items=newest[:LIMIT],
                        truncated=len(found) > LIMIT or len(rows) >= WORD_ROWS)
