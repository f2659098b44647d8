"""Tracing: one trace from intake through the queue to the sent email.

OpenTelemetry's API does nothing until a tracer provider is configured, so the spans below
cost next to nothing locally and in tests. `configure(env)` installs Azure Monitor's
distribution (azure-monitor-opentelemetry, imported only then) when
`APPLICATIONINSIGHTS_CONNECTION_STRING` is set, as it is in Azure.

The trace crosses the queue in the message itself: a producer stamps the W3C `traceparent`
of the current span on the event (`current_traceparent`), and the queue handler starts its
span as a child of it (`consuming`). Messages without one (older ones, or those published
outside any span, such as the SLA sweep's) simply start a new trace.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
# Entra ID authentication for telemetry, in the format the Functions host reads as well:
# "Authorization=AAD;ClientId=<client id of the user-assigned identity>".
AUTHENTICATION_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"

TRACER_NAME = "helpdesk"

_propagator = TraceContextTextMapPropagator()

P = ParamSpec("P")
R = TypeVar("R")


def azure_monitor_options(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The arguments for `configure_azure_monitor`, or None when telemetry is not configured."""
    connection = env.get(CONNECTION_SETTING)
    if not connection:
        return None
    # The Functions host already forwards the worker's log records to Application Insights;
    # exporting them here as well would store every line twice.
    options: dict[str, Any] = {"connection_string": connection, "disable_logging": True}
    auth = env.get(AUTHENTICATION_SETTING) or ""
    parts = {key.strip().lower(): value.strip()
             for key, _, value in (part.partition("=") for part in auth.split(";")) if value}
    if parts.get("authorization", "").upper() == "AAD":
        options["managed_identity_client_id"] = parts.get("clientid")
    return options


def configure(env: Mapping[str, str]) -> bool:
    """Send traces to Application Insights when it is configured; say whether it is."""
    options = azure_monitor_options(env)
    if options is None:
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor

    if "managed_identity_client_id" in options:
        from azure.identity import ManagedIdentityCredential

        client_id = options.pop("managed_identity_client_id")
        options["credential"] = ManagedIdentityCredential(client_id=client_id) if client_id \
            else ManagedIdentityCredential()
    configure_azure_monitor(**options)
    return True


def _tracer() -> trace.Tracer:
    # Looked up on each use, so a provider configured after import (or by a test) applies.
    return trace.get_tracer(TRACER_NAME)


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None outside a recorded span."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def _context_from(traceparent: str | None) -> otel_context.Context | None:
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


@contextmanager
def span(name: str, *, kind: trace.SpanKind = trace.SpanKind.INTERNAL,
         traceparent: str | None = None, attributes: Mapping[str, str | int] | None = None,
         ) -> Iterator[trace.Span]:
    """A span under the current one, or under `traceparent` when given."""
    with _tracer().start_as_current_span(name, context=_context_from(traceparent), kind=kind,
                                         attributes=dict(attributes or {})) as current:
        yield current


def consuming(name: str, traceparent: str | None, **attributes: str | int) -> Any:
    """The span of a queue handler, continuing the trace of the message's producer."""
    return span(name, kind=trace.SpanKind.CONSUMER, traceparent=traceparent,
                attributes=attributes)


def traced(name: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Wrap an async HTTP handler in a server span. A `traceparent` header from the caller
    (or the host) makes the span its child; `functools.wraps` keeps the signature the
    Functions worker reads the bindings from."""

    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(handler)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            headers = getattr(args[0], "headers", None) if args else None
            parent = headers.get("traceparent") if headers is not None else None
            with span(name, kind=trace.SpanKind.SERVER, traceparent=parent):
                return await handler(*args, **kwargs)

        return wrapper

    return decorate
