"""The version agents act against, on a real Azurite, with the other writer placed exactly
between the action's read and its write: a record the desk adds on its own there (an SLA
warning) is written around, another agent's action there is a 412."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.core.errors import PreconditionFailed
from shared.core.lifecycle import Action
from shared.core.models import EntryKind
from shared.helpdesk import Helpdesk
from shared.sla import flow
from shared.storage.tickets import TicketStore
from shared.tickets import actionbodies, autoclose, intake, workflow
from shared.tickets.views import read_ticket
from tests.conftest import unique_email

AGENT = frozenset({"agent"})


class InterposedStore(TicketStore):
    """The desk's real ticket store, which lets `before_write` run once just before the
    next head write: another writer's change lands between an action's read and write."""

    def __init__(self, store: TicketStore,
                 before_write: Callable[[], Awaitable[Any]]) -> None:
        super().__init__(tickets=store._tickets, index=store._tables)
        self._before_write: Callable[[], Awaitable[Any]] | None = before_write

    async def update(self, *args: Any, **kwargs: Any) -> str:
        if self._before_write is not None:
            run, self._before_write = self._before_write, None
            await run()
        return await super().update(*args, **kwargs)


async def urgent_ticket(desk: Helpdesk) -> str:
    """An urgent ticket: the default plan's 1-hour first response, around the clock."""
    created = await intake.submit_ticket(
        {"name": "R", "email": unique_email("version"), "subject": "Server down",
         "description": "d", "priority": "urgent"}, [], desk=desk)
    return created.number


def note(body: str) -> workflow.ActionBody:
    return actionbodies.parse_body(Action.NOTE, {"body": body})


async def test_an_sla_warning_between_read_and_write_is_written_around(desk: Helpdesk):
    number = await urgent_ticket(desk)
    held = await read_ticket(number, desk=desk)  # what the agent's page shows

    # 50 minutes on, the first response (1 hour) is past its warning (80 %), not due.
    later = desk.clock() + timedelta(minutes=50)
    sweeper = dataclasses.replace(desk, clock=lambda: later)
    warned: list = []

    async def sweep() -> None:
        warned.extend(await flow.check_ticket(number, desk=sweeper))

    racing = dataclasses.replace(desk, tickets=InterposedStore(desk.tickets, sweep))
    view = await workflow.act(number, Action.NOTE, note("Looking at it."), actor="a1",
                              roles=AGENT, if_match=held.etag, desk=racing)

    assert [e.data["event"] for e in warned] == ["sla_warning"], "the sweep wrote first"
    stored = await desk.tickets.get(number)
    assert stored is not None
    kinds = [e.kind for e in stored.thread]
    assert kinds.count(EntryKind.NOTE) == 1
    assert [e.data["event"] for e in stored.thread if e.kind is EntryKind.SLA].count(
        "sla_warning") == 1
    assert sorted(e.seq for e in stored.thread if e.kind is not EntryKind.EMAIL_SENT) == \
        list(range(1, stored.ticket.last_seq + 1))
    # The note made one new version; the warning none. The view answered matches storage.
    assert stored.version == 2 and view.etag == 'W/"v2"' != held.etag
    assert (await read_ticket(number, desk=desk)).etag == view.etag
    # The clock's warning was kept, not overwritten by the action decided before it.
    assert stored.ticket.sla is not None and stored.ticket.sla["warned"] == ["first_response"]


async def test_another_agent_between_read_and_write_makes_a_412(desk: Helpdesk):
    number = await urgent_ticket(desk)
    held = await read_ticket(number, desk=desk)

    async def other_agent() -> None:
        await workflow.act(number, Action.ASSIGN,
                           actionbodies.parse_body(Action.ASSIGN, {"team": "senior-support"}),
                           actor="a2", roles=AGENT, if_match=held.etag, desk=desk)

    racing = dataclasses.replace(desk, tickets=InterposedStore(desk.tickets, other_agent))
    with pytest.raises(PreconditionFailed) as refused:
        await workflow.act(number, Action.ASSIGN,
                           actionbodies.parse_body(Action.ASSIGN, {"team": "service-desk"}),
                           actor="a1", roles=AGENT, if_match=held.etag, desk=racing)

    stored = await desk.tickets.get(number)
    assert stored is not None and stored.ticket.team == "senior-support"
    assert [e.actor for e in stored.thread if e.kind is EntryKind.ASSIGNED] == ["a2"]
    assert refused.value.extra["etag"] == 'W/"v2"'
    assert refused.value.extra["current"]["ticket"]["team"] == "senior-support"


async def test_a_breach_that_escalates_is_a_new_version(desk: Helpdesk):
    number = await urgent_ticket(desk)
    held = await read_ticket(number, desk=desk)
    later = desk.clock() + timedelta(minutes=61)
    entries = await flow.check_ticket(number, desk=dataclasses.replace(desk, clock=lambda: later))
    assert EntryKind.ESCALATED in [e.kind for e in entries]
    # The agent decided on a ticket that was not escalated yet: told, with the current one.
    with pytest.raises(PreconditionFailed) as refused:
        await workflow.act(number, Action.ASSIGN,
                           actionbodies.parse_body(Action.ASSIGN, {"team": "service-desk"}),
                           actor="a1", roles=AGENT, if_match=held.etag, desk=desk)
    assert refused.value.extra["current"]["ticket"]["status"] == "escalated"


async def test_the_desks_own_jobs_still_act_only_on_the_head_they_read(desk: Helpdesk):
    """Auto-close passes the storage ETag: a reminder is a record of the desk's own and
    makes no new version, so two overlapping runs must not both send one."""
    number = await urgent_ticket(desk)
    await workflow.act(number, Action.REQUEST_INFO,
                       actionbodies.parse_body(Action.REQUEST_INFO, {"question": "Which one?"}),
                       actor="a1", roles=AGENT, if_match=None, desk=desk)
    stored = await desk.tickets.get(number)
    assert stored is not None
    remind = actionbodies.parse_body(Action.REMIND, {})
    first = await workflow.act(number, Action.REMIND, remind, actor=autoclose.ACTOR,
                               roles=autoclose.ROLES, if_match=stored.etag, desk=desk)
    assert first.etag == f'W/"v{stored.version}"'  # no new version for agents
    with pytest.raises(PreconditionFailed):
        await workflow.act(number, Action.REMIND, remind, actor=autoclose.ACTOR,
                           roles=autoclose.ROLES, if_match=stored.etag, desk=desk)
    after = await desk.tickets.get(number)
    assert after is not None
    assert [e.kind for e in after.thread].count(EntryKind.REMINDER) == 1
