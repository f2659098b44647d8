"""The HTTP front door: HTTP triggers, `/.auth/*` and a root redirect, over aiohttp.

Every request goes through one handler, in this order:

1. `/.auth/...`: App Service Authentication emulation (`easyauth`), unless it is off
   (`--no-auth`): then, as on an App Service without Authentication, there is no
   `/.auth/` and client-sent principal headers reach the app unchanged.
2. `/admin/...`: the small part of the host's admin API devhost offers (`admin`).
3. The app's HTTP triggers under `/{routePrefix}/`, matched by `routing` from the
   routes in the function registry: 404 when no route matches, 405 when none accepts
   the method, 401 when the auth level asks for a key the request lacks, 413 above
   Azure's 100 MB request limit. The function gets an `azure.functions.HttpRequest`
   whose headers carry the emulated `X-MS-CLIENT-PRINCIPAL*` (client-sent copies
   removed); its `HttpResponse` is sent back as is, Content-Type derived from
   mimetype and charset as the worker does. An exception becomes a generic 500.
4. Local convenience, not in Azure: `GET /` redirects (302) to the app's public web
   form, `ROOT_REDIRECT_PATH` under the route prefix (`/api/form` by default), so a
   browser pointed at the host lands somewhere useful.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict, MultiMapping

from devhost import admin
from devhost.easyauth import EasyAuth, forwarded_headers
from devhost.functions import FunctionSpec
from devhost.invoker import RETURN, InvocationResult, Invoker, log_invocation
from devhost.keys import Keys, is_authorized, presented_key
from devhost.loader import LoadError
from devhost.routing import MethodNotAllowed, RouteMatch, RouteTable, RouteTemplateError

log = logging.getLogger("devhost")

MAX_REQUEST_BYTES = 100 * 1024 * 1024  # Azure Functions' own request size limit
ROOT_REDIRECT_PATH = "form"  # the app's public web form, relative to the route prefix
_HOP_BY_HOP = ("content-length", "transfer-encoding", "connection", "keep-alive")


def root_redirect_target(route_prefix: str) -> str:
    """Where `GET /` points: `ROOT_REDIRECT_PATH` under the route prefix."""
    return "/" + "/".join(p for p in (route_prefix.strip("/"), ROOT_REDIRECT_PATH) if p)


def build_route_table(specs: Iterable[FunctionSpec], prefix: str) -> RouteTable[FunctionSpec]:
    """Routes from the registry: the trigger's route, or the function name when absent."""
    table: RouteTable[FunctionSpec] = RouteTable(prefix)
    for spec in specs:
        template = str(spec.trigger.route or spec.name)
        try:
            table.add(template, spec.trigger.methods, spec)
        except RouteTemplateError as exc:
            # The Functions host refuses to start on a bad route too.
            raise LoadError(f"function {spec.name}: {exc}") from exc
    return table


def joined(pairs: MultiMapping[str], *, fold_case: bool = False) -> dict[str, str]:
    """Collapse repeated names into one comma-joined value, as the host does."""
    result: dict[str, str] = {}
    for name, value in pairs.items():
        key = name.lower() if fold_case else name
        result[key] = f"{result[key]},{value}" if key in result else value
    return result


def to_aiohttp(value: Any) -> web.Response:
    """Turn a function's return value into the response the client gets."""
    if isinstance(value, func.HttpResponse):
        headers: CIMultiDict[str] = CIMultiDict()
        # werkzeug's Headers.items() yields every value of a repeated header (Set-Cookie).
        for name, header_value in value.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                headers.add(name, header_value)
        if "content-type" not in headers:
            mimetype = value.mimetype or "text/plain"
            charset = value.charset
            headers["Content-Type"] = (
                f"{mimetype}; charset={charset}"
                if mimetype.startswith("text/") and charset
                else mimetype
            )
        return web.Response(status=value.status_code, headers=headers, body=value.get_body() or b"")
    if isinstance(value, str):
        return web.Response(text=value, content_type="text/plain")
    if isinstance(value, bytes):
        return web.Response(body=value, content_type="application/octet-stream")
    if value is None:
        return web.Response(status=204)
    raise TypeError(f"an HTTP function returned {type(value).__name__}, not an HttpResponse")


def with_client_address(headers: CIMultiDict[str], remote: str | None) -> CIMultiDict[str]:
    """Append the peer to X-Forwarded-For, as App Service's front end does (the last entry
    is the one the platform vouches for; earlier ones are whatever the client sent)."""
    if remote:
        prior = headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {remote}" if prior else remote
    return headers


def _response_value(spec: FunctionSpec, result: InvocationResult) -> Any:
    """The return value, or an `Out` HTTP output binding's value when one is used."""
    for binding in spec.output("http"):
        if binding.name != RETURN and binding.name in result.outputs:
            return result.outputs[binding.name]
    return result.return_value


class HttpFrontDoor:
    """The aiohttp application serving one function app."""

    def __init__(
        self,
        specs: list[FunctionSpec],
        *,
        route_prefix: str,
        keys: Keys,
        invoker: Invoker,
        easyauth: EasyAuth | None = None,
        emulate_auth: bool = True,
        admin_specs: list[FunctionSpec] | None = None,
    ) -> None:
        self.routes = build_route_table(specs, route_prefix)
        self.route_prefix = route_prefix
        self._keys = keys
        self._invoker = invoker
        # Off, the host is an App Service without Authentication: no `/.auth/*`, and the
        # client's headers (a forged principal included) reach the app as sent.
        self._easyauth = (easyauth or EasyAuth()) if emulate_auth else None
        self._admin = admin.AdminApi(admin_specs or [], keys, invoker)

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if self._easyauth is not None and (path == "/.auth" or path.startswith("/.auth/")):
            return await self._easyauth.handle(request)
        if path.lower().startswith("/admin/"):
            return await self._admin.handle(request)
        found = self.routes.match(request.method, request.rel_url.raw_path)
        if isinstance(found, RouteMatch):
            return await self._call(request, found)
        if path == "/" and request.method in ("GET", "HEAD"):
            raise web.HTTPFound(root_redirect_target(self.route_prefix))
        if isinstance(found, MethodNotAllowed):
            raise web.HTTPMethodNotAllowed(request.method, sorted(found.allowed))
        raise web.HTTPNotFound()

    async def _call(
        self, request: web.Request, found: RouteMatch[FunctionSpec]
    ) -> web.StreamResponse:
        spec = found.route.payload
        started = time.perf_counter()
        if not is_authorized(
            spec.trigger.auth_level, presented_key(request.headers, request.query), self._keys
        ):
            log_invocation(spec, started, "401 (no valid key)")
            raise web.HTTPUnauthorized()
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_REQUEST_BYTES, request.content_length or 0)
        body = await request.read()  # raises 413 itself for chunked bodies over the limit
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=joined(
                with_client_address(
                    forwarded_headers(request.headers, self._easyauth.principal(request))
                    if self._easyauth is not None else CIMultiDict(request.headers),
                    request.remote,
                ),
                fold_case=True,
            ),
            params=joined(request.query),
            route_params=found.values,
            body=body,
        )
        try:
            result = await self._invoker.invoke(spec, http_request)
            response = to_aiohttp(_response_value(spec, result))
        except Exception as exc:
            log.exception("Function %s raised", spec.name)
            log_invocation(spec, started, f"500 (failed: {exc!r})")
            return web.Response(status=500, text="Internal Server Error")
        log_invocation(spec, started, str(response.status))
        return response
