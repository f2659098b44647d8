"""The one place that maps between HTTP and the help desk: problem JSON, JSON bodies,
principal extraction and error mapping for every HTTP function."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError
from pydantic import BaseModel

from functions import auditing
from functions.deps import helpdesk
from shared.admin.agents import keep_agent_record
from shared.admin.apikeys import ApiKey, Scope, check_key, client_address, split_key
from shared.core.auth import Principal, parse_principal, require
from shared.core.errors import (
    BadRequest,
    Forbidden,
    HelpdeskError,
    StorageUnavailable,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

Handler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None
                  ) -> func.HttpResponse:
    if isinstance(body, BaseModel):
        text = body.model_dump_json()
    else:
        text = json.dumps(body, default=str)
    return func.HttpResponse(text, status_code=status, headers=headers,
                             mimetype="application/json", charset="utf-8")


def problem_response(error: HelpdeskError, req: func.HttpRequest) -> func.HttpResponse:
    headers = {"Cache-Control": "no-store"}
    if "retry_after" in error.extra:
        headers["Retry-After"] = str(error.extra["retry_after"])
    return func.HttpResponse(
        json.dumps(error.to_problem(instance=_path(req.url))),
        status_code=error.status,
        headers=headers,
        mimetype="application/problem+json",
        charset="utf-8",
    )


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def principal(req: func.HttpRequest) -> Principal | None:
    return parse_principal(
        req.headers.get("x-ms-client-principal"),
        user_id=req.headers.get("x-ms-client-principal-id"),
    )


# A browser signed in through App Service Authentication sends its session cookie with
# every request, also one a hostile page makes it send. A state-changing request that
# carries cookies must also carry this header: a page of another origin cannot set it
# without a CORS preflight, which this app never grants. Callers with a bearer token send
# no cookie and need no header.
CSRF_HEADER = "x-helpdesk-request"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def agent(req: func.HttpRequest, role: str = "agent") -> Principal:
    """The signed-in agent, their directory record created or refreshed on the way
    (shared/admin/agents.py); raises 401/403 as problem JSON through `handles_errors`. The
    principal header counts only where App Service Authentication is on. The request's
    audit entry, if it needs one, is written here (functions/auditing.py)."""
    desk = await helpdesk()
    claimed = principal(req)
    try:
        who = require(claimed, role, sign_in_enabled=desk.settings.sign_in_enabled)
        if req.method.upper() not in SAFE_METHODS and req.headers.get("cookie") \
                and not req.headers.get(CSRF_HEADER):
            raise Forbidden(
                f"A signed-in browser must send the {CSRF_HEADER} header with this request.")
        await keep_agent_record(who, desk=desk)
    except Forbidden as error:  # a believed principal was refused: audited writes say so
        if claimed is not None and desk.settings.sign_in_enabled:
            await auditing.refused(req, claimed, role, error)
        raise
    # Written before the handler changes anything; 503 (and no change) if it cannot be.
    await auditing.begin_principal(req, who, role)
    return who


async def api_key(req: func.HttpRequest, scope: Scope) -> ApiKey:
    """The API key the request carries, if it may be used here for `scope` (401/403
    otherwise); the request's audit entry is written before anything is created."""
    desk = await helpdesk()
    address = client_address(req.headers.get("x-forwarded-for"))
    presented = req.headers.get("x-api-key")
    try:
        key = await check_key(presented, scope, address, keys=desk.apikeys)
    except Forbidden as error:  # a real key, used for another scope or from elsewhere
        parts = split_key(presented or "")
        if parts and (known := await desk.apikeys.get(parts[0])) is not None:
            await auditing.refused_key(req, known, error)
        raise
    await auditing.begin_key(req, key)
    return key


def json_body(req: func.HttpRequest, *, optional: bool = False) -> dict[str, Any] | None:
    """The request's JSON object; 415 for another media type, 400 if malformed."""
    raw = req.get_body()
    if not raw and optional:
        return None
    mimetype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType("Send application/json.")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None
    except RecursionError:  # the stdlib parser recurses once per nested array or object
        raise BadRequest("The body is not valid JSON: nested too deeply.") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def wants_html(req: func.HttpRequest) -> bool:
    accept = req.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def handles_errors(handler: Handler) -> Handler:
    """Turn `HelpdeskError` into problem JSON, storage that does not answer into 503 with
    Retry-After, and anything else into a logged, generic 500; complete the request's
    audit entry with the answer (functions/auditing.py)."""

    @functools.wraps(handler)
    @auditing.recorded
    async def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return await handler(req)
        except HelpdeskError as error:
            return problem_response(error, req)
        except AzureError as exc:
            # The SDKs' own errors reach here only where a service did not translate them:
            # storage unreachable, timed out or failing. Nothing partial stays visible
            # (intake and actions clean up or are completed by a retry or tools.repair).
            log.warning("storage error in %s: %s", handler.__name__, exc)
            return problem_response(StorageUnavailable(), req)
        except Exception:
            log.exception("unhandled error in %s", handler.__name__)
            return problem_response(HelpdeskError("Something went wrong on our side."), req)

    return wrapper
