"""Fetched mailboxes: the timer that queues a fetch of each, the queue function that
fetches one, and what operators see (health for admins, the alert banner for agents).
Mailboxes themselves are directory data: `PUT /api/directory/mailboxes/{id}`."""

from __future__ import annotations

import logging

import azure.functions as func

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_response
from shared.channels import mailfetch
from shared.core.errors import NotFound
from shared.core.mailboxes import FetchRequest
from shared.storage.clients import MAILBOX_FETCH_QUEUE

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("mailboxes_schedule")
@bp.timer_trigger(arg_name="timer", schedule="%HELPDESK_MAILBOX_FETCH_SCHEDULE%",
                  run_on_startup=False)
async def mailboxes_schedule(timer: func.TimerRequest) -> None:
    queued = await mailfetch.schedule(desk=await helpdesk())
    if queued:
        log.info("mailboxes: fetch queued for %s", ", ".join(queued))


@bp.function_name("mailboxes_fetch")
@bp.queue_trigger(arg_name="msg", queue_name=MAILBOX_FETCH_QUEUE,
                  connection="AzureWebJobsStorage")
async def mailboxes_fetch(msg: func.QueueMessage) -> None:
    # Failures of the mailbox, its login or storage are recorded in its health and tried
    # again by the next timer round, not by redelivering this message.
    request = FetchRequest.model_validate_json(msg.get_body())
    result = await mailfetch.fetch(request, desk=await helpdesk())
    log.info("mailbox %s: %s, %d fetched, %d quarantined%s", request.mailbox, result.outcome,
             result.fetched, result.quarantined, f": {result.error}" if result.error else "")


@bp.function_name("mailboxes_list")
@bp.route(route="mailboxes", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def mailboxes_list(req: func.HttpRequest) -> func.HttpResponse:
    """Every mailbox with its health (admins)."""
    await agent(req, "admin")
    return json_response(await mailfetch.overview(desk=await helpdesk()))


@bp.function_name("mailboxes_alerts")
@bp.route(route="mailboxes/alerts", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def mailboxes_alerts(req: func.HttpRequest) -> func.HttpResponse:
    """The mailboxes failing past the alert threshold: the agents' page shows a banner."""
    await agent(req)
    return json_response(await mailfetch.alerts(desk=await helpdesk()))


@bp.function_name("mailboxes_health")
@bp.route(route="mailboxes/{id}/health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def mailboxes_health(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    wanted = req.route_params.get("id", "")
    for item in await mailfetch.overview(desk=await helpdesk()):
        if item["mailbox"]["id"] == wanted:
            return json_response(item)
    raise NotFound(f"No mailbox {wanted!r}.")
