"""What an agent's action asks, parsed and checked before it is applied
(`shared/tickets/workflow.py` applies it): the action's name (404 for one agents do not
take), its body (422 naming each bad field), a request body of its own model (merge,
link), the files a reply carries (400 when not base64), "me" standing for the one who
acts, the directory names it refers to (422 when one does not exist), and a reply's
canned response rendered for the ticket. Nothing here writes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.core.actions import (
    BODIES,
    ActionBody,
    AssignBody,
    ChangeBody,
    EscalateBody,
    ReplyBody,
)
from shared.core.directory import Agent, CannedResponse, CategoryDef, Team, render_canned
from shared.core.errors import BadRequest, NotFound, ValidationFailed, field_errors
from shared.core.lifecycle import Action
from shared.core.models import AttachmentUpload

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

# Taken by the requester or the desk itself, never through the agents' action endpoint.
SYSTEM_ACTIONS = {Action.REQUESTER_REPLY, Action.REMIND, Action.RATE}


def parse_action(name: str) -> Action:
    try:
        action = Action(name)
    except ValueError:
        action = None
    if action is None or action in SYSTEM_ACTIONS:
        agent_actions = [a.value for a in Action if a not in SYSTEM_ACTIONS]
        raise NotFound(f"No action {name!r}; one of: {', '.join(agent_actions)}.")
    return action


def parse_body(action: Action, raw: Mapping[str, Any] | None) -> ActionBody:
    try:
        return BODIES[action].model_validate(dict(raw or {}))
    except ValidationError as exc:
        raise ValidationFailed(f"The {action.value} request has invalid fields.",
                               errors=field_errors(exc)) from None


def parse_model(model: type[ActionBody], raw: Mapping[str, Any] | None, *, what: str
                ) -> Any:
    """A request body of its own model (merge, link), or 422 naming each bad field."""
    try:
        return model.model_validate(dict(raw or {}))
    except ValidationError as exc:
        raise ValidationFailed(f"The {what} request has invalid fields.",
                               errors=field_errors(exc)) from None


def decode_uploads(body: ActionBody) -> list[AttachmentUpload]:
    """The files a reply carries in its body, decoded (400 naming one that is not base64)."""
    if not isinstance(body, ReplyBody):
        return []
    uploads = []
    for i, item in enumerate(body.attachments):
        try:
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"attachments[{i}].data is not base64.",
                             errors=[{"field": f"attachments.{i}.data",
                                      "message": "not base64"}]) from None
        uploads.append(AttachmentUpload(filename=item.filename,
                                        content_type=item.content_type, data=data))
    return uploads


def for_actor(body: ActionBody, actor: str) -> ActionBody:
    """`body` with "me" (as the queue filters take it) standing for the one who acts."""
    if isinstance(body, AssignBody) and body.agent == "me":
        return body.model_copy(update={"agent": actor})
    return body


async def check_references(body: ActionBody, *, desk: Helpdesk) -> None:
    """422 when the body names a team, agent or category the directory does not have."""
    errors = []
    if isinstance(body, AssignBody):
        if body.team is not None and await desk.directory.get(Team, body.team) is None:
            errors.append({"field": "team", "message": f"no team {body.team!r}"})
        if body.agent is not None and await desk.directory.get(Agent, body.agent) is None:
            errors.append({"field": "agent", "message": f"no agent {body.agent!r}"})
    if isinstance(body, ChangeBody) and body.category is not None \
            and await desk.directory.get(CategoryDef, body.category) is None:
        errors.append({"field": "category", "message": f"no category {body.category!r}"})
    if isinstance(body, EscalateBody) and await desk.directory.get(Team, body.tier) is None:
        errors.append({"field": "tier", "message": f"no team {body.tier!r}"})
    if errors:
        raise ValidationFailed("The request names something that does not exist.",
                               errors=errors)


async def expand_canned(number: str, body: ReplyBody, *, actor: str, desk: Helpdesk
                        ) -> ReplyBody:
    """The reply with its canned response rendered for this ticket, before its own text."""
    canned = await desk.directory.get(CannedResponse, body.canned or "")
    if canned is None:
        raise ValidationFailed("No such canned response.",
                               errors=[{"field": "canned", "message": f"no {body.canned!r}"}])
    stored = await desk.tickets.get(number)
    if stored is None:
        raise NotFound(f"No ticket {number}.")
    agent = await desk.directory.get(Agent, actor)
    text = render_canned(canned.body, {
        "requester_name": stored.ticket.requester_name, "number": stored.ticket.number,
        "subject": stored.ticket.subject, "agent_name": agent.name if agent else actor})
    combined = "\n\n".join(part for part in (text, body.body) if part)
    return body.model_copy(update={"body": combined, "canned": None})
