"""Rules and auto-assignment applied to a ticket: the I/O around the pure `shared/automation/rules.py`.

At intake the rules see the submission; on every update they see the ticket after the
action. What they change (category, priority, team, assignee, tags) is applied to the
ticket before it is written, so it lands in the same transaction as the intake or the
action, and the entry records which rules fired. A `canned_reply` is sent after intake;
on updates it is not (a reply that triggers rules that reply again would loop).
`reject_spam` refuses a submission; on an update it has no effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared.automation.autoassign import Strategy, pick_agent
from shared.automation.rules import Event, Facts, Outcome, Rule, evaluate
from shared.core.directory import Team
from shared.core.errors import HelpdeskError
from shared.core.models import Priority, Ticket

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

DEFAULT_TEAM = "service-desk"


class RejectedAsSpam(HelpdeskError):
    status = 422
    title = "Rejected"


async def rules_for(desk: Helpdesk) -> list[Rule]:
    return await desk.directory.list(Rule)


async def apply_rules(ticket: Ticket, *, event: Event, desk: Helpdesk, now: datetime,
                      tags: list[str] | None = None) -> tuple[Ticket, Outcome]:
    """The ticket as the rules leave it, and what they did."""
    rules = await rules_for(desk)
    outcome = evaluate(rules, Facts.from_ticket(ticket, at=now, tags=tags or ticket.tags),
                       event=event, timezone=desk.settings.timezone)
    if outcome.spam and event == "intake":
        raise RejectedAsSpam("The submission was rejected by a spam rule.",
                             extra={"rules": outcome.fired})
    changes = outcome.changes
    update: dict[str, object] = {}
    if "category" in changes:
        update["category"] = changes["category"]
    if "priority" in changes:
        update["priority"] = Priority(changes["priority"])
    if "team" in changes:
        update["team"] = changes["team"]
    if outcome.tags:
        update["tags"] = [*ticket.tags, *(t for t in outcome.tags if t not in ticket.tags)]
    if "sla_plan" in changes:
        update["sla_plan"] = changes["sla_plan"]
    ticket = ticket.model_copy(update=update)
    assignee = changes.get("assignee")
    if assignee == "auto":
        ticket = await auto_assign(ticket, desk=desk, force=True)
    elif assignee:
        ticket = ticket.model_copy(update={"assignee": assignee})
    return ticket, outcome


async def auto_assign(ticket: Ticket, *, desk: Helpdesk, force: bool = False) -> Ticket:
    """Give the ticket to an agent of its team if the team assigns automatically (or a
    rule asked for it): round-robin or fewest open, as the team says."""
    if ticket.assignee:
        return ticket
    team_id = ticket.team or DEFAULT_TEAM
    team = await desk.directory.get(Team, team_id)
    if team is None or (team.assignment == "manual" and not force):
        return ticket
    strategy: Strategy = "fewest-open" if team.assignment == "fewest-open" else "round-robin"
    agent = await pick_agent(team_id, strategy=strategy, directory=desk.directory,
                             tickets=desk.tickets,
                             )
    if agent is None:
        return ticket
    return ticket.model_copy(update={"assignee": agent.id, "team": team_id})
