"""Agents and tickets: reading one, listing queues, and acting on one."""

from __future__ import annotations

from urllib.parse import quote

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response
from shared.core import telemetry
from shared.core.errors import NotFound
from shared.core.numbering import is_valid
from shared.tickets import collaborators
from shared.tickets.queues import list_queue, parse_query
from shared.tickets.views import for_agent, read_attachment, read_ticket
from shared.tickets.workflow import act, parse_action, parse_body

bp = func.Blueprint()


def _number(req: func.HttpRequest) -> str:
    number = req.route_params.get("number", "")
    if not is_valid(number):
        raise NotFound(f"No ticket {number!r}: a ticket number has 8 digits "
                       "and its last digit is a check digit.")
    return number


@bp.function_name("tickets_list")
@bp.route(route="tickets", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_list(req: func.HttpRequest) -> func.HttpResponse:
    me = await agent(req)
    page = await list_queue(parse_query(dict(req.params)), me=me.user_id,
                            desk=await helpdesk())
    return json_response(page, headers={"Cache-Control": "no-store"})


@bp.function_name("tickets_get")
@bp.route(route="tickets/{number}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_get(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    view = for_agent(await read_ticket(_number(req), desk=await helpdesk()), who.roles)
    return json_response(view, headers={"ETag": view.etag, "Cache-Control": "no-store"})


@bp.function_name("tickets_act")
@bp.route(route="tickets/{number}/{action}", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.traced("tickets_act")
@handles_errors
async def tickets_act(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    action = parse_action(req.route_params.get("action", ""))
    number = _number(req)
    body = parse_body(action, json_body(req, optional=True))
    view = await act(number, action, body, actor=who.user_id, roles=who.roles,
                     if_match=req.headers.get("if-match"), desk=await helpdesk())
    view = for_agent(view, who.roles)
    return json_response(view, headers={"ETag": view.etag, "Cache-Control": "no-store"})


@bp.function_name("tickets_collaborator_add")
@bp.route(route="tickets/{number}/collaborators", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_collaborator_add(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    number = _number(req)
    email = collaborators.parse_body(json_body(req))
    view = await collaborators.add(number, email, actor=who.user_id, via="agent",
                                   if_match=req.headers.get("if-match"),
                                   desk=await helpdesk())
    view = for_agent(view, who.roles)
    return json_response(view, headers={"ETag": view.etag, "Cache-Control": "no-store"})


@bp.function_name("tickets_collaborator_remove")
@bp.route(route="tickets/{number}/collaborators/{email}", methods=["DELETE"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_collaborator_remove(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    number = _number(req)
    email = req.route_params.get("email", "").strip().lower()
    view = await collaborators.remove(number, email, actor=who.user_id, via="agent",
                                      if_match=req.headers.get("if-match"),
                                      desk=await helpdesk())
    view = for_agent(view, who.roles)
    return json_response(view, headers={"ETag": view.etag, "Cache-Control": "no-store"})


@bp.function_name("tickets_attachment")
@bp.route(route="tickets/{number}/attachments/{id}", methods=["GET"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_attachment(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req)
    info, data = await read_attachment(_number(req), req.route_params.get("id", ""),
                                       desk=await helpdesk())
    ascii_name = info.filename.encode("ascii", "replace").decode().replace('"', "_")
    return func.HttpResponse(
        data,
        status_code=200,
        headers={
            "Content-Type": info.content_type,
            "Content-Disposition": (
                f'attachment; filename="{ascii_name}"; '
                f"filename*=UTF-8''{quote(info.filename, safe='')}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
        },
    )
