"""Word indexes held in a worker's memory, fed by the search logs (shared/storage/searchlog.py).

A document is a dict with an `id` and its `words` (the title's first when it has a title:
`title_words` says how many). Prefix lookups ("pass" finds "password") go through the
sorted vocabulary with bisect, so a query costs a few set operations, not a scan of the
documents. Ranking: each query word adds its inverse document frequency to the documents
that have it, doubled when it is in the title.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.storage.searchlog import LogView


class WordIndex:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self._postings: dict[str, set[str]] = {}
        self._vocabulary: list[str] | None = []

    def reset(self) -> None:
        self.docs.clear()
        self._postings.clear()
        self._vocabulary = []

    def apply(self, line: dict[str, Any]) -> None:
        """One change from the log: a document's new state, or `gone`."""
        doc_id = str(line["id"])
        old = self.docs.pop(doc_id, None)
        for word in old["words"] if old else []:
            ids = self._postings.get(word)
            if ids is not None:
                ids.discard(doc_id)
                if not ids:
                    del self._postings[word]
                    self._vocabulary = None
        if line.get("gone"):
            return
        self.docs[doc_id] = line
        for word in line["words"]:
            if word not in self._postings:
                self._postings[word] = set()
                self._vocabulary = None
            self._postings[word].add(doc_id)

    def matching(self, prefix: str) -> set[str]:
        """The documents with a word that begins with `prefix`."""
        if self._vocabulary is None:
            self._vocabulary = sorted(self._postings)
        vocabulary = self._vocabulary
        found: set[str] = set()
        start = bisect.bisect_left(vocabulary, prefix)
        for word in vocabulary[start:]:
            if not word.startswith(prefix):
                break
            found |= self._postings[word]
        return found

    def rank(self, tokens: list[str], *, keep: Callable[[dict[str, Any]], bool] = lambda d: True,
             limit: int = 10) -> list[tuple[dict[str, Any], float]]:
        scores: dict[str, float] = {}
        for token in tokens:
            ids = [i for i in self.matching(token) if keep(self.docs[i])]
            if not ids:
                continue
            weight = math.log(1 + len(self.docs) / len(ids))
            for doc_id in ids:
                doc = self.docs[doc_id]
                title = doc["words"][:doc.get("title_words", 0)]
                bonus = 2 if any(w.startswith(token) for w in title) else 1
                scores[doc_id] = scores.get(doc_id, 0) + weight * bonus
        best = sorted(scores, key=lambda i: (-scores[i], i))[:limit]
        return [(self.docs[i], round(scores[i], 3)) for i in best]


@dataclass
class SearchIndexes:
    """A worker's indexes and what it has read of their logs."""

    articles: WordIndex
    resolved: WordIndex
    articles_view: LogView
    resolved_view: LogView

    @classmethod
    def new(cls) -> SearchIndexes:
        articles, resolved = WordIndex(), WordIndex()
        return cls(articles=articles, resolved=resolved,
                   articles_view=LogView("kb", articles.apply, articles.reset),
                   resolved_view=LogView("resolved", resolved.apply, resolved.reset))
