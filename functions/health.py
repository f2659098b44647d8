"""`GET /api/health`: the app is up, and whether each storage service answers."""

from __future__ import annotations

import asyncio

import azure.functions as func

from functions.deps import helpdesk
from functions.http import json_response
from shared.storage.clients import StorageClients

bp = func.Blueprint()


async def _probe(clients: StorageClients) -> dict[str, str]:
    async def check(name: str, call) -> tuple[str, str]:
        try:
            await asyncio.wait_for(call(), timeout=5)
            return name, "ok"
        except Exception as exc:  # any failure means "down"; the reason helps ops
            return name, f"error: {type(exc).__name__}"

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
    except Exception as exc:  # storage down at start-up, or a bad setting
        return json_response({"status": "down", "error": str(exc)}, status=503)
    services = await _probe(desk.clients)
    healthy = all(v == "ok" for v in services.values())
    return json_response({"status": "ok" if healthy else "degraded", "services": services},
                         status=200 if healthy else 503)
