"""The knowledge base over HTTP: agents promote, edit and search articles; anyone finds the
public ones (the web form's suggestions, the portal); agents see a ticket's look-alikes."""

from __future__ import annotations

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response
from functions.tickets import _number
from functions.web import _env, html_response
from shared.core.errors import HelpdeskError, StorageUnavailable
from shared.kb import knowledge

bp = func.Blueprint()
NO_STORE = {"Cache-Control": "no-store"}


@bp.function_name("kb_create")
@bp.route(route="kb/articles", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def kb_create(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req)
    article = await knowledge.create(json_body(req), author=who.user_id, desk=await helpdesk())
    return json_response(article, status=201, headers={"ETag": article.etag, **NO_STORE})


@bp.function_name("kb_get")
@bp.route(route="kb/articles/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def kb_get(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req)
    article = await knowledge.read(req.route_params.get("id", ""), desk=await helpdesk())
    return json_response(article, headers={"ETag": article.etag, **NO_STORE})


@bp.function_name("kb_edit")
@bp.route(route="kb/articles/{id}", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def kb_edit(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req)
    article = await knowledge.edit(req.route_params.get("id", ""), json_body(req),
                            if_match=req.headers.get("if-match"), desk=await helpdesk())
    return json_response(article, headers={"ETag": article.etag, **NO_STORE})


@bp.function_name("kb_search")
@bp.route(route="kb/search", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def kb_search(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req)
    hits = await knowledge.search(req.params.get("q", ""), desk=await helpdesk(), public_only=False)
    return json_response({"items": [h.model_dump() for h in hits]}, headers=NO_STORE)


@bp.function_name("kb_suggest")
@bp.route(route="kb/suggest", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def kb_suggest(req: func.HttpRequest) -> func.HttpResponse:
    """Public articles for a subject being typed (no sign-in: the web form asks)."""
    hits = await knowledge.search(req.params.get("q", ""), desk=await helpdesk(), public_only=True, limit=5)
    return json_response({"items": [{"id": h.id, "title": h.title, "snippet": h.snippet,
                                     "url": f"/api/help/{h.id}"} for h in hits]},
                         headers={"Cache-Control": "public, max-age=60"})


@bp.function_name("tickets_similar")
@bp.route(route="tickets/{number}/similar", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_similar(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req)
    found = await knowledge.similar(_number(req), desk=await helpdesk())
    return json_response(found, headers=NO_STORE)


@bp.function_name("help_search")
@bp.route(route="help", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def help_search(req: func.HttpRequest) -> func.HttpResponse:
    """The public help articles, searchable without signing in (HTML)."""
    desk = await helpdesk()
    query = req.params.get("q", "").strip()
    hits, error = [], None
    if query:
        try:
            hits = await knowledge.search(query, desk=desk, public_only=True)
        except HelpdeskError as exc:
            error = exc.detail
    page = _env().get_template("help/search.html.j2").render(
        helpdesk_name=desk.settings.helpdesk_name, query=query, hits=hits, error=error)
    return html_response(page, status=422 if error else 200)


@bp.function_name("help_article")
@bp.route(route="help/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def help_article(req: func.HttpRequest) -> func.HttpResponse:
    desk = await helpdesk()
    try:
        article = await knowledge.read(req.route_params.get("id", ""), desk=desk, public_only=True)
    except StorageUnavailable:
        return html_response("<!doctype html><title>Try again shortly</title><p>The help "
                             "articles cannot be read just now; please try again shortly.</p>",
                             status=503, headers={"Retry-After": str(StorageUnavailable.RETRY_AFTER)})
    except HelpdeskError:
        return html_response("<!doctype html><title>Not found</title><p>No such article. "
                             "<a href=\"/api/help\">All help articles</a></p>", status=404)
    page = _env().get_template("help/article.html.j2").render(
        helpdesk_name=desk.settings.helpdesk_name, article=article)
    return html_response(page)
