"""Outbound webhooks: the admins' routes (endpoints, their delivery log, replay) and the
queue function that makes each delivery attempt (docs/webhooks.md)."""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response
from shared.core.errors import ValidationFailed, field_errors
from shared.core.webhooks import DeliveryMessage, EndpointSpec
from shared.storage.clients import WEBHOOK_DELIVERIES_QUEUE
from shared.webhooks import delivery, endpoints

bp = func.Blueprint()
log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}


def _spec(req: func.HttpRequest) -> EndpointSpec:
    try:
        return EndpointSpec.model_validate(json_body(req) or {})
    except ValidationError as exc:
        raise ValidationFailed("Invalid fields.", errors=field_errors(exc)) from None


@bp.function_name("webhooks_deliver")
@bp.queue_trigger(arg_name="msg", queue_name=WEBHOOK_DELIVERIES_QUEUE,
                  connection="AzureWebJobsStorage")
async def webhooks_deliver(msg: func.QueueMessage) -> None:
    # A failed attempt is retried by a new message queued with a delay, not by raising:
    # only storage trouble raises here (the host retries, then the poison queue).
    message = DeliveryMessage.model_validate_json(msg.get_body())
    await delivery.deliver(message, desk=await helpdesk())


@bp.function_name("webhooks_list")
@bp.route(route="webhooks", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def webhooks_list(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    return json_response(await endpoints.overview(desk=await helpdesk()), headers=NO_STORE)


@bp.function_name("webhooks_create")
@bp.route(route="webhooks", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def webhooks_create(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req, "admin")
    created = await endpoints.create(_spec(req), by=who.user_id, desk=await helpdesk())
    return json_response(created, status=201,
                         headers={**NO_STORE, "Location": f"/api/webhooks/{created['id']}"})


@bp.function_name("webhooks_put")
@bp.route(route="webhooks/{id}", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def webhooks_put(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req, "admin")
    changed = await endpoints.replace(req.route_params.get("id", ""), _spec(req),
                                      by=who.user_id, desk=await helpdesk())
    return json_response(changed, headers=NO_STORE)


@bp.function_name("webhooks_delete")
@bp.route(route="webhooks/{id}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def webhooks_delete(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    await endpoints.remove(req.route_params.get("id", ""), desk=await helpdesk())
    return func.HttpResponse(status_code=204)


@bp.function_name("webhooks_rotate")
@bp.route(route="webhooks/{id}/secret", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def webhooks_rotate(req: func.HttpRequest) -> func.HttpResponse:
    who = await agent(req, "admin")
    rotated = await endpoints.rotate(req.route_params.get("id", ""), by=who.user_id,
                                     desk=await helpdesk())
    return json_response(rotated, headers=NO_STORE)


@bp.function_name("webhooks_deliveries")
@bp.route(route="webhooks/{id}/deliveries", methods=["GET"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def webhooks_deliveries(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    found = await endpoints.deliveries(req.route_params.get("id", ""), desk=await helpdesk())
    return json_response(found, headers=NO_STORE)


@bp.function_name("webhooks_replay")
@bp.route(route="webhooks/{id}/deliveries/{event}/replay", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def webhooks_replay(req: func.HttpRequest) -> func.HttpResponse:
    await agent(req, "admin")
    replayed = await endpoints.replay(req.route_params.get("id", ""),
                                      req.route_params.get("event", ""), desk=await helpdesk())
    return json_response(replayed, status=202, headers=NO_STORE)
