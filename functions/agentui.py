"""The agents' web page and the small endpoints only it needs: queue counts and search.

`GET /api/agent` is a single-page shell (HTML from a template, behaviour from
`functions/static/agent/*.js`); everything it shows comes from the JSON API.
"""

from __future__ import annotations

from urllib.parse import urlencode

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_response, principal
from functions.web import _env, html_response
from shared.admin.agents import keep_agent_record
from shared.core.errors import Forbidden
from shared.tickets.queues import queue_counts
from shared.tickets.search import search

bp = func.Blueprint()

PAGE = "/api/agent"


@bp.function_name("agentui_page")
@bp.route(route="agent", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def agentui_page(req: func.HttpRequest) -> func.HttpResponse:
    """Signed-out browsers go to the sign-in; signed-in people without the role, or
    removed by an admin, get 403; where sign-in is not configured, how to set it up."""
    desk = await helpdesk()
    env = _env()
    if not desk.settings.sign_in_enabled:
        page = env.get_template("agent/not-configured.html.j2").render(
            helpdesk_name=desk.settings.helpdesk_name)
        return html_response(page, status=401)
    who = principal(req)
    if who is None:
        query = urlencode({"post_login_redirect_uri": PAGE})
        return func.HttpResponse(status_code=302, headers={
            "Location": f"{desk.settings.sign_in_path}?{query}", "Cache-Control": "no-store"})
    removed = False
    if who.has("agent"):
        try:
            await keep_agent_record(who, desk=desk)
        except Forbidden:
            removed = True
    if removed or not who.has("agent"):
        page = env.get_template("agent/forbidden.html.j2").render(
            helpdesk_name=desk.settings.helpdesk_name, name=who.name, removed=removed)
        return html_response(page, status=403)
    page = env.get_template("agent/app.html.j2").render(
        helpdesk_name=desk.settings.helpdesk_name, me=who,
        max_attachment_bytes=desk.settings.limits.attachment_bytes,
        max_attachments=desk.settings.limits.attachments_per_ticket)
    return html_response(page)


@bp.function_name("agentui_counts")
@bp.route(route="queues/counts", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def agentui_counts(req: func.HttpRequest) -> func.HttpResponse:
    me = await agent(req)
    counts = await queue_counts(me=me.user_id, desk=await helpdesk(),
                                statuses=req.params.get("statuses") in ("1", "true"))
    return json_response(counts, headers={"Cache-Control": "no-store"})


@bp.function_name("agentui_search")
@bp.route(route="search", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def agentui_search(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req)
    result = await search(req.params.get("q", ""), desk=await helpdesk())
    return json_response(result, headers={"Cache-Control": "no-store"})
