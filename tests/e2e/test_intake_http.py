"""Web-form intake through the running local host: what a requester and an agent see."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json

import httpx
import pytest

from shared.core import numbering
from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import MailDev


def ticket_body(email: str, **overrides):
    return {"name": "Ada Lovelace", "email": email, "subject": "Printer jammed",
            "description": "Page 3 is stuck.", "priority": "urgent", "category": "hardware",
            **overrides}


def test_json_ticket_is_created_and_readable_by_an_agent(host: RunningHost):
    email = unique_email()
    with host.client() as client:
        response = client.post("/api/tickets", json=ticket_body(email))
    assert response.status_code == 201, response.text
    created = response.json()
    assert numbering.is_valid(created["number"]) and created["status"] == "new"
    assert response.headers["location"] == f"/api/tickets/{created['number']}"

    with host.signed_in() as agent:
        view = agent.get(response.headers["location"])
    assert view.status_code == 200
    assert view.headers["etag"]
    body = view.json()
    assert body["ticket"]["requester_email"] == email
    assert body["ticket"]["priority"] == "urgent" and body["ticket"]["category"] == "hardware"
    assert body["thread"][0]["kind"] == "created"
    assert body["thread"][0]["body"] == "Page 3 is stuck."


def test_multipart_attachments_come_back_byte_for_byte(host: RunningHost):
    email = unique_email()
    png = bytes(range(256)) * 512
    log = "línea 1\r\nline 2\x00binary".encode()
    files = [("attachments", ("screen.png", png, "image/png")),
             ("attachments", ("app log (1).txt", log, "text/plain"))]
    with host.client() as client:
        response = client.post("/api/tickets", data=ticket_body(email), files=files)
    assert response.status_code == 201, response.text
    number = response.json()["number"]

    with host.signed_in() as agent:
        attachments = agent.get(f"/api/tickets/{number}").json()["attachments"]
        assert sorted(a["filename"] for a in attachments) == ["app log (1).txt", "screen.png"]
        for attachment in attachments:
            original = png if attachment["filename"] == "screen.png" else log
            assert attachment["size"] == len(original)
            assert attachment["sha256"] == hashlib.sha256(original).hexdigest()
            download = agent.get(f"/api/tickets/{number}/attachments/{attachment['id']}")
            assert download.status_code == 200
            assert download.content == original
            assert download.headers["content-disposition"].startswith("attachment;")
            assert download.headers["x-content-type-options"] == "nosniff"
        missing = agent.get(f"/api/tickets/{number}/attachments/doesnotexist")
        assert missing.status_code == 404


def test_json_attachments_are_accepted_as_base64(host: RunningHost):
    data = b"%PDF-1.4 fake"
    body = ticket_body(unique_email(), attachments=[
        {"filename": "a.pdf", "content_type": "application/pdf",
         "data": base64.b64encode(data).decode()}])
    with host.client() as client:
        response = client.post("/api/tickets", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["attachments"][0]["size"] == len(data)


def test_the_requester_gets_an_acknowledgement_recorded_in_the_thread(host: RunningHost,
                                                                       maildev: MailDev):
    email = unique_email("ack")
    with host.client() as client:
        number = client.post("/api/tickets", json=ticket_body(email)).json()["number"]
    [mail] = maildev.wait_to(email)
    assert f"[#{number}]" in mail["subject"]
    assert number in mail["text"]

    def recorded():
        with host.signed_in() as agent:
            thread = agent.get(f"/api/tickets/{number}").json()["thread"]
        return [e for e in thread if e["kind"] == "email_sent"]

    from tests.support import wait_for
    [sent] = wait_for(recorded, what="the sent email in the thread")
    assert sent["data"]["message_id"] == mail["messageId"] or \
        sent["data"]["message_id"].strip("<>") == mail["messageId"].strip("<>")


def test_200_concurrent_submissions_get_200_distinct_numbers(host: RunningHost):
    email = unique_email("burst")

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=host.base_url, timeout=120, limits=limits) as c:
            return await asyncio.gather(*(
                c.post("/api/tickets", json=ticket_body(email, subject=f"burst {i}"))
                for i in range(200)))

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [201] * 200
    numbers = {r.json()["number"] for r in responses}
    assert len(numbers) == 200
    assert len({e["PartitionKey"] for e in host.tickets_of(email)}) == 200


def test_a_retried_submission_with_the_same_key_returns_the_first_ticket(host: RunningHost):
    email = unique_email()
    headers = {"Idempotency-Key": f"retry-{email}"}
    with host.client() as client:
        first = client.post("/api/tickets", json=ticket_body(email), headers=headers)
        second = client.post("/api/tickets", json=ticket_body(email), headers=headers)
        other = client.post("/api/tickets", json=ticket_body(email, subject="else"),
                            headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["number"] == second.json()["number"]
    assert other.status_code == 422
    assert len(host.tickets_of(email)) == 1  # one ticket


def problem(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/problem+json"), \
        response.headers["content-type"]
    body = response.json()
    assert body["status"] == response.status_code and body["title"] and body["detail"]
    return body


BAD_INPUT = [
    ("malformed JSON", dict(content=b'{"name": ', headers={"content-type": "application/json"}),
     400, None),
    ("a JSON array", dict(json=[1, 2]), 400, None),
    ("plain text", dict(content=b"help!", headers={"content-type": "text/plain"}), 415, None),
    ("no content type", dict(content=b"name=x"), 415, None),
    ("missing and invalid fields",
     dict(json={"email": "nope", "priority": "asap", "category": "fun"}), 422,
     {"name", "email", "subject", "description", "priority", "category"}),
    ("an unknown field", dict(json={"status": "closed"}), 422, {"status"}),
    ("a too long subject", dict(json={"subject": "x" * 251}), 422, {"subject"}),
    ("bad base64 attachment",
     dict(json={"attachments": [{"filename": "a", "data": "!!"}]}), 400, {"attachments.0"}),
    ("too many attachments",
     dict(files=[("attachments", (f"f{i}.txt", b"x", "text/plain")) for i in range(4)]),
     413, {"attachments"}),
    ("a too large attachment",
     dict(files=[("attachments", ("big.bin", b"x" * (1024 * 1024 + 1), "application/x"))]),
     413, {"attachments"}),
    ("a too large request", dict(files=[("attachments", ("huge.bin", b"x" * (5 * 1024 * 1024),
                                                         "application/x"))]), 413, None),
]


@pytest.mark.parametrize("case,kwargs,status,fields", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_gets_problem_json_and_stores_nothing(host: RunningHost, case, kwargs, status,
                                                        fields):
    email = unique_email("bad")
    kwargs = dict(kwargs)
    if "json" in kwargs and isinstance(kwargs["json"], dict):
        kwargs["json"] = {**ticket_body(email), **kwargs["json"]}
        for name in ("name", "subject", "description") if case.startswith("missing") else ():
            kwargs["json"].pop(name)
    if "files" in kwargs:
        kwargs["data"] = ticket_body(email)
    with host.client() as client:
        response = client.post("/api/tickets", **kwargs)
    assert response.status_code == status, response.text
    body = problem(response)
    if fields:
        assert {e["field"] for e in body["errors"]} == fields
    assert host.tickets_of(email) == []


def test_the_agent_endpoints_need_a_signed_in_agent(host: RunningHost):
    with host.client() as client:
        number = client.post("/api/tickets", json=ticket_body(unique_email())).json()["number"]
        anonymous = client.get(f"/api/tickets/{number}")
        assert anonymous.status_code == 401 and problem(anonymous)
        forged = base64.b64encode(json.dumps({"claims": [
            {"typ": "name", "val": "evil@example.com"},
            {"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
             "val": "agent"}]}).encode()).decode()
        spoofed = client.get(f"/api/tickets/{number}",
                             headers={"X-MS-CLIENT-PRINCIPAL": forged})
        assert spoofed.status_code == 401, "a client-sent principal header must be ignored"
    with host.signed_in(roles="", user="req", email="someone@example.org") as requester:
        forbidden = requester.get(f"/api/tickets/{number}")
        assert forbidden.status_code == 403 and problem(forbidden)
        attachment = requester.get(f"/api/tickets/{number}/attachments/abc")
        assert attachment.status_code == 403


def test_unknown_and_malformed_numbers_are_404(host: RunningHost):
    with host.signed_in() as agent:
        for number in ("12345678", "abc", "1234567x"):
            response = agent.get(f"/api/tickets/{number}")
            assert response.status_code == 404 and problem(response)


def test_health_reports_each_storage_service(host: RunningHost):
    with host.client() as client:
        body = client.get("/api/health").json()
    assert body == {"status": "ok", "services": {"tables": "ok", "blobs": "ok", "queues": "ok"}}
