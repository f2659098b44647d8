"""`GET /api/openapi.json`: the API's description."""

from __future__ import annotations

from functools import cache

import azure.functions as func

from functions.http import json_response
from functions.openapi_spec import spec

bp = func.Blueprint()


@cache
def _spec() -> dict:
    return spec()


@bp.function_name("openapi_get")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def openapi_get(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(_spec())
