"""`GET /api/health`: the app is up, and whether each storage service answers.

Anyone may call it, so it says only "ok", "degraded" or "down" and which service is
down; why (an exception's text can carry host names, account names or a setting's
value) goes to the log, where operators look.
"""

from __future__ import annotations

import asyncio
import logging

import azure.functions as func

from functions.deps import helpdesk
from functions.http import json_response
from shared.storage.clients import StorageClients

bp = func.Blueprint()
log = logging.getLogger(__name__)


async def _probe(clients: StorageClients) -> dict[str, str]:
    async def check(name: str, call) -> tuple[str, str]:
        try:
            await asyncio.wait_for(call(), timeout=5)
            return name, "ok"
        except Exception:  # any failure means "down"; the reason is for the log only
            log.warning("health: the %s service does not answer", name, exc_info=True)
            return name, "down"

    results = await asyncio.gather(
        check("tables", lambda: clients.tables.get_service_properties()),
        check("blobs", lambda: clients.blobs.get_service_properties()),
        check("queues", lambda: clients.queues.get_service_properties()),
    )
    return dict(results)


@bp.function_name("health_get")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health_get(req: func.HttpRequest) -> func.HttpResponse:
    try:
        desk = await helpdesk()
    except Exception:  # storage down at start-up, or a bad setting
        log.exception("health: the help desk could not start")
        return json_response({"status": "down"}, status=503)
    services = await _probe(desk.clients)
    healthy = all(v == "ok" for v in services.values())
    return json_response({"status": "ok" if healthy else "degraded", "services": services},
                         status=200 if healthy else 503)
