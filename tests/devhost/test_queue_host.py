"""Queue triggers and queue outputs of the sample app, against a real Azurite."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import TypeVar

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy

from tests.devhost.conftest import RunningHost

T = TypeVar("T")


def wait_for(probe: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def service(sample_host: RunningHost) -> Iterator[QueueServiceClient]:
    with QueueServiceClient.from_connection_string(sample_host.storage) as svc:
        yield svc


def base64_client(service: QueueServiceClient, name: str) -> QueueClient:
    """A client that writes base64, as the Functions host expects by default."""
    return service.get_queue_client(name, message_encode_policy=TextBase64EncodePolicy())


def peek_all(service: QueueServiceClient, name: str) -> list[str]:
    try:
        return [m.content for m in service.get_queue_client(name).peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []


def message_count(service: QueueServiceClient, name: str) -> int:
    """Visible and invisible (leased) messages alike."""
    count = service.get_queue_client(name).get_queue_properties().approximate_message_count
    assert count is not None
    return int(count)


def decoded(content: str) -> str:
    return base64.b64decode(content).decode()


def test_failing_message_retried_then_poisoned(
    sample_host: RunningHost, service: QueueServiceClient
) -> None:
    queue = sample_host.queues["FAIL_QUEUE"]
    body = f"fail-{uuid.uuid4().hex}"
    base64_client(service, queue).send_message(body)

    poison = wait_for(
        lambda: [c for c in peek_all(service, f"{queue}-poison") if decoded(c) == body],
        timeout=40,
        what=f"the message in {queue}-poison",
    )
    assert len(poison) == 1  # same body, encoded the same way (base64)
    assert poison[0] == base64.b64encode(body.encode()).decode()

    seen = [r for r in sample_host.records("always_fails") if r["body"] == body]
    assert [r["dequeue_count"] for r in seen] == [1, 2, 3, 4, 5]
    # host.json visibilityTimeout is 1 s: no redelivery comes back sooner.
    gaps = [float(b["at"]) - float(a["at"]) for a, b in pairwise(seen)]
    assert min(gaps) >= 0.9, gaps
    # Poisoned when the 5th attempt failed, not when a 6th delivery arrived.
    # The host logs the move after the message is in the poison queue: wait for the line.
    moved = wait_for(
        lambda: [
            line for line in sample_host.log_text().splitlines()
            if f"moved to {queue}-poison" in line
        ],
        timeout=10,
        what="the host's log line about the poison move",
    )
    assert len(moved) == 1 and moved[0].endswith("after 5 deliveries"), moved
    wait_for(lambda: message_count(service, queue) == 0, 10, "the original to be deleted")


def test_successful_message_processed_once_and_deleted(
    sample_host: RunningHost, service: QueueServiceClient
) -> None:
    queue = sample_host.queues["OK_QUEUE"]
    body = f"ok-{uuid.uuid4().hex}"
    sent = base64_client(service, queue).send_message(body)

    out = wait_for(
        lambda: [
            c
            for c in peek_all(service, sample_host.queues["OUT_QUEUE"])
            if decoded(c) == f"processed:{body}"
        ],
        timeout=20,
        what="the output binding's message",
    )
    assert len(out) == 1
    wait_for(lambda: message_count(service, queue) == 0, 10, "the message to be deleted")
    time.sleep(1.5)  # longer than visibilityTimeout: a message not deleted would come back
    seen = [r for r in sample_host.records("succeeds") if r["id"] == sent.id]
    assert len(seen) == 1
    assert seen[0]["body"] == body
    assert seen[0]["dequeue_count"] == 1
    assert base64.b64encode(body.encode()).decode() not in peek_all(service, f"{queue}-poison")


def test_message_that_is_not_base64_goes_to_poison_unprocessed(
    sample_host: RunningHost, service: QueueServiceClient
) -> None:
    queue = sample_host.queues["OK_QUEUE"]
    raw = f"not base64 at all! {uuid.uuid4().hex}"
    sent = service.get_queue_client(queue).send_message(raw)  # plain text, no encode policy

    wait_for(lambda: raw in peek_all(service, f"{queue}-poison"), 20, "the raw message in poison")
    assert [r for r in sample_host.records("succeeds") if r["id"] == sent.id] == []
    wait_for(lambda: message_count(service, queue) == 0, 10, "the original to be deleted")


def test_http_function_queue_output_binding(sample_host: RunningHost) -> None:
    body = f"chain-{uuid.uuid4().hex}"
    r = httpx.post(f"{sample_host.base_url}/api/enqueue", content=body.encode(), timeout=30)
    assert r.status_code == 202
    # The HTTP function's Out[str] went to OK_QUEUE, base64-encoded; the queue function got it.
    seen = wait_for(
        lambda: [rec for rec in sample_host.records("succeeds") if rec["body"] == body],
        timeout=20,
        what="the queue function to receive the HTTP function's output",
    )
    assert len(seen) == 1


def test_admin_api_runs_a_queue_function_now(sample_host: RunningHost) -> None:
    master = str(sample_host.keys["masterKey"])
    body = f"admin-{uuid.uuid4().hex}"
    url = f"{sample_host.base_url}/admin/functions/succeeds"
    assert httpx.post(url, json={"input": body}, timeout=30).status_code == 401
    r = httpx.post(url, json={"input": body}, headers={"x-functions-key": master}, timeout=30)
    assert r.status_code == 202
    seen = wait_for(
        lambda: [rec for rec in sample_host.records("succeeds") if rec["body"] == body],
        timeout=10,
        what="the admin-triggered run",
    )
    assert seen[0]["dequeue_count"] == 1
    status = httpx.get(
        f"{sample_host.base_url}/admin/host/status", params={"code": master}, timeout=30
    )
    assert status.json()["state"] == "Running"
