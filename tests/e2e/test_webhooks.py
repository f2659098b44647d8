"""Outbound webhooks through the running host: an admin registers an endpoint over the
API (a receiver on loopback: allowed, the host runs locally), tickets created and worked
over HTTP reach it signed, through the ticket-events and webhook-deliveries queues the
host polls, and the delivery log shows each attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import wait_for


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, number: str) -> list[tuple[dict[str, Any], dict[str, str], bytes]]:
        found = []
        for headers, body in list(self.requests):
            event = json.loads(body)
            if event.get("ticket", {}).get("number") == number:
                found.append((event, headers, body))
        return found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def admin(host: RunningHost) -> Iterator[httpx.Client]:
    with host.signed_in(roles="agent,admin", user="hook-admin",
                        email="hook-admin@example.com") as client:
        yield client


def test_an_endpoint_gets_signed_events_of_tickets_worked_over_http(
        host: RunningHost, admin: httpx.Client, receiver: Receiver):
    r = admin.post("/api/webhooks", json={
        "name": "CRM", "url": receiver.url,
        "events": ["ticket.created", "ticket.assigned", "ticket.status_changed"]})
    assert r.status_code == 201, r.text
    made = r.json()
    secret = made["signing_secret"]
    assert r.headers["location"] == f"/api/webhooks/{made['id']}"
    try:
        listed = admin.get("/api/webhooks").json()
        assert [e["id"] for e in listed].count(made["id"]) == 1
        assert secret not in json.dumps(listed)

        with host.client() as public:
            r = public.post("/api/tickets", json={
                "name": "Ada", "email": unique_email("hook"), "subject": "Laptop broken",
                "description": "It does not start."})
            assert r.status_code == 201, r.text
            number = r.json()["number"]
        assert admin.post(f"/api/tickets/{number}/assign",
                          json={"agent": "me"}).status_code == 200

        events = wait_for(lambda: (found := receiver.events(number)) and len(found) >= 3
                          and found, timeout=30, what="three webhook deliveries")
        assert sorted(e["type"] for e, _, _ in events) == [
            "ticket.assigned", "ticket.created", "ticket.status_changed"]
        for event, headers, body in events:
            t, v1 = (part.split("=", 1)[1] for part in headers["x-helpdesk-signature"].split(","))
            assert v1 == hmac.new(secret.encode(), f"{t}.".encode() + body,
                                  hashlib.sha256).hexdigest()
            assert abs(int(t) - time.time()) < 60 and headers["x-helpdesk-timestamp"] == t
            assert headers["x-helpdesk-event-id"] == event["id"]
            assert headers["x-helpdesk-event"] == event["type"]
        changed = next(e for e, _, _ in events if e["type"] == "ticket.status_changed")
        assert changed["data"] == {"from": "new", "to": "open"}
        assert changed["entry"]["actor"] == {"role": "agent", "id": "hook-admin"}

        log = wait_for(lambda: (got := admin.get(f"/api/webhooks/{made['id']}/deliveries")
                                .json()) and len(got["attempts"]) >= 3 and got,
                       timeout=10, what="the delivery log")
        assert {(a["outcome"], a["code"]) for a in log["attempts"]} == {("delivered", 204)}
        assert all(a["duration_ms"] >= 0 for a in log["attempts"])

        rotated = admin.post(f"/api/webhooks/{made['id']}/secret").json()
        assert rotated["signing_secret"] != secret
    finally:
        assert admin.delete(f"/api/webhooks/{made['id']}").status_code == 204
    assert admin.get(f"/api/webhooks/{made['id']}/deliveries").status_code == 404


def test_bad_endpoints_are_refused_and_nothing_is_stored(admin: httpx.Client):
    before = admin.get("/api/webhooks").json()
    for body in ({"name": "x", "url": "https://hooks.example.com", "events": []},
                 {"name": "x", "url": "https://hooks.example.com", "events": ["ticket.eaten"]},
                 {"name": "x", "url": "ftp://hooks.example.com", "events": ["ticket.created"]},
                 {"name": "x", "url": "https://hooks.example.com", "format": "teams",
                  "events": ["ticket.created"]},
                 {"name": "x", "url": "https://hooks.example.com", "format": "teams",
                  "teams": ["no-such-team"], "events": ["ticket.created"]},
                 {"name": "x", "url": "https://hooks.example.com", "events": ["ticket.created"],
                  "secret_setting": "AzureWebJobsStorage"}):
        r = admin.post("/api/webhooks", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = admin.post("/api/webhooks", content=b"name=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert admin.post("/api/webhooks/nope/deliveries/x/replay").status_code == 404
    assert admin.put("/api/webhooks/nope", json={
        "name": "x", "url": "https://hooks.example.com", "events": ["ticket.created"]}
                     ).status_code == 404
    assert admin.get("/api/webhooks").json() == before
