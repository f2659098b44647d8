"""Every queue message delivered twice sends one email: acknowledgement, reply, request
for information, resolution, closure, assignment and escalation."""

from __future__ import annotations

import uuid

from shared.core.directory import Agent
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.core.models import EntryKind
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_escalation, handle_event
from shared.tickets import actionbodies, intake, workflow
from tests.conftest import unique_email
from tests.support import MailDev, wait_for


async def test_each_event_delivered_twice_sends_one_email(desk: Helpdesk, maildev: MailDev):
    tag = uuid.uuid4().hex[:6]
    owner = Agent(id=f"own-{tag}", name="Owner", email=f"own-{tag}@staff.example.com",
                  teams=["service-desk"])
    senior = Agent(id=f"sen-{tag}", name="Senior", email=f"sen-{tag}@staff.example.com",
                   teams=["senior-support"])
    for agent in (owner, senior):
        await desk.directory.put(agent)
    requester = unique_email("twice")
    number = (await intake.submit_ticket(
        {"name": "R", "email": requester, "subject": "s", "description": "d"}, [],
        desk=desk)).number

    async def do(action: Action, body: dict) -> None:
        await workflow.act(number, action, actionbodies.parse_body(action, body), actor="lead",
                           roles=frozenset({"agent"}), if_match=None, desk=desk)

    await do(Action.ASSIGN, {"agent": owner.id})
    await do(Action.REQUEST_INFO, {"question": "q"})
    await do(Action.REPLY, {"body": "r"})
    await do(Action.ESCALATE, {"tier": "senior-support", "reason": "x"})
    await do(Action.RESOLVE, {"resolution": "done"})
    await do(Action.CLOSE, {})

    stored = await desk.tickets.get(number)
    assert stored is not None
    for entry in stored.thread:
        if entry.kind in (EntryKind.EMAIL_SENT, EntryKind.SLA):
            continue
        event = TicketEvent(ticket=number, seq=entry.seq, kind=entry.kind.value, indexed=True)
        for _ in range(2):
            await handle_event(event, desk=desk)
            if entry.kind == EntryKind.ESCALATED:
                await handle_escalation(event, desk=desk)

    expected = {requester: 5, owner.email: 1, senior.email: 1}  # ack, info, reply, resolved, closed
    for address, count in expected.items():
        wait_for(lambda a=address, c=count: len(maildev.to(a)) >= c, what=f"mail to {address}")
    # Let any straggler (a second send would be one) arrive before counting.
    import asyncio
    await asyncio.sleep(1)
    assert {a: len(maildev.to(a)) for a in expected} == expected
