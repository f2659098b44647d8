"""A desk started with the old index (one partition `idx` of `ticketindex`, or the first
search layout: a partition per word in `ticketwords`) on a real Azurite:
`shared/tickets/reindex.py` (python -m tools.reindex) rebuilds the new index from the
tickets table, resumes after a stop, removes the old rows, and a second run does nothing;
the repair runs it when it finds the old layout."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.core import numbering
from shared.core.lifecycle import Status
from shared.core.models import Channel, EntryKind, Priority, ThreadEntry, Ticket
from shared.helpdesk import Helpdesk
from shared.storage.indexing import OLD_PARTITION, OLD_WORDS_TABLE
from shared.tickets import reindex, repair
from shared.tickets.queues import QueueQuery, list_queue
from shared.tickets.search import search
from tools import reindex as tool

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def old_keys(ticket: Ticket) -> list[str]:
    """Some of the rows the old layout wrote for a ticket (29 of them in all)."""
    stamp = ticket.created_at.strftime("%Y%m%dT%H%M%S%fZ")
    return [f"status|{ticket.status.value}|created|{stamp}|{ticket.number}",
            f"all|*|created|{stamp}|{ticket.number}",
            f"requester|{ticket.requester_email}|created|{stamp}|{ticket.number}",
            f"word|{ticket.subject.split()[0].lower()}|{ticket.number}"]


async def old_desk_ticket(desk: Helpdesk, tag: str, **fields) -> Ticket:
    """A ticket as the old code left it: its head listing old keys, its rows in `idx`."""
    ticket = Ticket(**{
        "number": numbering.new_number(), "subject": f"Reindexed{tag} monitor",
        "description": "Old desk", "requester_name": "Old", "priority": Priority.NORMAL,
        "requester_email": f"old-{tag}@example.org", "category": "general",
        "status": "open", "channel": Channel.WEB, "created_at": T0, "updated_at": T0,
        "last_seq": 1, "assignee": f"old-agent-{tag}", **fields})
    entry = ThreadEntry(seq=1, kind=EntryKind.CREATED, at=T0, actor="seed", public=True)
    await desk.tickets.create(ticket, [entry], [])
    head = await desk.clients.table("tickets").get_entity(ticket.number, "ticket")
    head["index_keys"] = json.dumps(old_keys(ticket))
    await desk.clients.table("tickets").update_entity(head, mode=UpdateMode.REPLACE)
    index = desk.clients.table("ticketindex")
    for key in old_keys(ticket):
        await index.upsert_entity({"PartitionKey": OLD_PARTITION, "RowKey": key,
                                   "number": ticket.number, "status": ticket.status.value})
    return ticket


async def mine(desk: Helpdesk, tag: str, **query) -> list[str]:
    page = await list_queue(QueueQuery(assignee="me", **query), me=f"old-agent-{tag}",
                            desk=desk)
    return [i.number for i in page.items]


async def test_reindex_rebuilds_the_index_resumes_and_removes_the_old_rows(desk: Helpdesk):
    tag = uuid.uuid4().hex[:8]
    tickets = [await old_desk_ticket(desk, tag, created_at=T0 + timedelta(minutes=i),
                                     updated_at=T0 + timedelta(minutes=i))
               for i in range(3)]
    closed = await old_desk_ticket(desk, tag, status="closed", closed_at=T0)
    assert await reindex.needed(desk)
    assert await mine(desk, tag) == []  # the new index does not know them yet

    # Stopped after its first page (a time budget of zero), then resumed.
    first = await reindex.reindex(desk, page=2, budget=0)
    assert not first.finished and first.tickets == 2
    assert (await desk.tickets.reindex_state() or {}).get("done") is False
    assert await desk.tickets.old_layout()
    second = await reindex.reindex(desk, page=50)
    assert second.finished and second.resumed_after and second.old_rows_removed >= 16
    assert not await desk.tickets.old_layout() and not await reindex.needed(desk)

    # The queues, the closed list, the requester's list and word search all find them.
    assert await mine(desk, tag) == [t.number for t in tickets]
    assert await mine(desk, tag, sort="updated") == [t.number for t in reversed(tickets)]
    assert await mine(desk, tag, status="closed") == [closed.number]
    found = await search(f"reindexed{tag}", desk=desk)
    assert {i.number for i in found.items} == {t.number for t in [*tickets, closed]}
    by_email = await search(f"old-{tag}@example.org", desk=desk)
    assert {i.number for i in by_email.items} == {t.number for t in [*tickets, closed]}

    # A second run finds nothing to do and writes nothing.
    before = sum(desk.tickets.written.values())
    again = await reindex.reindex(desk)
    assert again.finished and again.tickets == 0
    assert sum(desk.tickets.written.values()) == before

    # The first change of a reindexed ticket leaves the old keys its head lists alone.
    stored = await desk.tickets.get(tickets[0].number)
    assert stored is not None and stored.index_keys == old_keys(tickets[0])
    moved = stored.ticket.model_copy(update={"status": Status.PENDING})
    assert await desk.tickets.write_index(moved, had=stored.index_keys) == 2  # + requester
    assert await mine(desk, tag, status="pending") == [tickets[0].number]


async def test_a_desk_with_the_first_search_layout_is_moved_off_it(desk: Helpdesk):
    """Search words written a partition per word (this desk's first layout): the reindex
    writes every ticket's words into `ticketsearch`, then drops `ticketwords`."""
    tag = uuid.uuid4().hex[:8]
    # A ticket stored as the new code stores it ...
    ticket = Ticket(number=numbering.new_number(), subject=f"Wordy{tag} scanner",
                    description="Old search rows", requester_name="Old", priority=Priority.NORMAL,
                    requester_email=f"words-{tag}@example.org", category="general",
                    status="open", channel=Channel.WEB, created_at=T0, updated_at=T0, last_seq=1)
    await desk.tickets.create(ticket, [ThreadEntry(seq=1, kind=EntryKind.CREATED, at=T0,
                                                   actor="seed", public=True)], [])
    await desk.tickets.write_index(ticket, had=[])
    # ... but with its words where the first layout put them.
    old = desk.clients.table(OLD_WORDS_TABLE)
    with contextlib.suppress(ResourceExistsError):  # made by an earlier test of the session
        await old.create_table()
    await old.upsert_entity({"PartitionKey": f"wordy{tag}", "RowKey": f"9|{ticket.number}",
                             "number": ticket.number, "words": f"wordy{tag} scanner"})
    assert await desk.tickets.old_layout() and await reindex.needed(desk)
    assert (await search(f"wordy{tag}", desk=desk)).items == []  # not in the new table yet

    report = await reindex.reindex(desk, again=True)
    assert report.finished and report.old_words_dropped
    assert [i.number for i in (await search(f"wordy{tag}", desk=desk)).items] == [ticket.number]
    assert not await desk.tickets.old_layout() and not await reindex.needed(desk)
    try:
        rows = [e async for e in old.list_entities()]
    except ResourceNotFoundError:
        rows = []
    assert rows == []


async def test_the_repair_reindexes_when_it_finds_the_old_layout(desk: Helpdesk):
    tag = uuid.uuid4().hex[:8]
    ticket = await old_desk_ticket(desk, tag)
    report = await repair.repair(desk)
    assert report.reindexed >= 1
    assert not await desk.tickets.old_layout()
    assert await mine(desk, tag) == [ticket.number]
    assert (await repair.repair(desk)).reindexed == 0


async def test_the_command_runs_it(desk: Helpdesk, monkeypatch, capsys, test_services):
    from tests.conftest import app_env

    for name, value in app_env(test_services).items():
        monkeypatch.setenv(name, value)
    tag = uuid.uuid4().hex[:8]
    ticket = await old_desk_ticket(desk, tag)
    assert await tool.main([]) == 0
    assert "finished" in capsys.readouterr().out
    assert await mine(desk, tag) == [ticket.number]
    assert await tool.main([]) == 0
    assert "tickets indexed: 0" in capsys.readouterr().out
