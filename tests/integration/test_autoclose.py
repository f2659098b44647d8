"""Auto-close with an injected clock: reminder, then resolution, then closure; an answer in
time stops it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from shared.core.directory import AutoClose
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_event
from shared.tickets import actionbodies, autoclose, intake, workflow
from tests.conftest import unique_email
from tests.support import MailDev, wait_for

POLICY = AutoClose(remind_after_days=3, resolve_after_days=4, close_after_days=7)


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


async def pending_ticket(desk: Helpdesk, email: str) -> str:
    created = await intake.submit_ticket(
        {"name": "R", "email": email, "subject": "Abandoned?", "description": "d"}, [],
        desk=desk)
    await workflow.act(created.number, Action.REQUEST_INFO,
                       actionbodies.parse_body(Action.REQUEST_INFO, {"question": "Which?"}),
                       actor="a1", roles=frozenset({"agent"}), if_match=None, desk=desk)
    return created.number


async def status(desk: Helpdesk, number: str) -> str:
    stored = await desk.tickets.get(number)
    assert stored is not None
    return stored.ticket.status


async def test_an_abandoned_ticket_is_reminded_resolved_then_closed(desk: Helpdesk,
                                                                   maildev: MailDev):
    clock = Clock(desk.clock())
    desk = dataclasses.replace(desk, clock=clock)
    email = unique_email("abandon")
    number = await pending_ticket(desk, email)
    start = clock.now

    async def run_at(days: float) -> autoclose.AutoCloseRun:
        clock.now = start + timedelta(days=days)
        return await autoclose.run(desk, now=clock.now, default=POLICY)

    assert number not in (await run_at(2.9)).reminded
    assert number in (await run_at(3.1)).reminded
    assert number not in (await run_at(3.2)).reminded  # once
    assert await status(desk, number) == "pending"
    assert number not in (await run_at(7.0)).resolved  # 3.9 days after the reminder
    assert number in (await run_at(7.2)).resolved
    assert await status(desk, number) == "resolved"
    assert number not in (await run_at(14.0)).closed
    assert number in (await run_at(14.3)).closed
    assert await status(desk, number) == "closed"

    stored = await desk.tickets.get(number)
    assert stored is not None
    kinds = [e.kind.value for e in stored.thread if e.kind.value not in ("email_sent", "sla")]
    assert kinds[-3:] == ["reminder", "resolved", "closed"]
    assert "no answer from the requester" in stored.ticket.resolution
    # The reminder's email, handled here as the queue handler would (idempotently).
    reminder = next(e for e in stored.thread if e.kind.value == "reminder")
    await handle_event(TicketEvent(ticket=number, seq=reminder.seq, kind="reminder"), desk=desk)
    mails = wait_for(lambda: [m for m in maildev.to(email)
                              if "still waiting for your answer" in (m.get("text") or "")],
                     what="the reminder email")
    assert "resolve the request in 4 days" in mails[0]["text"]


async def test_an_answer_in_time_stops_the_countdown(desk: Helpdesk):
    clock = Clock(desk.clock())
    desk = dataclasses.replace(desk, clock=clock)
    number = await pending_ticket(desk, unique_email("answers"))
    start = clock.now
    clock.now = start + timedelta(days=3.1)
    assert number in (await autoclose.run(desk, now=clock.now, default=POLICY)).reminded
    clock.now = start + timedelta(days=5)
    await workflow.requester_reply(number, "Here it is", requester="r", desk=desk)
    clock.now = start + timedelta(days=30)
    run = await autoclose.run(desk, now=clock.now, default=POLICY)
    assert number not in run.resolved + run.closed + run.reminded
    assert await status(desk, number) == "open"
