"""Words for the agents' search: a ticket's tokens and a query's. Pure: no I/O.

A ticket is found by the words of its subject, its requester's name and the start of its
description. Those never change after intake, so its tokens are computed from the ticket
alone and kept as rows of the `ticketsearch` table, one per token, written once (see
`shared/storage/indexing.py`). At most `MAX_TOKENS` per ticket bounds what a ticket costs
there.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TOKENS = 30
MIN_LENGTH = 2
MAX_LENGTH = 30
DESCRIPTION_CHARS = 1000

STOP_WORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have he her
him his how i if in into is it its me my no not of on or our she so than that the their
them then there these they this to too us was we were what when where which who why will
with would you your hi hello please thanks thank regards dear
""".split())

_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case without accents: "Café" and "cafe" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The text's search words in order, repeats kept; stop words and 1-letter words dropped."""
    return [w[:MAX_LENGTH] for w in _WORD.findall(normalise(text))
            if len(w) >= MIN_LENGTH and w not in STOP_WORDS]


def ticket_tokens(subject: str, requester_name: str, description: str) -> list[str]:
    """Up to `MAX_TOKENS` distinct words: the subject's first, then the name's, then the
    description's start."""
    seen: dict[str, None] = {}
    for text in (subject, requester_name, description[:DESCRIPTION_CHARS]):
        for word in words(text):
            if len(seen) >= MAX_TOKENS:
                return list(seen)
            seen.setdefault(word, None)
    return list(seen)


def query_tokens(query: str) -> list[str]:
    """A query's distinct words, the most selective (longest) first: the first is read as an
    index range, the others are checked on the rows it returns."""
    distinct = list(dict.fromkeys(words(query)))
    return sorted(distinct, key=len, reverse=True)


def matches(tokens: list[str], ticket_words: list[str]) -> bool:
    """Every query token begins some word of the ticket (so "print" finds "printer")."""
    return all(any(w.startswith(t) for w in ticket_words) for t in tokens)
