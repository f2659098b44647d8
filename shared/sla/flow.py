"""SLA clocks on tickets: started at intake, moved by actions, checked by the sweep.

The arithmetic is pure (`shared/sla/clocks.py`, over the working time of
`shared/sla/workhours.py`); this module decides when a clock starts, pauses (waiting on the
requester, or on a vendor: `lifecycle.clock_paused`), resumes, stops, and what a breach does: the
ticket is marked overdue, its priority rises one step and, unless turned off, it is
escalated one tier (Service Desk → Senior Support → SysAdmins/Developers). Every clock
event is a thread entry.

The sweep reads only what is due: the active row of each ticket with a running clock
carries its next check time (`sla_check_at`), and a run reads the active rows whose check
time has come (a filter on that property, in each of the index's partitions). It puts
those tickets on the escalations queue; the handler checks the clock under the ticket's
ETag and records warnings and breaches in the clock itself, so a breach is acted on once,
however many sweeps overlap or deliveries repeat. Those records leave the ticket's
agent-visible version (its HTTP ETag) as it was unless they change what agents decide on.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.core.actions import moves_version
from shared.core.directory import CategoryDef, Team
from shared.core.events import TicketEvent
from shared.core.lifecycle import AUTOMATIC, Action, clock_paused, decide, is_done, is_waiting, may
from shared.core.models import EntryKind, Priority, ThreadEntry, Ticket
from shared.sla import clocks
from shared.storage.tickets import Stale

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

VENDOR_TEAM = "vendor-support"
NEXT_TIER = {"service-desk": "senior-support", "senior-support": "sysadmins-developers"}
RAISE = {Priority.LOW: Priority.NORMAL, Priority.NORMAL: Priority.HIGH,
         Priority.HIGH: Priority.URGENT, Priority.URGENT: Priority.URGENT}
TEXT = {
    "sla_started": "SLA clock started for {target}, due {due}",
    "sla_paused": "SLA clock paused",
    "sla_resumed": "SLA clock resumed",
    "sla_warning": "SLA warning: {target} due {due}",
    "sla_breached": "SLA breached: {target} was due {due}",
    "sla_met": "SLA met: {target}",
    "sla_stopped": "SLA {target} reached after its due time ({due})",
}


def clock_of(ticket: Ticket) -> clocks.SlaClock | None:
    return clocks.SlaClock.model_validate(ticket.sla) if ticket.sla else None


def with_clock(ticket: Ticket, clock: clocks.SlaClock | None, now: datetime) -> Ticket:
    if clock is None:
        return ticket
    due = [d for d in clocks.due_times(clock).values() if d is not None]
    return ticket.model_copy(update={
        "sla": clock.model_dump(mode="json"),
        "due_at": min(due) if due else None,
        "sla_check_at": clocks.next_due(clock, now),
    })


def entries_for(events: list[clocks.SlaEvent], *, first_seq: int) -> list[ThreadEntry]:
    return [
        ThreadEntry(
            seq=first_seq + i, kind=EntryKind.SLA, at=e.at, actor="sla", public=False,
            body=TEXT[e.kind].format(target=(e.target or "").replace("_", " "),
                                     due=e.due_at.strftime("%Y-%m-%d %H:%M UTC")
                                     if e.due_at else "-"),
            data={"event": e.kind, "target": e.target,
                  "due_at": e.due_at.isoformat() if e.due_at else None},
        )
        for i, e in enumerate(events)
    ]


async def plan_for(ticket: Ticket, *, desk: Helpdesk) -> clocks.SlaPlan:
    plans = {p.id: p for p in await desk.directory.list(clocks.SlaPlan)}
    if ticket.sla_plan and ticket.sla_plan in plans:
        return plans[ticket.sla_plan]
    overrides: dict[str, str] = {}
    for team in await desk.directory.list(Team):
        if team.sla_plan:
            overrides[f"team:{team.id}"] = team.sla_plan
    for category in await desk.directory.list(CategoryDef):
        if category.sla_plan:
            overrides[f"category:{category.id}"] = category.sla_plan
    return clocks.pick_plan(plans, priority=ticket.priority, category=ticket.category,
                         team=ticket.team, overrides=overrides)


async def start(ticket: Ticket, *, desk: Helpdesk, now: datetime
                ) -> tuple[Ticket, list[clocks.SlaEvent]]:
    plan = await plan_for(ticket, desk=desk)
    clock, events = clocks.start_clock(plan, ticket.priority, now)
    return with_clock(ticket, clock, now), events


def after_action(before: Ticket, after: Ticket, action: Action, now: datetime
                 ) -> tuple[Ticket, list[clocks.SlaEvent]]:
    """Move the clock for what an action did to the ticket."""
    clock = clock_of(after)
    if clock is None:
        return after, []
    events: list[clocks.SlaEvent] = []

    def step(result: tuple[clocks.SlaClock, list[clocks.SlaEvent]]) -> None:
        nonlocal clock
        clock, new = result
        events.extend(new)

    if is_done(before.status) and not is_done(after.status):
        step(clocks.reopen(clock, now))
    if action is Action.REPLY:
        step(clocks.record_first_response(clock, now))
    if is_done(after.status) and not is_done(before.status):
        step(clocks.record_resolution(clock, now))
    elif not is_done(after.status):
        paused = clock_paused(after.status, with_vendor=after.team == VENDOR_TEAM)
        step(clocks.pause(clock, now) if paused else clocks.resume(clock, now))
    after = with_clock(after, clock, now)
    if is_done(after.status):
        after = after.model_copy(update={"sla_check_at": None})
    return after, events


# -- the sweep and its handler ----------------------------------------------------------------

class SweepRun(BaseModel):
    due: list[str]


async def sweep(desk: Helpdesk, *, now: datetime, limit: int = 1000) -> SweepRun:
    """Queue every ticket whose next SLA check has come; reads only those rows."""
    rows = await desk.tickets.active_rows([("sla_check_at", "le", now)], limit=limit,
                                          select=["number"])
    numbers = list(dict.fromkeys(r["number"] for r in rows))
    for start in range(0, len(numbers), 32):  # a few messages at a time, not one by one
        await asyncio.gather(*(
            desk.escalations.publish(TicketEvent(ticket=number, seq=0, kind="sla_check"))
            for number in numbers[start:start + 32]))
    return SweepRun(due=numbers)


async def check_ticket(number: str, *, desk: Helpdesk, escalate: bool = True,
                       retries: int = 10) -> list[ThreadEntry]:
    """Announce what is due on one ticket's clock; returns the entries written."""
    for _ in range(retries):
        stored = await desk.tickets.get(number)
        if stored is None:
            return []
        clock = clock_of(stored.ticket)
        now = desk.clock()
        if clock is None or is_done(stored.ticket.status):
            if stored.ticket.sla_check_at is not None:  # a stale sweep row: drop it
                await desk.tickets.write_index(
                    stored.ticket.model_copy(update={"sla_check_at": None}),
                    had=stored.index_keys)
            return []
        clock, events = clocks.check(clock, now)
        before = stored.ticket
        ticket = with_clock(before, clock, now)
        if not events:
            if ticket.sla_check_at != before.sla_check_at:
                await desk.tickets.write_index(ticket, had=stored.index_keys)
            return []
        breached = any(e.kind == "sla_breached" for e in events)
        update: dict[str, Any] = {"updated_at": now}
        escalated_to = None
        if breached:
            update["overdue"] = True
            update["priority"] = RAISE[ticket.priority]
            # Not while the ticket waits on the requester; else as an agent would escalate.
            allowed = may(Action.ESCALATE, ticket.status, AUTOMATIC)
            if escalate and allowed and not is_waiting(ticket.status):
                escalated_to = NEXT_TIER.get(ticket.team or "service-desk")
        entries = [e.model_copy(update={"data": {**e.data, "team": ticket.team,
                                                 "assignee": ticket.assignee}})
                   for e in entries_for(events, first_seq=ticket.last_seq + 1)]
        if escalated_to:
            status = decide(Action.ESCALATE, ticket.status, AUTOMATIC)
            update.update(team=escalated_to, status=status)
            entries.append(ThreadEntry(
                seq=ticket.last_seq + len(entries) + 1, kind=EntryKind.ESCALATED, at=now,
                actor="sla", public=False,
                body=f"Escalated automatically: SLA breached. Priority raised to "
                     f"{update['priority'].value}.",
                data={"tier": escalated_to, "team": escalated_to,
                      "previous_team": ticket.team, "from": ticket.status.value,
                      "to": status.value, "automatic": True}))
        update["last_seq"] = ticket.last_seq + len(entries)
        ticket = ticket.model_copy(update=update)
        # A warning or a met target is the desk's own record: agents holding the ticket's
        # version act on as before. A breach that raises the priority or escalates the
        # ticket changes what they decide on: a new version.
        version = stored.version + (1 if moves_version(None, before, ticket) else 0)
        try:
            await desk.tickets.update(ticket, entries[0], [], etag=stored.etag,
                                      version=version, more=entries[1:])
        except Stale:
            continue
        await desk.tickets.write_index(ticket, had=stored.index_keys)
        for entry in entries:
            if entry.kind == EntryKind.SLA and entry.data["event"] in ("sla_warning",
                                                                        "sla_breached"):
                await desk.events.publish(TicketEvent(ticket=number, seq=entry.seq,
                                                      kind="sla", indexed=True))
            if entry.kind == EntryKind.ESCALATED:
                await desk.escalations.publish(TicketEvent(ticket=number, seq=entry.seq,
                                                           kind="escalated", indexed=True))
        return entries
    log.warning("SLA check of %s gave up: the ticket kept changing", number)
    return []
