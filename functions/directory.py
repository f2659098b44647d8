"""Agents, teams and categories: agents read them, admins change them; `GET /api/me`."""

from __future__ import annotations

import azure.functions as func
from pydantic import BaseModel, ValidationError

from functions import auditing
from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response
from shared.admin.dryrun import dry_run
from shared.automation.rules import Rule
from shared.core.audit import changed_fields
from shared.core.directory import Agent, CannedResponse, CategoryDef, Team
from shared.core.errors import NotFound, ValidationFailed, field_errors
from shared.core.mailboxes import Mailbox
from shared.sla.clocks import SlaPlan

bp = func.Blueprint()

KINDS: dict[str, type[BaseModel]] = {"teams": Team, "agents": Agent, "categories": CategoryDef,
                                     "canned": CannedResponse, "rules": Rule,
                                     "sla-plans": SlaPlan, "mailboxes": Mailbox}
# Lists only admins read: a mailbox names its server, user and credential settings.
ADMIN_ONLY = {"mailboxes"}


def _kind(req: func.HttpRequest) -> type[BaseModel]:
    kind = req.route_params.get("kind", "")
    if kind not in KINDS:
        raise NotFound(f"No list {kind!r}; one of: {', '.join(KINDS)}.")
    return KINDS[kind]


@bp.function_name("directory_list")
@bp.route(route="directory/{kind}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def directory_list(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin" if req.route_params.get("kind") in ADMIN_ONLY else "agent")
    items = await (await helpdesk()).directory.list(_kind(req))
    return json_response([i.model_dump(mode="json") for i in items])


@bp.function_name("directory_put")
@bp.route(route="directory/{kind}/{id}", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def directory_put(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    model = _kind(req)
    raw = json_body(req) or {}
    try:
        item = model.model_validate({**raw, "id": req.route_params.get("id", "")})
    except ValidationError as exc:
        raise ValidationFailed("Invalid fields.", errors=field_errors(exc)) from None
    desk = await helpdesk()
    before = await desk.directory.get(model, item.id)  # type: ignore[attr-defined]
    auditing.note(summary=changed_fields(before.model_dump(mode="json") if before else None,
                                         item.model_dump(mode="json"),
                                         item.model_dump(exclude_unset=True)))
    await desk.directory.put(item)
    return json_response(item)


@bp.function_name("directory_delete")
@bp.route(route="directory/{kind}/{id}", methods=["DELETE"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def directory_delete(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    model = _kind(req)
    item_id = req.route_params.get("id", "")
    desk = await helpdesk()
    if not await desk.directory.delete(model, item_id):
        raise NotFound(f"No {req.route_params.get('kind')} entry {item_id!r}.")
    if model is Mailbox:  # a new mailbox of this id starts from "now" again
        await desk.mailboxes.forget(item_id)
    return func.HttpResponse(status_code=204)


@bp.function_name("directory_me")
@bp.route(route="me", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def directory_me(req: func.HttpRequest) -> func.HttpResponse:
    me = await agent(req)
    record = await (await helpdesk()).directory.get(Agent, me.user_id)
    return json_response({"id": me.user_id, "name": me.name, "roles": sorted(me.roles),
                          "agent": record.model_dump(mode="json") if record else None})


@bp.function_name("rules_test")
@bp.route(route="rules/test", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def rules_test(req: func.HttpRequest) -> func.HttpResponse:
    """Which rules would fire on a sample ticket, and what they would do; changes nothing."""
    await agent(req, "admin")
    return json_response(await dry_run(json_body(req) or {}, desk=await helpdesk()))
