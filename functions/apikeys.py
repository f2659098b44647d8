"""Admins manage API keys: `POST /api/apikeys` (shown once), list, revoke."""

from __future__ import annotations

import azure.functions as func
from pydantic import ValidationError

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response
from shared.admin.apikeys import ApiKeyRequest, new_key
from shared.core.errors import NotFound, ValidationFailed, field_errors

bp = func.Blueprint()


@bp.function_name("apikeys_create")
@bp.route(route="apikeys", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def apikeys_create(req: func.HttpRequest) -> func.HttpResponse:
    admin = await agent(req, "admin")
    try:
        request = ApiKeyRequest.model_validate(json_body(req) or {})
    except ValidationError as exc:
        raise ValidationFailed("Invalid API key request.", errors=field_errors(exc)) from None
    desk = await helpdesk()
    created = new_key(request, by=admin.user_id, now=desk.clock())
    await desk.apikeys.put(created.info)
    return json_response(created, status=201, headers={"Cache-Control": "no-store"})


@bp.function_name("apikeys_list")
@bp.route(route="apikeys", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def apikeys_list(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    keys = await (await helpdesk()).apikeys.list()
    return json_response([k.model_dump(mode="json") for k in keys])


@bp.function_name("apikeys_revoke")
@bp.route(route="apikeys/{id}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def apikeys_revoke(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    desk = await helpdesk()
    info = await desk.apikeys.get(req.route_params.get("id", ""))
    if info is None:
        raise NotFound("No such API key.")
    await desk.apikeys.put(info.model_copy(update={"revoked": True}))
    return func.HttpResponse(status_code=204)
