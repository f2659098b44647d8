"""Reports for supervisors: the summary of the daily figures and the tickets as CSV."""

from __future__ import annotations

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_response
from shared.reports import summaries

bp = func.Blueprint()


@bp.function_name("reports_summary")
@bp.route(route="reports/summary", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def reports_summary(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "supervisor")
    desk = await helpdesk()
    params, defaulted = summaries.with_default_range(dict(req.params), today=desk.clock().date())
    query = summaries.parse_query(params)
    return json_response(await summaries.summary(query, desk=desk, defaulted=defaulted),
                         headers={"Cache-Control": "no-store",
                                  "X-Report-Range": summaries.range_note(query, defaulted)})


@bp.function_name("reports_tickets_csv")
@bp.route(route="reports/tickets.csv", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def reports_tickets_csv(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "supervisor")
    desk = await helpdesk()
    params, defaulted = summaries.with_default_range(
        {k: v for k, v in req.params.items() if k in ("from", "to")}, today=desk.clock().date())
    query = summaries.parse_query(params)
    # The Python worker hands a response to the host whole (streaming needs the FastAPI
    # extension); the lines are produced a page of 1,000 index rows at a time.
    parts = [part async for part in summaries.tickets_csv(query.first, query.last, desk=desk)]
    name = f"tickets-{query.first.isoformat()}-{query.last.isoformat()}.csv"
    return func.HttpResponse("".join(parts), status_code=200, mimetype="text/csv", charset="utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "X-Content-Type-Options": "nosniff",
                                      "X-Report-Range": summaries.range_note(query, defaulted),
                                      "Cache-Control": "no-store"})

