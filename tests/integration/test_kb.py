"""The knowledge base on a real Azurite: promotion from a resolution, ranking on a small
corpus whose best answers are known, public and internal articles, edits, look-alikes."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from shared.core.errors import Conflict, PreconditionFailed, ValidationFailed
from shared.core.lifecycle import Action
from shared.helpdesk import Helpdesk
from shared.kb import knowledge
from shared.kb.searchindex import SearchIndexes
from shared.tickets import actionbodies, intake, workflow
from tests.conftest import unique_email
from tests.integration.test_reports import deliver_all


def word() -> str:
    """A made-up word only this test's articles hold (the table is shared)."""
    return "zq" + uuid.uuid4().hex[:8]


async def resolved_ticket(desk: Helpdesk, subject: str, description: str, resolution: str) -> str:
    number = (await intake.submit_ticket({"name": "R", "email": unique_email("kb"), "subject": subject,
                                          "description": description}, [], desk=desk)).number
    await workflow.act(number, Action.RESOLVE, actionbodies.parse_body(Action.RESOLVE, {"resolution": resolution}),
                       actor="agent1", roles=frozenset({"agent"}), if_match=None, desk=desk)
    await deliver_all(desk, number)  # what the queue handler does: the resolution is logged
    return number


async def test_a_resolution_becomes_an_article_that_search_finds(desk: Helpdesk):
    tag = word()
    number = await resolved_ticket(desk, f"VPN {tag} drops every hour", "d",
                                   f"Renewed the {tag} certificate on the VPN gateway.")
    article = await knowledge.create({"title": f"VPN {tag} drops hourly", "from_ticket": number,
                               "category": "network", "public": True}, author="agent1", desk=desk)
    assert article.body == f"Renewed the {tag} certificate on the VPN gateway."
    assert article.from_ticket == number
    hits = await knowledge.search(f"{tag} vpn", desk=desk, public_only=True)
    assert hits[0].id == article.id
    assert (await knowledge.read(article.id, desk=desk)).title == f"VPN {tag} drops hourly"


async def test_only_a_resolved_ticket_can_be_promoted(desk: Helpdesk):
    number = (await intake.submit_ticket({"name": "R", "email": unique_email("kb"), "subject": "s",
                                          "description": "d"}, [], desk=desk)).number
    with pytest.raises(Conflict):
        await knowledge.create({"title": "Not yet", "from_ticket": number}, author="a", desk=desk)
    with pytest.raises(ValidationFailed):
        await knowledge.create({"title": "No body and no ticket"}, author="a", desk=desk)


async def test_ranking_puts_the_known_best_answer_first(desk: Helpdesk):
    """A small corpus of its own (every word carries the test's tag, so the other tests'
    articles in the shared search log share none of them) with known best answers."""
    t = word()
    printer, offline, driver, firmware = f"printer{t}", f"offline{t}", f"driver{t}", f"firmware{t}"
    corpus = {
        "printer": (f"{printer} shows {offline}", f"Restart the spooler{t} service."),
        "outlook": (f"Outlook{t} asks for the password{t} again", f"Clear the cache{t}."),
        "printer_driver": (f"Install a {driver}", f"Drivers for the {printer} are on the share{t}."),
        "internal": (f"{printer} {firmware}", "Only for staff."),
    }
    ids = {}
    for key, (title, body) in corpus.items():
        ids[key] = (await knowledge.create({"title": title, "body": body, "public": key != "internal"},
                                    author="a", desk=desk)).id
    # both words in the title beat one in the body; the internal article is not public
    public = [h.id for h in await knowledge.search(f"{printer} {offline}", desk=desk, public_only=True)]
    assert public == [ids["printer"], ids["printer_driver"]]
    everything = [h.id for h in await knowledge.search(f"{printer} {firmware}", desk=desk, public_only=False)]
    assert everything[0] == ids["internal"]
    # a word's beginning finds it ("password…" cut short)
    assert [h.id for h in await knowledge.search(f"password{t}"[:-3], desk=desk, public_only=True)] == [ids["outlook"]]


async def test_an_edit_replaces_the_words_and_refuses_a_stale_version(desk: Helpdesk):
    old, new = word(), word()
    article = await knowledge.create({"title": f"About {old}", "body": "text", "public": True}, author="a", desk=desk)
    edited = await knowledge.edit(article.id, {"title": f"About {new}", "body": "text", "public": True},
                           if_match=article.etag, desk=desk)
    assert [h.id for h in await knowledge.search(new, desk=desk, public_only=True)] == [article.id]
    assert await knowledge.search(old, desk=desk, public_only=True) == []
    with pytest.raises(PreconditionFailed):
        await knowledge.edit(article.id, {"title": "Again", "body": "t"}, if_match=article.etag, desk=desk)
    assert edited.etag != article.etag


async def test_similar_lists_resolved_tickets_that_share_words(desk: Helpdesk):
    tag = word()
    alike = await resolved_ticket(desk, f"Scanner {tag} jams on duplex", "d", "Cleaned the rollers.")
    await resolved_ticket(desk, "Unrelated request", "d", "Done.")
    fresh = (await intake.submit_ticket({"name": "R", "email": unique_email("kb"),
                                         "subject": f"{tag} scanner jams again", "description": "duplex"},
                                        [], desk=desk)).number
    found = await knowledge.similar(fresh, desk=desk)
    numbers = [t.number for t in found.tickets]
    assert numbers[0] == alike and fresh not in numbers
    # reopened, it is no longer offered as an answer
    await workflow.act(alike, Action.REOPEN, actionbodies.parse_body(Action.REOPEN, {"comment": "again"}),
                       actor="agent1", roles=frozenset({"agent"}), if_match=None, desk=desk)
    await deliver_all(desk, alike)
    assert alike not in [t.number for t in (await knowledge.similar(fresh, desk=desk)).tickets]


async def test_a_worker_sees_another_workers_articles_and_a_rebuilt_log(desk: Helpdesk):
    """Two workers (two Helpdesk instances): what one saves, the other finds once it looks
    at the log again; a log rewritten from scratch is read again from its start."""
    tag = word()
    other = dataclasses.replace(desk, search=SearchIndexes.new())
    article = await knowledge.create({"title": f"Shared {tag} answer", "body": "b", "public": True},
                              author="a", desk=desk)
    await desk.search_logs.refresh(other.search.articles_view, force=True)
    assert [h.id for h in await knowledge.search(tag, desk=other, public_only=True)] == [article.id]
    lines = [doc for doc in other.search.articles.docs.values() if doc["id"] != article.id]
    await desk.search_logs.clear(knowledge.KB_LOG)
    await desk.search_logs.append_many(knowledge.KB_LOG, lines)  # a rebuild that no longer has it
    await desk.search_logs.refresh(other.search.articles_view, force=True)
    assert await knowledge.search(tag, desk=other, public_only=True) == []
    await desk.search_logs.append(knowledge.KB_LOG, other_line(article))
    await desk.search_logs.refresh(other.search.articles_view, force=True)
    assert [h.id for h in await knowledge.search(tag, desk=other, public_only=True)] == [article.id]


def other_line(article: knowledge.Article) -> dict:
    words, title_words = knowledge.article_words(article.title, article.body)
    return {"id": article.id, "title": article.title, "snippet": article.body, "category": article.category,
            "public": article.public, "words": words, "title_words": title_words}
