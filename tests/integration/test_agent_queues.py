"""The agent page's reads on a real Azurite: overdue queues, capped counts and search, each
one index range (shared/tickets/queues.py, shared/tickets/search.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shared.core import numbering
from shared.core.models import Channel, EntryKind, Priority, ThreadEntry, Ticket
from shared.helpdesk import Helpdesk
from shared.tickets.queues import QueueQuery, count, list_queue
from shared.tickets.search import search


async def seeded(desk: Helpdesk, **fields) -> Ticket:
    now = datetime.now(UTC)
    ticket = Ticket(**{
        "number": numbering.new_number(), "subject": "Seeded", "description": "Seeded body",
        "requester_name": "Seed", "requester_email": f"{uuid.uuid4().hex[:8]}@example.org",
        "priority": Priority.NORMAL, "category": "general", "status": "open",
        "channel": Channel.WEB, "created_at": now, "updated_at": now, "last_seq": 1, **fields})
    entry = ThreadEntry(seq=1, kind=EntryKind.CREATED, at=now, actor="seed", public=True)
    await desk.tickets.create(ticket, [entry], [])
    await desk.tickets.write_index(ticket, had=[])
    await desk.tickets.write_words(ticket)  # the created event's handler does this
    return ticket


async def test_overdue_lists_active_tickets_past_their_due_time_only(desk: Helpdesk):
    owner = f"agent-{uuid.uuid4().hex[:8]}"
    late = await seeded(desk, assignee=owner, due_at=datetime(2001, 1, 1, tzinfo=UTC))
    early = await seeded(desk, assignee=owner, due_at=datetime.now(UTC) + timedelta(hours=4))
    done = await seeded(desk, assignee=owner, status="resolved",
                        due_at=datetime(2001, 1, 1, tzinfo=UTC))
    page = await list_queue(QueueQuery(assignee="me", overdue=True, active=True),
                            me=owner, desk=desk)
    assert [i.number for i in page.items] == [late.number]
    everything = await list_queue(QueueQuery(assignee="me", sort="due"), me=owner, desk=desk)
    assert {i.number for i in everything.items} == {late.number, early.number, done.number}


async def test_counts_are_range_reads_stopped_at_the_cap(desk: Helpdesk):
    owner = f"agent-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        await seeded(desk, assignee=owner)
    await seeded(desk, assignee=owner, status="resolved")
    closed = await seeded(desk, assignee=owner, status="closed")
    assert await count(QueueQuery(assignee="me"), me=owner, desk=desk) == 4
    assert await count(QueueQuery(assignee="me", active=True), me=owner, desk=desk) == 3
    assert await count(QueueQuery(assignee="me"), me=owner, desk=desk, cap=2) == 2
    # A closed ticket has left the agents' queues; it is listed with the closed ones.
    assert await count(QueueQuery(assignee="me", status="closed"), me=owner, desk=desk) == 1
    page = await list_queue(QueueQuery(assignee="me", status="closed"), me=owner, desk=desk)
    assert [i.number for i in page.items] == [closed.number]


async def test_search_finds_by_number_email_and_words_of_subject_name_and_description(
        desk: Helpdesk):
    tag = uuid.uuid4().hex[:8]
    ticket = await seeded(desk, subject=f"Printer zq{tag} jams",
                          requester_name=f"Grace Hopper{tag}",
                          description=f"Paper stuck in tray vv{tag} since Monday")
    other = await seeded(desk, subject=f"Fax zq{tag} broken")
    assert [i.number for i in (await search(ticket.number, desk=desk)).items] == [ticket.number]
    by_email = await search(ticket.requester_email.upper(), desk=desk)
    assert by_email.kind == "email" and [i.number for i in by_email.items] == [ticket.number]
    both = await search(f"zq{tag}", desk=desk)
    assert {i.number for i in both.items} == {ticket.number, other.number}
    narrowed = await search(f"zq{tag} print", desk=desk)  # a prefix: "print" finds "printer"
    assert [i.number for i in narrowed.items] == [ticket.number]
    assert [i.number for i in (await search(f"VV{tag}", desk=desk)).items] == [ticket.number]
    assert [i.number for i in (await search(f"hopper{tag}", desk=desk)).items] == [ticket.number]
    assert (await search(f"nothing{tag}", desk=desk)).items == []


