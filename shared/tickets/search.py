"""The agents' search box: a ticket number, a requester's email, or words.

Every kind is a read of one key or one index range, never a scan:
- 8 digits with a valid check digit: that ticket (one partition read);
- an email address: the requester's tickets (the newest of the requester's partition in
  `ticketrequesters`);
- anything else: its longest word as a prefix range of the `ticketwords` partitions
  (`shared/core/words.py`), the other words checked on the `words` those rows carry.
Requester and word rows never change after they are written, so the listed tickets' heads
are read (one point read each, in parallel) for what they are now; the newest created come
first. Word rows are written by the created event's handler: a ticket is found by its
words a moment after intake.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from shared.core.errors import ValidationFailed
from shared.core.numbering import is_valid
from shared.core.words import matches, query_tokens
from shared.storage.indexing import summary
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
        rows = await desk.tickets.requester_rows(text, limit=LIMIT + 1)
        items = await _current([r["number"] for r in rows[:LIMIT]], desk=desk)
        return SearchResult(kind="email", query=text, items=items, truncated=len(rows) > LIMIT)
    tokens = query_tokens(text)
    if not tokens:
        raise ValidationFailed("Search for a number, an email address or some words "
                               "(common words such as 'the' are not indexed).",
                               errors=[{"field": "q", "message": "no searchable words"}])
    rows = await desk.tickets.word_rows(tokens[0], limit=WORD_ROWS)
    found: dict[str, Any] = {}
    for row in rows:
        if row["number"] not in found and matches(tokens[1:], row.get("words", "").split()):
            found[row["number"]] = row["RowKey"]  # newest first
    newest = sorted(found, key=lambda number: found[number])
    items = await _current(newest[:LIMIT], desk=desk)
    return SearchResult(kind="words", query=text, items=items,
                        truncated=len(found) > LIMIT or len(rows) >= WORD_ROWS)


async def _current(numbers: list[str], *, desk: Helpdesk) -> list[QueueItem]:
    """The tickets as they are now, in the order given."""
    heads = await desk.tickets.heads(numbers)
    return [item(summary(heads[n])) for n in numbers if n in heads]
