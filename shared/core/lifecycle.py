"""Ticket statuses, the actions that move between them, and who may take each. Pure: no I/O.

Everything the help desk knows about the lifecycle is the two tables below, read by one
function, `decide`. Code asks questions of the tables ("is this status done?", "which
actions are allowed here?", "does the SLA clock stand still?") rather than comparing
status strings: the questions are the functions at the end of this module. Automatic
changes (a rule assigning at intake, an SLA breach escalating) are decided by `decide`
too, with the roles in `AUTOMATIC`.

Every accepted action writes exactly one thread entry, whose kind is the action's;
a status change is recorded inside that entry (`from`/`to`), not as a second entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    NEW = "new"              # not yet assigned
    OPEN = "open"            # an agent or team owns it
    PENDING = "pending"      # waiting on the requester
    ESCALATED = "escalated"  # owned by a higher tier
    RESOLVED = "resolved"    # resolution noted; the requester may still answer
    CLOSED = "closed"


class Category(StrEnum):
    """How a status counts: work to do, waiting on someone, or done."""

    ACTIVE = "active"
    WAITING = "waiting"
    DONE = "done"


STATUSES: dict[Status, Category] = {
    Status.NEW: Category.ACTIVE,
    Status.OPEN: Category.ACTIVE,
    Status.PENDING: Category.WAITING,
    Status.ESCALATED: Category.ACTIVE,
    Status.RESOLVED: Category.DONE,
    Status.CLOSED: Category.DONE,
}

INITIAL = Status.NEW


class Action(StrEnum):
    ASSIGN = "assign"
    REPLY = "reply"
    NOTE = "note"
    REQUEST_INFO = "request-info"
    ESCALATE = "escalate"
    CHANGE = "change"  # the ticket's priority and/or category
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    REQUESTER_REPLY = "requester-reply"  # the requester answers (portal or email)
    REMIND = "remind"  # the desk reminds a requester it waits on (before auto-close)
    RATE = "rate"  # the requester says whether the resolution solved the problem


class Role(StrEnum):
    REQUESTER = "requester"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


# Roles are cumulative: a supervisor may do what an agent may, an admin what both may.
IMPLIED: dict[Role, frozenset[Role]] = {
    Role.REQUESTER: frozenset({Role.REQUESTER}),
    Role.AGENT: frozenset({Role.AGENT}),
    Role.SUPERVISOR: frozenset({Role.AGENT, Role.SUPERVISOR}),
    Role.ADMIN: frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
}

SAME = None  # "the status does not change"

_WORKING = (Status.NEW, Status.OPEN, Status.PENDING, Status.ESCALATED)
# Where the next word is the requester's: asked for information, or told the resolution.
# Their answer brings the ticket back to the agents; until then reports do not count
# the time as the desk's.
_REQUESTERS_TURN = (Status.PENDING, Status.RESOLVED)

# The roles the desk's own automatic changes are decided with: a rule assigning a ticket
# at intake or an SLA breach escalating it moves the status as an agent's action would.
AUTOMATIC: frozenset[str] = frozenset({Role.AGENT.value})


@dataclass(frozen=True)
class Rule:
    action: Action
    source: Status
    target: Status | None
    role: Role


def _rules() -> list[Rule]:
    rules: list[Rule] = []

    def allow(action: Action, sources, target, role: Role = Role.AGENT,
              new_to_open: bool = False) -> None:
        for source in sources:
            to = Status.OPEN if new_to_open and source is Status.NEW else target
            rules.append(Rule(action, source, to, role))

    # Taking up or answering a new ticket opens it.
    allow(Action.ASSIGN, _WORKING, SAME, new_to_open=True)
    allow(Action.REPLY, _WORKING, SAME, new_to_open=True)
    allow(Action.CHANGE, _WORKING, SAME)
    allow(Action.NOTE, tuple(Status), SAME)
    allow(Action.REQUEST_INFO, (Status.NEW, Status.OPEN, Status.ESCALATED), Status.PENDING)
    allow(Action.ESCALATE, _WORKING, Status.ESCALATED)
    allow(Action.RESOLVE, _WORKING, Status.RESOLVED)
    allow(Action.CLOSE, (Status.RESOLVED,), Status.CLOSED)
    # Closing without a resolution (spam, duplicates) is a supervisor's call.
    allow(Action.CLOSE, _WORKING, Status.CLOSED, role=Role.SUPERVISOR)
    allow(Action.REOPEN, (Status.RESOLVED, Status.CLOSED), Status.OPEN)
    allow(Action.REMIND, (Status.PENDING,), SAME)
    # A requester's answer brings a waiting or resolved ticket back to the agents; on a
    # ticket being worked it is simply added. A closed ticket is not reopened by mail.
    allow(Action.REQUESTER_REPLY, _REQUESTERS_TURN, Status.OPEN, role=Role.REQUESTER)
    allow(Action.REQUESTER_REPLY, (Status.NEW, Status.OPEN, Status.ESCALATED), SAME,
          role=Role.REQUESTER)
    # "Did this solve your problem?" is asked once the ticket is done; answering again
    # replaces the rating (the thread keeps every answer).
    allow(Action.RATE, (Status.RESOLVED, Status.CLOSED), SAME, role=Role.REQUESTER)
    return rules


RULES: tuple[Rule, ...] = tuple(_rules())
_BY_KEY: dict[tuple[Action, Status], list[Rule]] = {}
for _rule in RULES:
    _BY_KEY.setdefault((_rule.action, _rule.source), []).append(_rule)


class NotAllowed(Exception):
    """The action is not allowed from this status for these roles."""

    def __init__(self, action: Action, status: Status, allowed: list[Action],
                 *, missing_role: Role | None = None) -> None:
        self.action, self.status, self.allowed = action, status, allowed
        self.missing_role = missing_role
        if missing_role is not None:
            reason = f"{action.value} on a {status.value} ticket needs the {missing_role.value} role"
        else:
            reason = f"{action.value} is not allowed on a {status.value} ticket"
        super().__init__(reason)


def effective_roles(roles: set[str] | frozenset[str]) -> frozenset[Role]:
    result: set[Role] = set()
    for name in roles:
        if name in Role.__members__.values():
            result |= IMPLIED[Role(name)]
    return frozenset(result)


def allowed_actions(status: Status | str, roles: set[str] | frozenset[str]) -> list[Action]:
    have = effective_roles(roles)
    status = Status(status)
    return [a for a in Action if any(r.role in have for r in _BY_KEY.get((a, status), []))]


def decide(action: Action | str, status: Status | str, roles: set[str] | frozenset[str]
           ) -> Status:
    """The status after `action`, or `NotAllowed`."""
    action, status = Action(action), Status(status)
    have = effective_roles(roles)
    candidates = _BY_KEY.get((action, status), [])
    for rule in candidates:
        if rule.role in have:
            return rule.target if rule.target is not None else status
    missing = candidates[0].role if candidates else None
    raise NotAllowed(action, status, allowed_actions(status, roles), missing_role=missing)


def may(action: Action | str, status: Status | str, roles: set[str] | frozenset[str]) -> bool:
    """Whether `roles` may take `action` on a ticket in `status`."""
    return Action(action) in allowed_actions(status, roles)


# -- questions about a status ------------------------------------------------------------
# Each takes a `Status` or its stored string; those about a thread entry's `from`/`to`
# also take None (an entry that changed no status) or any other value (an email entry's
# `from` is its sender's address), which is in no category.

def category(status: Status | str) -> Category:
    return STATUSES[Status(status)]


def status_of(value: object) -> Status | None:
    """`value` as a status, or None when it is none (absent, or another kind of value)."""
    try:
        return Status(value) if isinstance(value, str) else None
    except ValueError:
        return None


def statuses(*categories: Category) -> tuple[Status, ...]:
    """The statuses in any of `categories`, in the table's order."""
    return tuple(s for s, c in STATUSES.items() if c in categories)


def _in(status: object, wanted: Category) -> bool:
    found = status_of(status)
    return found is not None and STATUSES[found] is wanted


def is_done(status: object) -> bool:
    """Resolved or closed: no work is left (the requester may still answer or rate)."""
    return _in(status, Category.DONE)


def is_active(status: object) -> bool:
    """Work for the agents: neither waiting on someone nor done."""
    return _in(status, Category.ACTIVE)


def is_waiting(status: object) -> bool:
    """Waiting on the requester."""
    return _in(status, Category.WAITING)


def is_closed(status: object) -> bool:
    """Closed for good: the requester's answer no longer reopens it (mail starts a new
    ticket); only an agent's reopening does."""
    return status_of(status) is Status.CLOSED


def requesters_turn(status: object) -> bool:
    """The next word is the requester's (waiting on them, or resolved): their answer
    brings the ticket back to the agents."""
    return status_of(status) in _REQUESTERS_TURN


def clock_paused(status: Status | str, *, with_vendor: bool) -> bool:
    """Whether the SLA clock stands still in `status`: while the ticket waits on the
    requester, or on the vendor it was escalated to (`with_vendor`: its team is the
    vendor tier). Done tickets have no running clock at all."""
    status = Status(status)
    return category(status) is Category.WAITING or (status is Status.ESCALATED and with_vendor)
