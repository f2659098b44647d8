"""The hostile-input catalogue (cases.yaml) against the running help desk: every case gets
its expected answer and never a 5xx; an API error is problem JSON; a refused request
stores no ticket (and changes none); an accepted one is stored whole, its script is kept
as text and shown escaped in the portal and the acknowledgement email, its file names
cannot reach outside their place or run, and CR/LF never splits an email header."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import re
import subprocess
import sys
import unicodedata
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT, unique_email
from tests.e2e.conftest import RunningHost
from tests.e2e.test_portal import confirm, csrf_of, link, new_ticket
from tests.hostile import TALLY
from tests.support import MailDev

pytestmark = pytest.mark.e2e

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text())
CHAT_SECRET = b"test-chat-secret"  # tests/e2e/conftest.py LIMITS
PIPE = str(ROOT / "tools" / "mailpipe.py")
# Endpoints whose accepted request makes a ticket for the case's address.
CREATES = {"intake", "webform", "osticket", "email", "mailpipe", "chat"}
PORTAL = {"portal_reply", "portal_rate", "portal_collaborator"}
# Endpoints that change a ticket made for the case (a refused request must change nothing).
CHANGES = PORTAL | {"agent_collaborator"}
REPEAT = re.compile(r"\$repeat:(\d+):(.)", re.S)
VICTIM = "victim@example.net"


# -- building the request --------------------------------------------------------------------

def expand(value: Any, subs: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in subs.items():
            value = value.replace(name, text)
        return REPEAT.sub(lambda m: m.group(2) * int(m.group(1)), value)
    if isinstance(value, list):
        return [expand(v, subs) for v in value]
    if isinstance(value, dict):
        return {expand(k, subs): expand(v, subs) for k, v in value.items()}
    return value


def generate(spec: dict[str, Any], email: str) -> bytes:
    name = spec["name"]
    if name == "nested_json":
        depth = spec["depth"]
        return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
    if name == "nested_mime":
        depth = spec["depth"]
        head = (f"From: Eve <{email}>\r\nTo: support@example.com\r\nSubject: nested\r\n"
                f"Message-ID: <{email}.nest@x>\r\nMIME-Version: 1.0\r\n").encode()
        parts = b"".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode()
                         for i in range(depth))
        return head + parts + b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    if name == "big_mail":
        head = (f"From: Eve <{email}>\r\nTo: support@example.com\r\nSubject: big\r\n"
                f"Message-ID: <{email}.big@x>\r\n\r\n").encode()
        return head + (b"x" * 998 + b"\r\n") * (spec["bytes"] // 1000 + 1)
    if name == "many_parts":
        part = b'--b\r\nContent-Disposition: form-data; name="attachments"; filename="p.txt"\r\n\r\nx\r\n'
        return part * spec["count"] + b"--b--\r\n"
    raise AssertionError(f"no generator {name!r}")


DEFAULT_TYPE = {"email": "message/rfc822", "mailpipe": "message/rfc822"}


def request_kwargs(case: dict[str, Any], subs: dict[str, str], email: str) -> dict[str, Any]:
    headers: dict[str, str] = {}
    kwargs: dict[str, Any] = {"headers": headers}
    if "gen" in case:
        kwargs["content"] = generate(case["gen"], email)
    elif "raw" in case:
        kwargs["content"] = expand(case["raw"], subs).encode(case.get("raw_encoding", "utf-8"),
                                                             "surrogatepass")
    elif "json" in case:
        kwargs["content"] = json.dumps(expand(case["json"], subs)).encode()
        headers["content-type"] = "application/json"
    elif "form" in case:
        kwargs["data"] = expand(case["form"], subs)
        if "files" in case:
            kwargs["files"] = [("attachments", (f["filename"], expand(f["data"], subs).encode(),
                                                f.get("content_type", "application/octet-stream")))
                               for f in case["files"]]
    if "content_type" in case:
        headers.pop("content-type", None)
        if case["content_type"] is not None:
            headers["content-type"] = case["content_type"]
    elif case["endpoint"] in DEFAULT_TYPE and "content" in kwargs:
        headers["content-type"] = DEFAULT_TYPE[case["endpoint"]]
    if "query" in case:
        kwargs["params"] = expand(case["query"], subs)
    if "headers" in case:
        headers.update(expand(case["headers"], subs))
    return kwargs


# -- reading what the desk did ---------------------------------------------------------------

def agent_view(host: RunningHost, number: str) -> dict[str, Any]:
    with host.signed_in() as agent:
        r = agent.get(f"/api/tickets/{number}")
    assert r.status_code == 200, f"ticket {number} not readable whole: {r.status_code} {r.text}"
    return r.json()


def portal_page(host: RunningHost, number: str, email: str) -> str:
    with host.client() as client:
        assert confirm(client, link(host, number, email)).status_code == 303
        r = client.get("/api/portal/ticket")
    assert r.status_code == 200, r.text
    return r.text


def acknowledgement(maildev: MailDev, email: str) -> bytes:
    [message] = maildev.wait_to(email)[:1]
    return maildev.raw(message["id"])


def html_part(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=policy.default)
    part = message.get_body(("html",))
    return part.get_content() if part is not None else ""


def number_of(case: dict[str, Any], response: httpx.Response | None, stdout: str) -> str | None:
    endpoint = case["endpoint"]
    if endpoint == "osticket":
        return response.text.strip() if response is not None else None
    if endpoint == "webform":
        match = re.search(r"\b(\d{8})\b", response.text if response is not None else "")
        return match.group(1) if match else None
    if endpoint == "mailpipe":
        match = re.search(r"\b(\d{8})\b", stdout)
        return match.group(1) if match else None
    assert response is not None
    return response.json().get("number")


def check_problem(case: dict[str, Any], response: httpx.Response) -> None:
    """Errors in the format the endpoint's callers read."""
    kind = response.headers.get("content-type", "")
    endpoint = case["endpoint"]
    if endpoint == "osticket":
        assert kind.startswith("text/plain") and response.text.strip(), kind
    elif endpoint in {"webform", "portal_check", "help", "help_article", "unsubscribe"} | PORTAL:
        assert kind.startswith("text/html"), kind
    elif endpoint == "static":
        assert kind.startswith("text/plain"), kind
    else:
        assert kind.startswith("application/problem+json"), (kind, response.text[:300])
        body = response.json()
        assert body["status"] == response.status_code and body["title"] and body["detail"]


def check_inert(case: dict[str, Any], number: str, email: str, host: RunningHost,
                maildev: MailDev) -> None:
    marker: str = case["inert"]
    view = agent_view(host, number)
    stored = json.dumps(view, ensure_ascii=False)
    if case.get("inert_mode") == "sanitised":
        assert "<script" not in stored.lower() and "onerror" not in stored.lower(), stored[:2000]
    else:
        assert any(marker in s for s in _strings(view)["all"]), \
            f"{marker!r} was not stored as typed"
    # Text without markup characters reads the same escaped; the rest must not appear raw.
    dangerous = any(ch in marker for ch in "<>\"")
    page = portal_page(host, number, email)
    assert not (dangerous and marker in page), "raw markup in the portal"
    assert "<script>alert" not in page.lower(), "raw script in the portal"
    if case["endpoint"] in CREATES:
        ack = html_part(acknowledgement(maildev, email))
        assert ack, "the acknowledgement has no HTML part"
        assert not (dangerous and marker in ack), "raw markup in the email"
        assert "<script" not in ack.lower(), "raw script in the email"
        if case.get("inert_mode") != "sanitised":
            shown = html.unescape(ack)
            assert any(s and s in shown for s in _strings(view)["subject_or_text"]), \
                "the email does not show what was typed"


def _strings(view: dict[str, Any]) -> dict[str, list[str]]:
    """Every string the agent API returned, and the typed ones an email may show."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(view)
    ticket = view["ticket"]
    return {"all": found, "subject_or_text": [ticket["subject"], ticket["description"],
                                              ticket["requester_name"]]}


def check_headers(email: str, maildev: MailDev) -> None:
    raw = acknowledgement(maildev, email)
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    for line in re.split(rb"\r?\n", head):
        assert not re.match(rb"(?i)(bcc|x-injected|content-type:\s*text/html\s*$)", line), line
    message = message_from_bytes(raw, policy=policy.default)
    names = [n.lower() for n in message.keys()]
    assert "bcc" not in names and "x-injected" not in names, names
    for name, value in message.items():
        assert "\r" not in str(value) and "\n" not in str(value), (name, value)
    assert [a.addr_spec.lower() for a in message["To"].addresses] == [email.lower()]
    assert maildev.to(VICTIM) == [], "mail reached an injected recipient"


def check_files(number: str, host: RunningHost) -> None:
    view = agent_view(host, number)
    with host.signed_in() as agent:
        for info in view["attachments"]:
            name = info["filename"]
            assert name and "/" not in name and "\\" not in name and name not in (".", ".."), name
            assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name), repr(name)
            r = agent.get(f"/api/tickets/{number}/attachments/{info['id']}")
            assert r.status_code == 200
            assert r.headers["content-disposition"].startswith("attachment;")
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["content-security-policy"] == "sandbox"


# -- the runner ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api_key(host: RunningHost) -> str:
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/apikeys", json={"name": "hostile", "scopes": ["tickets", "email"]})
        assert r.status_code == 201, r.text
        return r.json()["key"]


def send(case: dict[str, Any], host: RunningHost, api_key: str, email: str
         ) -> tuple[httpx.Response | None, int | None, str, str | None]:
    """The case's request; (response, pipe exit status, pipe output, portal ticket)."""
    endpoint = case["endpoint"]
    subs = {"$EMAIL": email}
    portal_number = None
    with host.client() as client:
        if endpoint in PORTAL:
            portal_number = new_ticket(host, email)
            if case.get("resolve_first"):
                with host.signed_in() as agent:
                    assert agent.post(f"/api/tickets/{portal_number}/resolve",
                                      json={"resolution": "done"}).status_code == 200
            assert confirm(client, link(host, portal_number, email)).status_code == 303
            r = client.get("/api/portal/ticket")
            subs["$CSRF"] = csrf_of(r.text)
            if "form" in case:
                case = {**case, "form": {**case["form"], "csrf": subs["$CSRF"]}}
        if endpoint == "agent_post":
            # A ticket of the case's own to act on, and another one to merge or link it to.
            subs["$TICKET"] = portal_number = new_ticket(host, email)
            subs["$OTHER"] = new_ticket(host, unique_email("other"))
        kwargs = request_kwargs(case, subs, email)
        if endpoint == "mailpipe":
            done = subprocess.run([sys.executable, PIPE, "--url",
                                   f"{host.base_url}/api/tickets.email"],
                                  input=kwargs["content"], capture_output=True, timeout=120,
                                  env={**os.environ, "HELPDESK_API_KEY": api_key})
            return None, done.returncode, done.stdout.decode() + done.stderr.decode(), None
        if endpoint in ("osticket", "email"):
            kwargs["headers"]["X-API-Key"] = api_key
        if endpoint == "email":
            kwargs["headers"]["Accept"] = "application/json"
        if endpoint == "chat" and case.get("sign", True):
            kwargs["headers"]["X-Signature"] = "sha256=" + hmac.new(
                CHAT_SECRET, kwargs.get("content", b""), hashlib.sha256).hexdigest()
        if endpoint == "webform":
            kwargs["headers"]["Accept"] = "text/html"
        if endpoint in PORTAL:
            # What the browser sends with a form post from the portal's own page.
            kwargs["headers"].update({"Origin": host.base_url, "Sec-Fetch-Site": "same-origin"})
        method, path = {
            "intake": ("POST", "/api/tickets"), "webform": ("POST", "/api/tickets"),
            "osticket": ("POST", "/api/tickets.json"), "email": ("POST", "/api/tickets.email"),
            "chat": ("POST", "/api/channels/chat"), "portal_check": ("POST", "/api/portal"),
            "portal_reply": ("POST", "/api/portal/ticket/reply"),
            "portal_rate": ("POST", "/api/portal/ticket/rating"),
            "portal_collaborator": ("POST", "/api/portal/ticket/collaborators"),
            "unsubscribe": (case.get("method", "GET"),
                            f"/api/portal/unsubscribe/{expand(case.get('path', ''), subs)}"),
            "kb_suggest": ("GET", "/api/kb/suggest"), "help": ("GET", "/api/help"),
            "help_article": ("GET", f"/api/help/{case.get('path', '')}"),
            "static": ("GET", f"/api/static/{expand(case.get('path', ''), subs)}"),
            "agent_get": ("GET", case.get("path", "")),
            "agent_send": (case.get("method", "POST"), case.get("path", "")),
            "admin_send": (case.get("method", "POST"), case.get("path", "")),
            "agent_post": (case.get("method", "POST"), expand(case.get("path", ""), subs)),
            "agent_collaborator": ("POST", ""),  # on a ticket made for the case, below
        }[endpoint]
        if endpoint == "agent_post":
            with host.signed_in() as agent:
                return agent.request(method, path, **kwargs), None, "", portal_number
        if endpoint in ("agent_get", "agent_send"):
            with host.signed_in() as agent:
                return agent.request(method, path, **kwargs), None, "", None
        if endpoint == "admin_send":
            with host.signed_in(roles="agent,admin") as admin:
                return admin.request(method, path, **kwargs), None, "", None
        if endpoint == "agent_collaborator":
            number = new_ticket(host, email)
            with host.signed_in() as agent:
                return (agent.post(f"/api/tickets/{number}/collaborators", **kwargs), None, "",
                        number)
        return client.request(method, path, **kwargs), None, "", portal_number


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_case(case: dict[str, Any], host: RunningHost, api_key: str, maildev: MailDev):
    email = unique_email(case["id"][:20]).lower()
    expected = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
    TALLY["tried"] += 1
    response, exit_status, output, portal_number = send(case, host, api_key, email)
    if response is not None and response.status_code >= 500:
        TALLY["server_errors"] += 1
    status = exit_status if response is None else response.status_code
    assert status in expected, (status, output or (response.text[:1000] if response else ""))
    if response is not None:
        assert response.status_code < 500
    accepted = status in (0, 200, 201, 303)
    if not accepted and response is not None:
        check_problem(case, response)
    endpoint = case["endpoint"]
    if endpoint == "webform" and "inert" in case:
        assert case["inert"] not in response.text, "raw script in the form's answer"
    if "page_inert" in case:
        assert case["page_inert"] not in response.text
    if endpoint in CREATES and not accepted:
        assert host.tickets_of(email) == [], "a refused request left a ticket behind"
        TALLY["refused"] += 1
        return
    if endpoint in CHANGES:
        assert portal_number is not None
        thread = agent_view(host, portal_number)["thread"]
        if not accepted:
            assert not [e for e in thread if e["kind"] in ("message", "rated", "collaborators")], \
                "a refused form changed the ticket"
            TALLY["refused"] += 1
            return
        number = portal_number
    elif endpoint == "agent_post":
        assert portal_number is not None
        if not accepted:
            # Nothing of a refused merge or link is written on either ticket.
            thread = agent_view(host, portal_number)["thread"]
            assert not [e for e in thread if e["kind"].startswith(("merg", "link", "unlink"))]
            TALLY["refused"] += 1
        return
    elif endpoint in CREATES:
        number = number_of(case, response, output)
        if number is None:  # accepted without a ticket (an ignored email)
            return
        agent_view(host, number)  # stored whole: the head and its thread read back
    else:
        return
    TALLY["accepted"] += 1
    if "inert" in case:
        check_inert(case, number, email, host, maildev)
    if case.get("headers_safe"):
        check_headers(email, maildev)
    if case.get("files_safe"):
        check_files(number, host)
