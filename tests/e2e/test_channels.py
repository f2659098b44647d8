"""osTicket's ticket API, chat, phone, and the web form's bot and flood protection,
through the running host."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tests.conftest import LocalServices, unique_email
from tests.e2e.conftest import RunningHost, running_host
from tests.support import MailDev

CHAT_SECRET = b"test-chat-secret"


@pytest.fixture(scope="module")
def api_key(host: RunningHost) -> str:
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/apikeys", json={"name": "intranet form",
                                             "scopes": ["tickets", "email"]})
        assert r.status_code == 201, r.text
        return r.json()["key"]


def ticket(host: RunningHost, number: str) -> dict:
    with host.signed_in() as agent:
        r = agent.get(f"/api/tickets/{number}")
    assert r.status_code == 200, r.text
    return r.json()


# -- osTicket's API -----------------------------------------------------------------------

def osticket(host: RunningHost, body: dict, key: str | None, **headers: str):
    with host.client() as client:
        return client.post("/api/tickets.json", json=body,
                           headers={**({"X-API-Key": key} if key else {}), **headers})


def test_an_osticket_request_as_documented_creates_a_ticket(host: RunningHost, api_key: str,
                                                            maildev: MailDev):
    email = unique_email("ost")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    body = {
        "alert": True, "autorespond": True, "source": "API",
        "name": "Angry User", "email": email, "phone": "3185558634X123",
        "subject": "Testing API",
        "ip": "123.211.233.122",
        "message": "data:text/html,MESSAGE <b>HERE</b><script>alert(1)</script>",
        "priority": 3, "topicId": 2,
        "attachments": [
            {"file.txt": "data:text/plain;charset=utf-8,content"},
            {"image.png": "data:image/png;base64," + base64.b64encode(png).decode()},
        ],
    }
    r = osticket(host, body, api_key)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("text/plain")
    number = r.text.strip()
    assert len(number) == 8 and number.isdigit()

    view = ticket(host, number)
    t = view["ticket"]
    assert (t["requester_name"], t["requester_email"], t["subject"]) == (
        "Angry User", email, "Testing API")
    assert t["priority"] == "high" and t["category"] == "billing" and t["channel"] == "api"
    assert t["description"] == "MESSAGE HERE"
    created = view["thread"][0]
    assert created["data"]["osticket"] == {"source": "API", "ip": "123.211.233.122",
                                           "phone": "3185558634X123", "html": True}
    files = {a["filename"]: a for a in view["attachments"]}
    assert files["file.txt"]["size"] == len(b"content")
    assert files["image.png"]["content_type"] == "image/png"
    with host.signed_in() as agent:
        data = agent.get(f"/api/tickets/{number}/attachments/{files['image.png']['id']}")
    assert data.content == png
    maildev.wait_to(email)


def test_osticket_autorespond_false_sends_no_acknowledgement(host: RunningHost, api_key: str,
                                                             maildev: MailDev):
    quiet, loud = unique_email("quiet"), unique_email("loud")
    for email, flag in ((quiet, False), (loud, "1")):
        r = osticket(host, {"name": "Q", "email": email, "subject": "s", "message": "m",
                            "autorespond": flag}, api_key)
        assert r.status_code == 201
    maildev.wait_to(loud)
    assert maildev.to(quiet) == []


@pytest.mark.parametrize("body,status,reason", [
    ({"name": "X", "email": "bad", "subject": "s", "message": "m"}, 422, "email"),
    ({"name": "X", "email": "x@example.org", "subject": "s"}, 422, "description"),
    ({"name": "X", "email": "x@example.org", "subject": "s", "message": "m", "priority": 9},
     422, "priority"),
    ({"name": "X", "email": "x@example.org", "subject": "s", "message": "m", "topicId": 99},
     422, "topicId"),
    ({"name": "X", "email": "x@example.org", "subject": "s", "message": "m",
      "attachments": [{"a.txt": "not a data url"}]}, 422, "attachments.0"),
])
def test_osticket_errors_are_4xx_with_a_plain_text_reason(host: RunningHost, api_key: str,
                                                          body, status, reason):
    r = osticket(host, body, api_key)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/plain")
    assert reason in r.text


def test_osticket_keys_are_checked_scoped_and_revocable(host: RunningHost):
    body = {"name": "X", "email": unique_email(), "subject": "s", "message": "m"}
    assert osticket(host, body, None).status_code == 401
    assert osticket(host, body, "hd_nope_nope").status_code == 401
    with host.signed_in(roles="agent,admin") as admin:
        email_only = admin.post("/api/apikeys", json={"name": "mx", "scopes": ["email"]}).json()
        office = admin.post("/api/apikeys", json={"name": "office", "scopes": ["tickets"],
                                                  "cidrs": ["10.1.0.0/16"]}).json()
        anywhere = admin.post("/api/apikeys", json={"name": "any", "scopes": ["tickets"]}).json()
        listed = admin.get("/api/apikeys").json()
        assert all("secret" not in json.dumps(k) and anywhere["key"] not in json.dumps(k)
                   for k in listed)
    assert osticket(host, body, email_only["key"]).status_code == 403
    # From loopback, not the office range; the platform's entry (the last) is what counts.
    assert osticket(host, body, office["key"], **{"X-Forwarded-For": "10.1.2.3"}
                    ).status_code == 403
    assert osticket(host, body, anywhere["key"]).status_code == 201
    with host.signed_in(roles="agent,admin") as admin:
        assert admin.delete(f"/api/apikeys/{anywhere['info']['id']}").status_code == 204
    assert osticket(host, body, anywhere["key"]).status_code == 401


# -- chat -----------------------------------------------------------------------------------

def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(CHAT_SECRET, body, hashlib.sha256).hexdigest()


def chat(host: RunningHost, transcript: dict, signature: str | None = "auto"):
    body = json.dumps(transcript).encode()
    headers = {"content-type": "application/json"}
    if signature == "auto":
        headers["X-Signature"] = sign(body)
    elif signature is not None:
        headers["X-Signature"] = signature
    with host.client() as client:
        return client.post("/api/channels/chat", content=body, headers=headers)


def test_a_chat_becomes_a_ticket_and_later_messages_are_appended_once(host: RunningHost):
    email = unique_email("chat")
    messages = [
        {"author": "Visitor", "role": "visitor", "at": "2026-11-27T10:00:00Z",
         "text": "My invoice is wrong"},
        {"author": "Bot", "role": "bot", "at": "2026-11-27T10:00:05Z",
         "text": "An agent will contact you"},
    ]
    transcript = {"conversation_id": f"conv-{email}",
                  "visitor": {"name": "Vis Itor", "email": email}, "messages": messages}
    first = chat(host, transcript)
    assert first.status_code == 201, first.text
    number = first.json()["number"]
    again = chat(host, transcript)
    assert again.json() == {"number": number, "outcome": "unchanged", "appended": 0}

    transcript["messages"] = [*messages, {"author": "Visitor", "at": "2026-11-27T10:01:00Z",
                                          "text": "It charges me twice"}]
    more = chat(host, transcript)
    assert more.status_code == 200
    assert more.json() == {"number": number, "outcome": "appended", "appended": 1}
    assert chat(host, transcript).json()["appended"] == 0

    view = ticket(host, number)
    assert view["ticket"]["channel"] == "chat"
    assert view["ticket"]["subject"] == "My invoice is wrong"
    assert "Bot: An agent will contact you" in view["ticket"]["description"]
    messages_in_thread = [e for e in view["thread"] if e["kind"] == "message"]
    assert len(messages_in_thread) == 1
    assert "It charges me twice" in messages_in_thread[0]["body"]


@pytest.mark.parametrize("signature,status", [(None, 401), ("sha256=" + "0" * 64, 403),
                                              ("garbage", 403)])
def test_chat_without_a_good_signature_is_refused(host: RunningHost, signature, status):
    email = unique_email("chatbad")
    transcript = {"conversation_id": f"conv-{email}",
                  "visitor": {"name": "V", "email": email},
                  "messages": [{"author": "V", "at": "2026-11-27T10:00:00Z", "text": "hi"}]}
    assert chat(host, transcript, signature).status_code == status
    assert host.tickets_of(email) == []


# -- phone ----------------------------------------------------------------------------------

def test_an_agent_takes_a_ticket_by_phone(host: RunningHost, maildev: MailDev):
    caller = {"channel": "phone", "name": "Caller", "phone": "+49 30 1234567",
              "subject": "Screen flickers", "description": "Since the update."}
    with host.client() as anonymous:
        assert anonymous.post("/api/tickets", json=caller).status_code == 401
    with host.signed_in(user="alice", email="alice@staff.example.com") as agent:
        r = agent.post("/api/tickets", json=caller)
        assert r.status_code == 201, r.text
        view = agent.get(f"/api/tickets/{r.json()['number']}").json()
        assert view["ticket"]["channel"] == "phone" and view["ticket"]["phone"] == \
            "+49 30 1234567"
        assert view["thread"][0]["actor"] == "alice"
        assert view["thread"][0]["data"]["created_by"] == "alice"
        assert agent.post("/api/tickets", json={**caller, "phone": None}).status_code == 422
        email = unique_email("caller")
        assert agent.post("/api/tickets", json={**caller, "email": email}).status_code == 201
    maildev.wait_to(email)


# -- the web form against bots and floods ------------------------------------------------------

def test_a_filled_honeypot_stores_nothing(host: RunningHost):
    email = unique_email("bot")
    form = {"name": "Bot", "email": email, "subject": "Cheap pills", "description": "x",
            "website": "http://spam.example"}
    with host.client() as client:
        page = client.post("/api/tickets", data=form, headers={"Accept": "text/html"})
        assert page.status_code == 200 and "received" in page.text
        api = client.post("/api/tickets", json=form)
        assert api.status_code == 422
    assert host.tickets_of(email) == []


def test_too_many_submissions_from_one_address_get_429(test_services: LocalServices,
                                                       tmp_path: Path):
    with running_host(test_services, tmp_path,
                      HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR="3") as limited:
        with limited.client() as client:
            body = {"name": "F", "email": unique_email("flood"), "subject": "s",
                    "description": "d"}
            codes = [client.post("/api/tickets", json={**body, "subject": f"s{i}"}).status_code
                     for i in range(5)]
            assert codes == [201, 201, 201, 429, 429]
            r = client.post("/api/tickets", json=body)
            assert 0 < int(r.headers["retry-after"]) <= 3600
            assert r.headers["content-type"].startswith("application/problem+json")
            with limited.signed_in() as agent:  # an agent on the phone is not limited
                phone = agent.post("/api/tickets", json={**body, "channel": "phone"})
                assert phone.status_code == 201
