"""Auto-close: tickets the requester abandoned are closed, after a reminder.

- `pending` with no activity for `remind_after_days`: the requester is reminded (an entry,
  emailed);
- still `pending`, `resolve_after_days` after the reminder: resolved, with a note saying why;
- `resolved` with no activity for `close_after_days`: closed.
Any activity (above all the requester's answer, which moves the ticket to `open`) moves
its last-update time and so stops the countdown. Days are configurable per team.

Each run reads only the tickets old enough to act on: the active rows of the status last
updated before the cut-off (a filter in each of the index's partitions). Actions go through the workflow with the
ticket's ETag, so two overlapping runs cannot remind or close a ticket twice (the loser
sees the new state and the action is no longer due).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from shared.core.directory import AutoClose, Team
from shared.core.errors import HelpdeskError, StorageFailed
from shared.core.lifecycle import Action, Category, Status, is_waiting, statuses
from shared.tickets.actionbodies import parse_body
from shared.tickets.workflow import act

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

ACTOR = "auto-close"
ROLES = frozenset({"supervisor"})


AutoClosePolicy = AutoClose


class AutoCloseRun(BaseModel):
    reminded: list[str] = []
    resolved: list[str] = []
    closed: list[str] = []


def _policy(team_id: str | None, teams: dict[str, Team], default: AutoClosePolicy
            ) -> AutoClosePolicy:
    team = teams.get(team_id or "")
    return team.auto_close if team is not None and team.auto_close is not None else default


async def _older_than(desk: Helpdesk, status: Status, cutoff: datetime, limit: int
                      ) -> list[str]:
    """Tickets in `status` last updated before `cutoff`, oldest activity last."""
    rows = await desk.tickets.active_rows(
        [("status", "eq", status.value), ("updated_at", "lt", cutoff)],
        select=["number", "updated_at"])
    rows.sort(key=lambda r: r["updated_at"], reverse=True)
    return [r["number"] for r in rows[:limit]]


async def run(desk: Helpdesk, *, now: datetime, default: AutoClosePolicy,
              limit: int = 200) -> AutoCloseRun:
    teams = {t.id: t for t in await desk.directory.list(Team)}
    policies = [default, *(t.auto_close for t in teams.values() if t.auto_close)]
    shortest = min(min(p.remind_after_days, p.resolve_after_days) for p in policies)
    result = AutoCloseRun()
    waiting = [number for status in statuses(Category.WAITING)
               for number in await _older_than(desk, status, now - timedelta(days=shortest),
                                               limit)]
    for number in waiting:
        stored = await desk.tickets.get(number)
        if stored is None or not is_waiting(stored.ticket.status):
            continue
        t = stored.ticket
        policy = _policy(t.team, teams, default)
        idle = now - t.updated_at
        if t.reminded_at is None and idle >= timedelta(days=policy.remind_after_days):
            if await _do(desk, number, Action.REMIND, {}, stored.etag,
                         {"resolve_days": f"{policy.resolve_after_days:g}"}):
                result.reminded.append(number)
        elif t.reminded_at is not None and \
                now - t.reminded_at >= timedelta(days=policy.resolve_after_days):
            note = ("Resolved automatically: no answer from the requester "
                    f"{policy.resolve_after_days:g} days after the reminder.")
            if await _do(desk, number, Action.RESOLVE, {"resolution": note}, stored.etag, None):
                result.resolved.append(number)
    closing = min(p.close_after_days for p in policies)
    for number in await _older_than(desk, Status.RESOLVED, now - timedelta(days=closing), limit):
        stored = await desk.tickets.get(number)
        if stored is None or stored.ticket.status is not Status.RESOLVED:
            continue
        policy = _policy(stored.ticket.team, teams, default)
        if now - stored.ticket.updated_at >= timedelta(days=policy.close_after_days):
            if await _do(desk, number, Action.CLOSE, {"comment": "Closed automatically."},
                         stored.etag, None):
                result.closed.append(number)
    return result


async def _do(desk: Helpdesk, number: str, action: Action, body: dict, etag: str,
              data: dict | None) -> bool:
    try:
        await act(number, action, parse_body(action, body), actor=ACTOR, roles=ROLES,
                  if_match=etag, desk=desk, entry_data=data)
        return True
    except StorageFailed:
        raise  # the run fails and the next one tries again
    except HelpdeskError as exc:
        # Changed meanwhile (the requester answered, another run got there first).
        log.info("auto-close: %s on %s skipped: %s", action.value, number, exc.detail)
        return False
