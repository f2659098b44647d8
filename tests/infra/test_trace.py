"""One trace from intake through the queue to the sent email.

The real handlers (as the Functions host calls them) run against the session's Azurite with
an OpenTelemetry SDK tracer that keeps spans in memory: the intake request's span, the queue
handler's span (started from the traceparent carried in the message) and the span around
sending the email share one trace id. The tracer is patched into shared.core.telemetry for the
test only, so no global tracer provider leaks into other tests.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from functions import deps
from shared.core import telemetry
from shared.core.events import TicketEvent
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.storage.events import EventQueue
from tests.conftest import LocalServices, app_env, unique_email
from tests.infra import templates as t


class KeptMail:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_tracer", lambda: provider.get_tracer(telemetry.TRACER_NAME))
    return exporter


@pytest.fixture
async def desk(test_services: LocalServices, monkeypatch: pytest.MonkeyPatch
               ) -> AsyncIterator[tuple[Helpdesk, KeptMail, Any]]:
    """The app's own Helpdesk (functions.deps) on Azurite, with a queue of the test's own
    (the e2e tests' host may poll the real one) and a mailer that keeps what it is given."""
    mail = KeptMail()
    started = await Helpdesk.start(Settings.from_env(app_env(test_services)), mailer=mail)
    queue = started.clients.queue(f"it-trace-{uuid.uuid4().hex[:8]}")
    await queue.create_queue()
    desk = dataclasses.replace(started, events=EventQueue(queue))
    monkeypatch.setattr(deps, "_desk", desk)
    yield desk, mail, queue
    await queue.delete_queue()
    await started.close()


def _handler(name: str) -> Any:
    return t.registered_functions()[name].get_user_function()


def _by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in finished}


async def test_intake_queue_and_email_are_one_trace(
        desk: tuple[Helpdesk, KeptMail, Any], spans: InMemorySpanExporter) -> None:
    _, mail, queue = desk
    request = func.HttpRequest(
        method="POST", url="http://127.0.0.1/api/tickets",
        headers={"content-type": "application/json", "x-forwarded-for": "203.0.113.77"},
        body=json.dumps({"name": "Ada", "email": unique_email("trace"), "subject": "Printer",
                         "description": "It jams.", "priority": "normal"}).encode())
    response = await _handler("intake_create")(request)
    assert response.status_code == 201

    (message,) = [m async for m in queue.receive_messages(max_messages=32)]
    body = json.loads(message.content)
    assert body["traceparent"].startswith("00-")
    await _handler("notifications_send")(QueueMessage(
        id=message.id, body=message.content.encode(), dequeue_count=1))
    assert len(mail.sent) == 1  # the acknowledgement

    named = _by_name(spans.get_finished_spans())
    intake, handler, send = named["intake_create"], named["notifications_send"], named["mail.send"]
    assert intake.context is not None and handler.context is not None and send.context is not None
    assert {intake.context.trace_id, handler.context.trace_id, send.context.trace_id} == \
        {intake.context.trace_id}
    assert intake.kind == trace.SpanKind.SERVER and handler.kind == trace.SpanKind.CONSUMER
    assert handler.parent is not None and handler.parent.span_id == intake.context.span_id
    assert send.parent is not None and send.parent.span_id == handler.context.span_id


async def test_an_incoming_traceparent_header_is_continued(spans: InMemorySpanExporter) -> None:
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @telemetry.traced("handler")
    async def handler(req: func.HttpRequest) -> str | None:
        return telemetry.current_traceparent()

    request = func.HttpRequest(method="GET", url="http://127.0.0.1/api/x", body=b"",
                               headers={"traceparent": caller})
    inner = await handler(request)
    assert inner is not None and inner.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    (span,) = spans.get_finished_spans()
    assert span.parent is not None and span.parent.span_id == 0x00F067AA0BA902B7


class SentMessages:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    async def send_message(self, content: str) -> None:
        self.bodies.append(content)


async def test_outside_a_trace_messages_carry_no_traceparent() -> None:
    sent = SentMessages()
    await EventQueue(sent).publish(TicketEvent(ticket="12345678", seq=1, kind="created"))  # type: ignore[arg-type]
    assert json.loads(sent.bodies[0]) == {"ticket": "12345678", "seq": 1, "kind": "created",
                                          "indexed": False, "stale_index_keys": []}


async def test_a_message_without_traceparent_starts_a_trace_of_its_own(
        spans: InMemorySpanExporter) -> None:
    event = TicketEvent.model_validate_json('{"ticket": "12345678", "seq": 1, "kind": "created"}')
    assert event.traceparent is None
    with telemetry.consuming("notifications_send", event.traceparent):
        pass
    (span,) = spans.get_finished_spans()
    assert span.parent is None


def test_azure_monitor_is_configured_only_with_a_connection_string() -> None:
    assert telemetry.azure_monitor_options({}) is None
    assert telemetry.configure({}) is False
    options = telemetry.azure_monitor_options({
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=0;IngestionEndpoint=https://x/",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD;ClientId=abc"})
    assert options == {"connection_string": "InstrumentationKey=0;IngestionEndpoint=https://x/",
                       "disable_logging": True, "managed_identity_client_id": "abc"}


def test_the_app_does_not_load_azure_monitor_without_application_insights() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLICATIONINSIGHTS_")}
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, function_app; "
                               "print(any(m.startswith('azure.monitor') for m in sys.modules))"],
        cwd=t.ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == "False"
