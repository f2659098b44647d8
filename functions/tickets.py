"""Agents and tickets: reading one, listing queues, acting on one or many, and who else
has one open."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response
from shared.core import telemetry
from shared.core.errors import NotFound
from shared.core.models import AgentTicketView
from shared.core.numbering import is_valid
from shared.core.relations import LinkBody, MergeBody
from shared.tickets import collaborators, presence, relations
from shared.tickets.actionbodies import parse_action, parse_body, parse_model
from shared.tickets.bulk import act_on_many
from shared.tickets.queues import list_queue, parse_query
from shared.tickets.views import for_agent, read_attachment, read_ticket, with_links
from shared.tickets.workflow import act

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

bp = func.Blueprint()


def _number(req: func.HttpRequest, param: str = "number") -> str:
    number = req.route_params.get(param, "")
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
    desk = await helpdesk()
    view = for_agent(await with_links(await read_ticket(_number(req), desk=desk), desk=desk),
                     who.roles)
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
    desk = await helpdesk()
    view = await act(number, action, body, actor=who.user_id, roles=who.roles,
                     if_match=req.headers.get("if-match"), desk=desk)
    return await _answer(view, who.roles, desk=desk)


async def _answer(view: AgentTicketView, roles: frozenset[str], *, desk: Helpdesk
                  ) -> func.HttpResponse:
    view = for_agent(await with_links(view, desk=desk), roles)
    return json_response(view, headers={"ETag": view.etag, "Cache-Control": "no-store"})


@bp.function_name("tickets_bulk")
@bp.route(route="tickets/bulk", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.traced("tickets_bulk")
@handles_errors
async def tickets_bulk(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    outcome = await act_on_many(json_body(req) or {}, actor=who.user_id, roles=who.roles,
                                desk=await helpdesk())
    return json_response(outcome, headers={"Cache-Control": "no-store"})


@bp.function_name("tickets_presence")
@bp.route(route="tickets/{number}/presence", methods=["PUT"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_presence(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    number = _number(req)
    beat = presence.parse_heartbeat(json_body(req, optional=True))
    here = await presence.heartbeat(number, beat, who=who, desk=await helpdesk())
    return json_response(here, headers={"Cache-Control": "no-store"})


@bp.function_name("tickets_presence_leave")
@bp.route(route="tickets/{number}/presence", methods=["DELETE"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_presence_leave(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    await presence.leave(_number(req), who=who, desk=await helpdesk())
    return func.HttpResponse(status_code=204, headers={"Cache-Control": "no-store"})


# Merge and links: literal routes, which take precedence over `{action}` above.
@bp.function_name("tickets_merge")
@bp.route(route="tickets/{number}/merge", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_merge(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    number = _number(req)
    body = parse_model(MergeBody, json_body(req), what="merge")
    desk = await helpdesk()
    view = await relations.merge(number, body, actor=who.user_id,
                                 if_match=req.headers.get("if-match"), desk=desk)
    return await _answer(view, who.roles, desk=desk)


@bp.function_name("tickets_link")
@bp.route(route="tickets/{number}/links", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_link(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    number = _number(req)
    body = parse_model(LinkBody, json_body(req), what="link")
    desk = await helpdesk()
    view = await relations.link(number, body, actor=who.user_id,
                                if_match=req.headers.get("if-match"), desk=desk)
    return await _answer(view, who.roles, desk=desk)


@bp.function_name("tickets_unlink")
@bp.route(route="tickets/{number}/links/{other}", methods=["DELETE"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_unlink(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    number, other = _number(req), _number(req, "other")
    desk = await helpdesk()
    view = await relations.unlink(number, other, actor=who.user_id,
                                  if_match=req.headers.get("if-match"), desk=desk)
    return await _answer(view, who.roles, desk=desk)


@bp.function_name("tickets_collaborator_add")
@bp.route(route="tickets/{number}/collaborators", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_collaborator_add(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    number = _number(req)
    email = collaborators.parse_body(json_body(req))
    desk = await helpdesk()
    view = await collaborators.add(number, email, actor=who.user_id, via="agent",
                                   if_match=req.headers.get("if-match"), desk=desk)
    return await _answer(view, who.roles, desk=desk)


@bp.function_name("tickets_collaborator_remove")
@bp.route(route="tickets/{number}/collaborators/{email}", methods=["DELETE"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_collaborator_remove(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    number = _number(req)
    email = req.route_params.get("email", "").strip().lower()
    desk = await helpdesk()
    view = await collaborators.remove(number, email, actor=who.user_id, via="agent",
                                      if_match=req.headers.get("if-match"), desk=desk)
    return await _answer(view, who.roles, desk=desk)


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
