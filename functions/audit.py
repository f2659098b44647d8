"""The audit log for admins: `GET /api/audit` (filtered, paged) and `GET /api/audit.csv`.
There is no route that changes or deletes an entry (functions/auditing.py writes them)."""

from __future__ import annotations

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_response
from shared.admin import audit
from shared.core.audit import parse_query

bp = func.Blueprint()


@bp.function_name("audit_list")
@bp.route(route="audit", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def audit_list(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    query = parse_query(dict(req.params))
    return json_response(await audit.page(query, desk=await helpdesk()),
                         headers={"Cache-Control": "no-store"})


@bp.function_name("audit_csv")
@bp.route(route="audit.csv", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def audit_csv(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    desk = await helpdesk()
    query = parse_query(dict(req.params))
    parts = [part async for part in audit.csv_lines(query, desk=desk)]
    name = f"audit-{desk.clock():%Y%m%d-%H%M%S}.csv"
    return func.HttpResponse("".join(parts), status_code=200, mimetype="text/csv",
                             charset="utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "X-Content-Type-Options": "nosniff",
                                      "Cache-Control": "no-store"})
