"""A requester's data: an admin's export of everything the desk holds about an address,
and its erasure (a job run from the `erasures` queue, and the daily retention timer).

The address travels in the request's body, never in a URL: a path or query string is
what request logs and the audit of admin writes keep.
"""

from __future__ import annotations

import logging

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response
from shared.admin import erasure
from shared.portal.export import export
from shared.storage.clients import ERASURES_QUEUE

bp = func.Blueprint()
log = logging.getLogger(__name__)


def zip_response(data: bytes, name: str) -> func.HttpResponse:
    return func.HttpResponse(data, status_code=200, headers={
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    })


@bp.function_name("requesters_export")
@bp.route(route="requesters/export", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def requesters_export(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    address = erasure.parse_address((json_body(req) or {}).get("email"))
    return zip_response(await export(address, desk=await helpdesk()), "requester-export.zip")


@bp.function_name("requesters_erase")
@bp.route(route="requesters/erase", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def requesters_erase(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req, "admin")
    job = await erasure.request_erasure(json_body(req) or {}, requested_by=who.user_id,
                                        desk=await helpdesk())
    return json_response(job, status=202,
                         headers={"Location": f"/api/requesters/erasures/{job.id}"})


@bp.function_name("requesters_erasure_status")
@bp.route(route="requesters/erasures/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def requesters_erasure_status(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    job = await erasure.job_status(req.route_params.get("id", ""), desk=await helpdesk())
    return json_response(job)


@bp.function_name("requesters_erasure_run")
@bp.queue_trigger(arg_name="msg", queue_name=ERASURES_QUEUE, connection="AzureWebJobsStorage")
async def requesters_erasure_run(msg: func.QueueMessage) -> None:
    # A message that does not parse raises: after maxDequeueCount tries it is in the
    # poison queue, where it names a job id and nothing else.
    await erasure.run(erasure.parse_message(msg.get_body()), desk=await helpdesk())


@bp.function_name("requesters_retention")
@bp.timer_trigger(arg_name="timer", schedule="0 41 2 * * *", run_on_startup=False)
async def requesters_retention(timer: func.TimerRequest) -> None:
    """Daily: unfinished erasures sent again; closed tickets past retention erased."""
    job = await erasure.retention(desk=await helpdesk())
    if job is not None:
        log.info("retention: erasure %s of %d closed tickets", job.id, job.tickets)
