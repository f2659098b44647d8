"""What each agent action carries and what it changes on a ticket. Pure: no I/O.

`apply_action` takes a ticket, an action with its validated body and who acts, asks the
lifecycle table for the new status, and returns the changed ticket and the one thread
entry that records the action. Sending mail, queueing escalations and writing storage
happen elsewhere (`shared/tickets/workflow.py`, `shared/notifications/notify.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.core.lifecycle import Action, Status, decide, is_done
from shared.core.models import EntryKind, Priority, ThreadEntry, Ticket

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

ESCALATION_TIERS = {
    "senior-support": "Senior Support",
    "sysadmins-developers": "SysAdmins/Developers",
    "vendor-support": "Vendor Support",
}


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AttachmentBody(ActionBody):
    filename: Short
    content_type: str = "application/octet-stream"
    data: str = Field(description="base64")


class AssignBody(ActionBody):
    agent: Short | None = Field(None, description='agent id, "me" for the caller, or omit')
    team: Short | None = Field(None, description="team id, or omit")

    @model_validator(mode="after")
    def _something(self) -> AssignBody:
        if self.agent is None and self.team is None:
            raise ValueError("give an agent, a team, or both")
        return self


class ChangeBody(ActionBody):
    priority: Priority | None = Field(None, description="the new priority, or omit")
    category: Short | None = Field(None, description="a category id, or omit")
    fields: dict[str, Any] | None = Field(
        None, description="the category's fields to change: field id → new value (null "
        "or \"\" clears it); the others keep theirs (shared/core/fields.py)")

    @model_validator(mode="after")
    def _something(self) -> ChangeBody:
        if self.priority is None and self.category is None and not self.fields:
            raise ValueError("give a priority, a category, fields, or some of them")
        return self


# What `check_edit` (shared/core/fields.py) made of a change's fields: the ticket's new
# values and what changed, `{id: {from, to}}`.
FieldEdit = tuple[dict[str, Any], dict[str, dict[str, Any]]]


class ReplyBody(ActionBody):
    body: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)] = ""
    canned: Short | None = Field(None, description="a canned response id; its text comes "
                                 "before `body`, placeholders filled in")
    attachments: list[AttachmentBody] = Field(default_factory=list)

    @model_validator(mode="after")
    def _says_something(self) -> ReplyBody:
        if not self.body and not self.canned:
            raise ValueError("give body, canned, or both")
        return self


class NoteBody(ActionBody):
    body: Text


class RequestInfoBody(ActionBody):
    question: Text


class EscalateBody(ActionBody):
    tier: Literal["senior-support", "sysadmins-developers", "vendor-support"]
    reason: Text
    vendor_name: Short | None = None
    vendor_reference: Short | None = None

    @model_validator(mode="after")
    def _vendor_named(self) -> EscalateBody:
        if self.tier == "vendor-support" and not self.vendor_name:
            raise ValueError("an escalation to Vendor Support needs vendor_name")
        return self


# A parent ticket is not resolved or closed while a child is not done, unless a supervisor
# says so (shared/tickets/workflow.py).
FORCE = "close even though children are not done (supervisors only)"


class ResolveBody(ActionBody):
    resolution: Text
    force: bool = Field(False, description=FORCE.replace("close", "resolve"))


class CommentBody(ActionBody):
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)] = ""


class CloseBody(CommentBody):
    force: bool = Field(False, description=FORCE)


class RequesterReplyBody(ActionBody):
    body: Text


class RatingBody(ActionBody):
    solved: bool = Field(description="did the resolution solve the problem?")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4_000)] = ""


BODIES: dict[Action, type[ActionBody]] = {
    Action.ASSIGN: AssignBody,
    Action.CHANGE: ChangeBody,
    Action.REPLY: ReplyBody,
    Action.NOTE: NoteBody,
    Action.REQUEST_INFO: RequestInfoBody,
    Action.ESCALATE: EscalateBody,
    Action.RESOLVE: ResolveBody,
    Action.CLOSE: CloseBody,
    Action.REOPEN: CommentBody,
    Action.REQUESTER_REPLY: RequesterReplyBody,
    Action.REMIND: CommentBody,
    Action.RATE: RatingBody,
}

ENTRY_KINDS: dict[Action, EntryKind] = {
    Action.ASSIGN: EntryKind.ASSIGNED,
    Action.CHANGE: EntryKind.CHANGED,
    Action.REPLY: EntryKind.REPLY,
    Action.NOTE: EntryKind.NOTE,
    Action.REQUEST_INFO: EntryKind.INFO_REQUESTED,
    Action.ESCALATE: EntryKind.ESCALATED,
    Action.RESOLVE: EntryKind.RESOLVED,
    Action.CLOSE: EntryKind.CLOSED,
    Action.REOPEN: EntryKind.REOPENED,
    Action.REQUESTER_REPLY: EntryKind.MESSAGE,
    Action.REMIND: EntryKind.REMINDER,
    Action.RATE: EntryKind.RATED,
}

# What an agent decides on when acting: a ticket whose status, owner, team or priority
# changed since the agent read it may call for another action.
DECIDED_ON = ("status", "assignee", "team", "priority")
# Actions the desk takes on its own that add a record and decide nothing for anyone.
SYSTEM_RECORDS = {Action.REMIND}


def moves_version(action: Action | None, before: Ticket, after: Ticket) -> bool:
    """Whether a write makes a new version of the ticket for agents (a new HTTP ETag).

    Every action a person takes does (an agent's or the requester's: another agent acting
    on the version before would overwrite or ignore it). A record the desk adds on its
    own (`action` None or a system record: a sent email, an SLA clock event, a reminder)
    does only when it changes what agents decide on, as an SLA breach that raises the
    priority or escalates the ticket does."""
    if action is not None and action not in SYSTEM_RECORDS:
        return True
    return any(getattr(before, name) != getattr(after, name) for name in DECIDED_ON)


# Entries the requester sees (in the portal and by email); the rest are internal.
PUBLIC = {Action.REPLY, Action.REQUEST_INFO, Action.RESOLVE, Action.CLOSE, Action.REOPEN,
          Action.REQUESTER_REPLY, Action.REMIND, Action.RATE}


def apply_action(
    ticket: Ticket,
    action: Action,
    body: ActionBody,
    *,
    actor: str,
    roles: frozenset[str],
    now: datetime,
    field_edit: FieldEdit | None = None,
) -> tuple[Ticket, ThreadEntry]:
    """The ticket after the action and the entry recording it; raises `NotAllowed`.
    `field_edit`: a change's fields, checked against the category's definitions."""
    before = Status(ticket.status)
    after = decide(action, before, roles)
    changes: dict[str, Any] = {"status": after, "updated_at": now,
                               "last_seq": ticket.last_seq + 1}
    text = ""
    data: dict[str, Any] = {}
    if isinstance(body, AssignBody):
        if body.agent is not None:
            changes["assignee"] = body.agent
        if body.team is not None:
            changes["team"] = body.team
        data = {"agent": body.agent, "team": body.team,
                "previous_agent": ticket.assignee, "previous_team": ticket.team}
    elif isinstance(body, ChangeBody):
        # The SLA clock keeps the targets it started with, as after a breach raises the
        # priority: a new priority changes what the queues sort by, not a promise made.
        if body.priority is not None:
            changes["priority"] = body.priority
            data.update(priority=body.priority.value, previous_priority=ticket.priority.value)
        if body.category is not None:
            changes["category"] = body.category
            data.update(category=body.category, previous_category=ticket.category)
        if field_edit is not None:
            changes["fields"] = field_edit[0]
            data["fields"] = field_edit[1] or None
    elif isinstance(body, ReplyBody):
        text = body.body
        if ticket.first_response_at is None:
            changes["first_response_at"] = now
            data["first_response"] = True
    elif isinstance(body, NoteBody | RequesterReplyBody):
        text = body.body
    elif isinstance(body, RequestInfoBody):
        text = body.question
    elif isinstance(body, EscalateBody):
        text = body.reason
        changes["team"] = body.tier
        data = {"tier": body.tier, "team": body.tier, "previous_team": ticket.team,
                "vendor_name": body.vendor_name, "vendor_reference": body.vendor_reference}
    elif isinstance(body, ResolveBody):
        text = body.resolution
        changes["resolution"] = body.resolution
        changes["resolved_at"] = now
    elif isinstance(body, CommentBody):
        text = body.comment
        if action is Action.CLOSE:
            changes["closed_at"] = now
        if action is Action.REOPEN:
            changes["resolved_at"] = None
            changes["closed_at"] = None
        if action is Action.REMIND:
            changes["reminded_at"] = now
    elif isinstance(body, RatingBody):
        text = body.comment
        changes.update(satisfied=body.solved, satisfaction_comment=body.comment or None,
                       rated_at=now)
        data = {"solved": body.solved}
    if action is not Action.REMIND and before is Status.PENDING:
        changes["reminded_at"] = None
    if is_done(before) and not is_done(after):
        # A rating answers one resolution; back at work, the ticket awaits the next.
        changes.update(satisfied=None, satisfaction_comment=None, rated_at=None)
    if after is not before:
        data.update({"from": before.value, "to": after.value})
    entry = ThreadEntry(
        seq=ticket.last_seq + 1,
        kind=ENTRY_KINDS[action],
        at=now,
        actor=actor,
        public=action in PUBLIC,
        body=text,
        data={k: v for k, v in data.items() if v is not None},
    )
    return ticket.model_copy(update=changes), entry
