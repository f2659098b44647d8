"""Word indexes held in a worker's memory, fed by the search logs (shared/storage/searchlog.py).

A document is a dict with an `id` and its `words` (the title's first when it has a title:
`title_words` says how many). Prefix lookups ("pass" finds "password") go through the
sorted vocabulary with bisect, so a query costs a few set operations, not a scan of the
documents. Ranking: each query word adds its inverse document frequency to the documents
that have it, doubled when it is in the title.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from typing import Any

from shared.storage.searchlog import LogView

# A word in more than this share of the documents says little about any of them: it is
# left out of the ranking when the query has rarer words (it would cost the most).
COMMON = 0.2
COMMON_FLOOR = 200  # a small collection ranks with every word
CANDIDATES = 2000


class _Postings:
    """word -> documents, with a sorted vocabulary for prefix lookups."""

    def __init__(self) -> None:
        self.ids: dict[str, set[str]] = {}
        self._vocabulary: list[str] | None = []

    def add(self, word: str, doc_id: str) -> None:
        if word not in self.ids:
            self.ids[word] = set()
            self._vocabulary = None
        self.ids[word].add(doc_id)

    def remove(self, word: str, doc_id: str) -> None:
        ids = self.ids.get(word)
        if ids is not None:
            ids.discard(doc_id)
            if not ids:
                del self.ids[word]
                self._vocabulary = None

    def matching(self, prefix: str) -> set[str]:
        if self._vocabulary is None:
            self._vocabulary = sorted(self.ids)
        vocabulary = self._vocabulary
        words = []
        for word in vocabulary[bisect.bisect_left(vocabulary, prefix):]:
            if not word.startswith(prefix):
                break
            words.append(self.ids[word])
        return set().union(*words) if words else set()


class WordIndex:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.public: set[str] = set()
        self._words = _Postings()
        self._titles = _Postings()

    def reset(self) -> None:
        self.docs.clear()
        self.public.clear()
        self._words = _Postings()
        self._titles = _Postings()

    def apply(self, line: dict[str, Any]) -> None:
        """One change from the log: a document's new state, or `gone`."""
        doc_id = str(line["id"])
        old = self.docs.pop(doc_id, None)
        self.public.discard(doc_id)
        if old is not None:
            for word in old["words"]:
                self._words.remove(word, doc_id)
            for word in old["words"][:old.get("title_words", 0)]:
                self._titles.remove(word, doc_id)
        if line.get("gone"):
            return
        self.docs[doc_id] = line
        if line.get("public"):
            self.public.add(doc_id)
        for word in line["words"]:
            self._words.add(word, doc_id)
        for word in line["words"][:line.get("title_words", 0)]:
            self._titles.add(word, doc_id)

    def matching(self, prefix: str) -> set[str]:
        """The documents with a word that begins with `prefix`."""
        return self._words.matching(prefix)

    def rank(self, tokens: list[str], *, public_only: bool = False, leave_out: str | None = None,
             limit: int = 10) -> list[tuple[dict[str, Any], float]]:
        found = []
        for token in tokens:
            ids = self._words.matching(token)
            if public_only:
                ids &= self.public
            ids.discard(leave_out or "")
            if ids:
                found.append((token, ids))
        rare = [(t, ids) for t, ids in found if len(ids) <= max(COMMON * len(self.docs), COMMON_FLOOR)]
        if found and not rare:
            rare = [min(found, key=lambda pair: len(pair[1]))]
        if len(rare) == 1:
            # One word decides: its documents with it in the title first, then the rest.
            token, ids = rare[0]
            weight = math.log(1 + len(self.docs) / len(ids))
            titled = ids & self._titles.matching(token)
            first = heapq.nsmallest(limit, titled)
            rest = heapq.nsmallest(limit - len(first), ids - titled) if len(first) < limit else []
            return ([(self.docs[i], round(2 * weight, 3)) for i in first]
                    + [(self.docs[i], round(weight, 3)) for i in rest])
        # Score the documents that have the rarest words (enough of them to fill any page);
        # one with only commoner words would rank below them anyway.
        rare.sort(key=lambda pair: len(pair[1]))
        candidates: set[str] = set()
        for _, ids in rare:
            if candidates and len(candidates) + len(ids) > CANDIDATES:
                break
            candidates |= ids
        if len(candidates) > CANDIDATES and len(rare) > 1:
            # Even the rarest word is common: keep the documents that share the most of the
            # words (counted in C by Counter), then weigh only those.
            matched = Counter(chain.from_iterable(ids for _, ids in rare))
            by_count: dict[int, list[str]] = {}
            for doc_id, count in matched.items():
                by_count.setdefault(count, []).append(doc_id)
            candidates = set()
            for count in sorted(by_count, reverse=True):
                candidates.update(by_count[count])
                if len(candidates) >= CANDIDATES:
                    break
        weighed = [(ids, math.log(1 + len(self.docs) / len(ids)), self._titles.matching(token))
                   for token, ids in rare]
        scores = {doc_id: sum((2 * weight if doc_id in titled else weight)
                              for ids, weight, titled in weighed if doc_id in ids)
                  for doc_id in candidates}
        best = heapq.nsmallest(limit, scores.items(), key=lambda pair: (-pair[1], pair[0]))
        return [(self.docs[i], round(score, 3)) for i, score in best]


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
