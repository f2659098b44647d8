"""Rewrite the search logs from the tables: every article into the `kb` log, every
resolved or closed ticket into the `resolved` log.

    python -m tools.rebuild_search            # with the app's settings in the environment

Workers pick the new logs up within seconds (a new part is read from its start). Use it
after a change to what the logs hold, or if an append was lost (an article saved while
Blob Storage failed answers 503 and says to retry; this puts things right either way).
"""

from __future__ import annotations

import asyncio
import os
import sys

from shared.core.lifecycle import Status, is_done
from shared.core.settings import Settings
from shared.core.words import ticket_tokens
from shared.helpdesk import Helpdesk
from shared.kb import knowledge
from shared.storage.indexing import summary


async def main() -> int:
    desk = await Helpdesk.start(Settings.from_env(os.environ))
    try:
        articles = []
        for row in await desk.kb.all():
            words, title_words = knowledge.article_words(row["title"], row["body"])
            articles.append({"id": row["id"], "title": row["title"], "snippet": row["body"][:240],
                             "category": row["category"], "public": row["public"], "words": words,
                             "title_words": title_words})
        await desk.search_logs.clear(knowledge.KB_LOG)
        await desk.search_logs.append_many(knowledge.KB_LOG, articles)
        resolved = []
        numbers = [r["number"] for r in await desk.tickets.active_rows(
            [("status", "eq", Status.RESOLVED.value)], select=["number"])]
        after = None
        while rows := await desk.tickets.closed_rows([], after=after, limit=1000,
                                                     select=["number"]):
            numbers += [r["number"] for r in rows]
            after = rows[-1]["RowKey"]
        for number in numbers:
            stored = await desk.tickets.get(number)
            if stored is not None and is_done(stored.ticket.status):
                t = stored.ticket
                resolved.append({"id": t.number, "words": ticket_tokens(t.subject, "", t.description),
                                 **summary(t), "status": Status.RESOLVED.value})
        await desk.search_logs.clear(knowledge.RESOLVED_LOG)
        await desk.search_logs.append_many(knowledge.RESOLVED_LOG, resolved)
        print(f"rewrote the search logs: {len(articles)} articles, {len(resolved)} resolved tickets")
    finally:
        await desk.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
