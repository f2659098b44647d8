"""Agents reading tickets: `GET /api/tickets/{number}` and its attachments."""

from __future__ import annotations

from urllib.parse import quote

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_response
from shared.errors import NotFound
from shared.numbering import is_valid
from shared.tickets import read_attachment, read_ticket

bp = func.Blueprint()


def _number(req: func.HttpRequest) -> str:
    number = req.route_params.get("number", "")
    if not is_valid(number):
        raise NotFound(f"No ticket {number!r}: a ticket number has 8 digits "
                       "and its last digit is a check digit.")
    return number


@bp.function_name("tickets_get")
@bp.route(route="tickets/{number}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_get(req: func.HttpRequest) -> func.HttpResponse:
    agent(req)
    view = await read_ticket(_number(req), desk=await helpdesk())
    return json_response(view, headers={"ETag": view.etag, "Cache-Control": "no-store"})


@bp.function_name("tickets_attachment")
@bp.route(route="tickets/{number}/attachments/{id}", methods=["GET"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def tickets_attachment(req: func.HttpRequest) -> func.HttpResponse:
    agent(req)
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
            "Digest": f"sha-256={info.sha256}",
        },
    )
