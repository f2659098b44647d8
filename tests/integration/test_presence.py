"""Who has a ticket open, against Azurite with a clock of the test's own: a heartbeat
counts for 20 seconds, a row long expired is removed by the next heartbeat on the ticket,
and an agent sees the others, never themselves."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.core.auth import Principal
from shared.core.errors import NotFound
from shared.helpdesk import Helpdesk
from shared.tickets import intake, presence
from shared.tickets.presence import Heartbeat
from tests.conftest import unique_email


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def agent(user: str) -> Principal:
    return Principal(user_id=user, name=f"{user}@staff.example.com",
                     roles=frozenset({"agent"}), display_name=user.title())


async def test_a_heartbeat_counts_for_twenty_seconds_and_old_rows_are_cleared(desk: Helpdesk):
    created = await intake.submit_ticket(
        {"name": "R", "email": unique_email("here"), "subject": "s", "description": "d"}, [],
        desk=desk)
    number = created.number
    clock = Clock(datetime.now(UTC))
    timed = dataclasses.replace(desk, clock=clock)
    ana, bo = agent("ana-presence"), agent("bo-presence")

    first = await presence.heartbeat(number, Heartbeat(), who=ana, desk=timed)
    assert first.others == []
    seen = await presence.heartbeat(number, Heartbeat(typing=True), who=bo, desk=timed)
    assert [(p.agent, p.name, p.typing) for p in seen.others] == [("ana-presence", "Ana-Presence", False)]
    clock.now += timedelta(seconds=19)
    assert [p.typing for p in (await presence.heartbeat(
        number, Heartbeat(), who=ana, desk=timed)).others] == [True]

    clock.now += timedelta(seconds=2)  # Bo's beat is 21 s old now
    assert (await presence.heartbeat(number, Heartbeat(), who=ana, desk=timed)).others == []
    assert {r.agent for r in await desk.presence.on_ticket(number)} == {"ana-presence",
                                                                       "bo-presence"}
    clock.now += timedelta(hours=2)  # long gone: the next heartbeat removes Bo's row
    await presence.heartbeat(number, Heartbeat(), who=ana, desk=timed)
    assert {r.agent for r in await desk.presence.on_ticket(number)} == {"ana-presence"}

    await presence.leave(number, who=ana, desk=timed)
    await presence.leave(number, who=ana, desk=timed)  # leaving twice is leaving
    assert await desk.presence.on_ticket(number) == []


async def test_no_presence_on_a_ticket_that_does_not_exist(desk: Helpdesk):
    with pytest.raises(NotFound):
        await presence.heartbeat("12345674", Heartbeat(), who=agent("ana-presence"), desk=desk)
    assert await desk.presence.on_ticket("12345674") == []
