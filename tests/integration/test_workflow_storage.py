"""Actions against a real Azurite: the requester's answer, and the index repair when the
write between partitions fails halfway."""

from __future__ import annotations

import dataclasses
import uuid

from azure.data.tables.aio import TableClient

from devtools import services
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_event
from shared.storage.clients import INDEX_TABLES
from shared.storage.events import EventQueue
from shared.storage.tickets import TicketStore
from shared.tickets import actionbodies, intake, workflow
from tests.conftest import unique_email


async def new_ticket(desk: Helpdesk, email: str) -> str:
    created = await intake.submit_ticket(
        {"name": "R", "email": email, "subject": "s", "description": "d"}, [], desk=desk)
    return created.number


async def agent_act(desk: Helpdesk, number: str, action: Action, body: dict):
    return await workflow.act(number, action, actionbodies.parse_body(action, body), actor="a1",
                              roles=frozenset({"agent"}), if_match=None, desk=desk)


async def numbers_in(desk: Helpdesk, index: str, value: str) -> list[str]:
    """The tickets whose active row has `value` as its `index` property (status, team)."""
    rows = await desk.tickets.active_rows([(index, "eq", value)], select=["number"])
    return [r["number"] for r in rows]


async def test_a_requester_answer_reopens_pending_and_resolved_tickets(desk: Helpdesk):
    number = await new_ticket(desk, unique_email())
    await agent_act(desk, number, Action.REQUEST_INFO, {"question": "Which printer?"})
    view = await workflow.requester_reply(number, "The one by the door.",
                                          requester="r@example.org", desk=desk)
    assert view.ticket.status == "open"
    [answer] = [e for e in view.thread if e.kind == "message"]
    assert answer.public and answer.body == "The one by the door."
    await agent_act(desk, number, Action.RESOLVE, {"resolution": "Cleaned it."})
    view = await workflow.requester_reply(number, "Still smudgy.", requester="r@example.org",
                                          desk=desk)
    assert view.ticket.status == "open"
    assert number in await numbers_in(desk, "status", "open")
    assert number not in await numbers_in(desk, "status", "resolved")


async def test_an_index_write_lost_after_the_action_is_repaired_by_its_event(desk: Helpdesk):
    number = await new_ticket(desk, unique_email())
    assert number in await numbers_in(desk, "status", "new")

    # The same desk, but the index table is unreachable and events go to a queue of our own.
    port = services.free_port()
    dead = services.azurite_connection_string(blob=port, queue=port, table=port)
    broken_index = {name: TableClient.from_connection_string(dead, name, retry_total=0)
                    for name in INDEX_TABLES}
    queue_name = f"test-events-{uuid.uuid4().hex[:8]}"
    queue = desk.clients.queue(queue_name)
    await queue.create_queue()
    broken = dataclasses.replace(
        desk,
        tickets=TicketStore(tickets=desk.clients.table("tickets"), index=broken_index),
        events=EventQueue(queue),
    )
    try:
        view = await agent_act(broken, number, Action.ASSIGN, {"team": "service-desk"})
    finally:
        for client in broken_index.values():
            await client.close()
    assert view.ticket.status == "open"  # the action itself was accepted
    assert number in await numbers_in(desk, "status", "new")  # the index is behind
    assert number not in await numbers_in(desk, "status", "open")

    [message] = [m async for m in queue.receive_messages()]
    event = TicketEvent.model_validate_json(message.content)
    assert not event.indexed and event.stale_index_keys

    await handle_event(event, desk=desk)
    await handle_event(event, desk=desk)  # and again: the repair is idempotent
    assert number not in await numbers_in(desk, "status", "new")
    assert number in await numbers_in(desk, "status", "open")
    assert number in await numbers_in(desk, "team", "service-desk")
    await queue.delete_queue()
