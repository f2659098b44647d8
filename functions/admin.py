"""Admin operations: the poison queues (list, replay). (Not under `admin/`: the
Functions host reserves that path.)"""

from __future__ import annotations

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response
from shared.admin.poison import list_poison, replay
from shared.core.errors import ValidationFailed

bp = func.Blueprint()


@bp.function_name("admin_poison_list")
@bp.route(route="poison/{queue}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def admin_poison_list(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    desk = await helpdesk()
    messages = await list_poison(desk.clients, req.route_params.get("queue", ""))
    return json_response([m.model_dump(mode="json") for m in messages])


@bp.function_name("admin_poison_replay")
@bp.route(route="poison/{queue}/replay", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def admin_poison_replay(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    body = json_body(req, optional=True) or {}
    ids = body.get("ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise ValidationFailed("`ids` must be a list of message ids.",
                               errors=[{"field": "ids", "message": "list of strings"}])
    desk = await helpdesk()
    result = await replay(desk.clients, req.route_params.get("queue", ""),
                          set(ids) if ids is not None else None)
    return json_response(result)
