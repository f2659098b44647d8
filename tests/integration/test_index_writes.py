"""How many index entities a ticket costs, counted on a real Azurite by the store itself
(`TicketStore.written`, by table): the targets of docs/architecture.md ("The index") are at
most 6 per intake and at most 3 per agent action; search words are counted on their own.
The rows are read back, so what is counted is what the queues then list."""

from __future__ import annotations

from collections import Counter

from shared.core.directory import Agent
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.core.words import ticket_tokens
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_event
from shared.storage.indexing import (
    ACTIVE_TABLE,
    CLOSED_TABLE,
    REQUESTERS_TABLE,
    WORDS_TABLE,
    index_keys,
)
from shared.tickets import actionbodies, intake, workflow
from tests.conftest import unique_email

AGENT = frozenset({"agent"})


async def counted(desk: Helpdesk, work) -> Counter[str]:
    before = Counter(desk.tickets.written)
    result = await work
    written = Counter(desk.tickets.written)
    written.subtract(before)
    counted.result = result  # type: ignore[attr-defined]
    return +written


async def act(desk: Helpdesk, number: str, action: Action, body: dict) -> Counter[str]:
    return await counted(desk, workflow.act(number, action, actionbodies.parse_body(action, body),
                                            actor="a1", roles=AGENT, if_match=None,
                                            desk=desk))


async def test_an_intake_writes_two_index_entities_and_its_words_once_from_the_event(
        desk: Helpdesk):
    body = {"name": "Ada Lovelace", "email": unique_email(), "subject": "Printer jams again",
            "description": "The third floor printer eats every second page."}
    written = await counted(desk, intake.submit_ticket(body, [], desk=desk))
    number = counted.result.number  # type: ignore[attr-defined]
    # On the request: the ticket's active row and its requester row. No word rows.
    assert written == {ACTIVE_TABLE: 1, REQUESTERS_TABLE: 1}
    assert sum(written.values()) <= 6
    # The created event's handler writes the search words, once per word.
    event = TicketEvent(ticket=number, seq=1, kind="created", indexed=True)
    words = await counted(desk, handle_event(event, desk=desk))
    tokens = ticket_tokens(body["subject"], body["name"], body["description"])
    assert words == {WORDS_TABLE: len(tokens)} and len(tokens) <= 30
    found = await desk.tickets.word_rows("printer", limit=1000)
    assert number in [r["number"] for r in found]


async def test_an_assignment_a_reply_and_a_close_write_at_most_three_each(desk: Helpdesk):
    created = await intake.submit_ticket(
        {"name": "R", "email": unique_email(), "subject": "Counting", "description": "d"}, [],
        desk=desk)
    number = created.number
    await desk.directory.put(Agent(id="a1", name="Counter", email="a1@staff.example.com",
                                   teams=["service-desk"]))
    # Each rewrites the ticket's one active row in place, whatever queues it moves between.
    assert await act(desk, number, Action.ASSIGN, {"team": "service-desk", "agent": "a1"}) \
        == {ACTIVE_TABLE: 1}
    assert await act(desk, number, Action.REPLY, {"body": "Have you tried turning it off?"}) \
        == {ACTIVE_TABLE: 1}
    assert await act(desk, number, Action.RESOLVE, {"resolution": "Turned it off."}) \
        == {ACTIVE_TABLE: 1}
    # Closing writes the closed row, then removes the active one.
    assert await act(desk, number, Action.CLOSE, {}) == {CLOSED_TABLE: 1, ACTIVE_TABLE: 1}
    active = await desk.tickets.active_rows([("assignee", "eq", "a1")], select=["number"])
    assert number not in [r["number"] for r in active]
    closed = await desk.tickets.closed_rows([("assignee", "eq", "a1")], select=["number"])
    assert number in [r["number"] for r in closed]
    # Reopened: back in the active rows, the closed row removed.
    assert await act(desk, number, Action.REOPEN, {}) == {ACTIVE_TABLE: 1, CLOSED_TABLE: 1}
    stored = await desk.tickets.get(number)
    assert stored is not None
    assert set(await desk.tickets.index_rows(stored.ticket)) == set(index_keys(stored.ticket))
