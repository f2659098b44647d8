"""Who may call what, as a matrix: every HTTP function the app registers (read from the
azure-functions registry) against no principal, a signed-in person without a role, an
agent, a supervisor and an admin, with the role each operation documents in
functions/openapi_spec.py; the portal's routes against no link, another ticket's link, an expired,
a tampered and a foreign-signed link; the integrations' API keys with the wrong scope or
revoked. No cell may answer 5xx. (test_authorization.py keeps the CSRF and spoofed-header
checks.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from functions.openapi_spec import OPERATIONS
from shared.core.auth import IMPLIES
from shared.core.links import make_code, make_session
from tests.conftest import PORTAL_SECRET, unique_email
from tests.e2e.conftest import RunningHost
from tests.e2e.test_portal import csrf_of
from tests.registry import http_functions

PRINCIPALS = ("anonymous", "requester", "agent", "supervisor", "admin")
SAMPLE = {"number": "12345674", "other": "12345674", "action": "note", "id": "abc", "kind": "teams",
          "queue": "ticket-events", "token": "abc", "path": "ui.css",
          "email": "someone@example.org", "event": "12345674-1-ticket.created"}
# Integrations authenticate with an API key or a signature, never with a principal.
KEYED = {"integrations_osticket", "integrations_email", "integrations_chat"}
# The portal's session routes: a link's cookie, whatever principal the browser has.
PORTAL_SESSION = {"portal_ticket", "portal_attachment", "portal_reply", "portal_rate",
                  "portal_collaborator_add", "portal_collaborator_remove", "portal_export"}


def _normal(path: str) -> str:
    return re.sub(r"\{\*?[^}]+\}", "{}", path)


ROLES = {(_normal(op.path), op.method.upper()): op.role for op in OPERATIONS}


def expected(name: str, method: str, path: str, principal: str) -> set[int] | str:
    """The exact statuses a cell may answer, or "allowed" (neither 401/403 nor 5xx)."""
    if name in KEYED:
        return {401}
    if name in PORTAL_SESSION:
        return {401}
    if name in ("portal_open_link", "portal_open", "portal_renew_link",
                "portal_unsubscribe_page", "portal_unsubscribe"):
        return {403}  # "abc" (or no code at all) is not a signed link
    role = ROLES[(_normal(path), method)]
    if role is None:
        return "allowed"
    if principal == "anonymous":
        # The agents' page sends a signed-out browser to the sign-in page.
        return {302} if name == "agentui_page" else {401}
    mine = {"requester": set(), "agent": {"agent"}, "supervisor": {"supervisor", "agent"},
            "admin": IMPLIES["admin"]}[principal]
    return "allowed" if role in mine else {403}


def cells() -> Iterator[object]:
    for fn in http_functions():
        path = "/api/" + re.sub(r"\{\*?(\w+)\}", lambda m: SAMPLE[m.group(1)], fn.route)
        for method in fn.methods:
            yield pytest.param(fn.name, method, path, "/api/" + fn.route,
                               id=f"{method} /api/{fn.route}")


@pytest.fixture(scope="module")
def callers(host: RunningHost) -> Iterator[dict[str, httpx.Client]]:
    with ExitStack() as stack:
        clients = {"anonymous": stack.enter_context(host.client())}
        roles = {"requester": "", "agent": "agent", "supervisor": "supervisor",
                 "admin": "admin"}
        for principal, role in roles.items():
            clients[principal] = stack.enter_context(host.signed_in(
                roles=role, user=f"matrix-{principal}", email=f"matrix-{principal}@example.com"))
        yield clients


@pytest.mark.parametrize("name,method,path,route", list(cells()))
def test_every_endpoint_answers_each_principal_as_documented(callers, name, method, path,
                                                             route):
    for principal in PRINCIPALS:
        r = callers[principal].request(method, path, json={}, follow_redirects=False)
        want = expected(name, method, route, principal)
        assert r.status_code < 500, (principal, r.status_code, r.text[:300])
        if want == "allowed":
            assert r.status_code not in (401, 403), (principal, r.status_code, r.text[:300])
        else:
            assert r.status_code in want, (principal, r.status_code, r.text[:300])
        if r.status_code in (401, 403) and not name.startswith(("portal_", "agentui")) \
                and name != "integrations_osticket":
            assert r.headers["content-type"].startswith("application/problem+json"), principal


def test_the_audit_log_has_no_edit_path_for_anyone(callers):
    """The audit log is read-only over HTTP: the registry has only GETs for it, and no
    principal can PUT, PATCH, DELETE or POST to it or to an entry."""
    assert {(fn.route, fn.methods) for fn in http_functions() if fn.route.startswith("audit")} \
        == {("audit", ("GET",)), ("audit.csv", ("GET",))}
    assert {op.method for op in OPERATIONS if op.path.startswith("/api/audit")} == {"get"}
    for principal in PRINCIPALS:
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            for path in ("/api/audit", "/api/audit/20260101.1", "/api/audit.csv"):
                r = callers[principal].request(method, path, json={})
                assert r.status_code in (404, 405), (principal, method, path, r.status_code)


def test_the_matrix_covers_every_documented_operation():
    routes = {(_normal("/api/" + fn.route), m) for fn in http_functions() for m in fn.methods}
    assert routes == set(ROLES)


# -- the portal's links ----------------------------------------------------------------------

def token(number: str, email: str, *, secret: str = PORTAL_SECRET, days: float = 30,
          make=make_session) -> str:
    """A session cookie's value (or, with `make=make_code`, an emailed link's code)."""
    return make(number, email, secret=secret, expires=datetime.now(UTC) + timedelta(days=days))


def ticket_with_file(host: RunningHost, email: str) -> tuple[str, str]:
    with host.client() as client:
        r = client.post("/api/tickets", data={"name": "R", "email": email, "subject": "s",
                                               "description": "d"},
                        files=[("attachments", ("mine.txt", b"private to " + email.encode(),
                                                "text/plain"))])
    assert r.status_code == 201, r.text
    return r.json()["number"], r.json()["attachments"][0]["id"]


def portal_client(host: RunningHost, value: str | None) -> httpx.Client:
    client = host.client()
    if value is not None:
        client.cookies.set("helpdesk_portal", value, path="/api/portal")
    return client


def session_routes(client: httpx.Client, attachment: str, csrf: str = "x") -> dict[str, int]:
    headers = {"Origin": str(client.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    return {
        "page": client.get("/api/portal/ticket").status_code,
        "attachment": client.get(f"/api/portal/ticket/attachments/{attachment}").status_code,
        "reply": client.post("/api/portal/ticket/reply", headers=headers,
                             data={"body": "forged?", "csrf": csrf}).status_code,
        "rating": client.post("/api/portal/ticket/rating", headers=headers,
                              data={"solved": "yes", "csrf": csrf}).status_code,
    }


def public_messages(host: RunningHost, number: str) -> list[dict]:
    with host.signed_in() as agent:
        thread = agent.get(f"/api/tickets/{number}").json()["thread"]
    return [e for e in thread if e["kind"] in ("message", "rated")]


def test_portal_links_open_only_their_own_ticket(host: RunningHost):
    email_a, email_b = unique_email("pa"), unique_email("pb")
    number_a, file_a = ticket_with_file(host, email_a)
    number_b, file_b = ticket_with_file(host, email_b)
    good_a = token(number_a, email_a)
    payload, mac = good_a.split(".")
    # Ticket B's payload under A's signature, and A's link under another desk's secret.
    forged_payload = token(number_b, email_b).split(".")[0]
    variants = {
        "no link": (None, {"page": 401, "attachment": 401, "reply": 401, "rating": 401}),
        "expired": (token(number_a, email_a, days=-1),
                    {"page": 410, "attachment": 410, "reply": 410, "rating": 410}),
        "tampered": (f"{forged_payload}.{mac}",
                     {"page": 403, "attachment": 403, "reply": 403, "rating": 403}),
        "cut short": (f"{payload}.{mac[:-4]}",
                      {"page": 403, "attachment": 403, "reply": 403, "rating": 403}),
        "other secret": (token(number_a, email_a, secret="another-desk-secret"),
                         {"page": 403, "attachment": 403, "reply": 403, "rating": 403}),
    }
    for what, (value, want) in variants.items():
        with portal_client(host, value) as client:
            assert session_routes(client, file_b) == want, what
    code_a = token(number_a, email_a, make=make_code)
    code_mac = code_a.split(".")[1]
    links = {"expired": token(number_a, email_a, days=-1, make=make_code),
             "tampered": f"{token(number_b, email_b, make=make_code).split('.')[0]}.{code_mac}",
             "other secret": token(number_a, email_a, secret="another-desk-secret",
                                   make=make_code),
             # A session's value is no link, nor is a link a session.
             "a session as a link": good_a}
    for what, value in links.items():
        with host.client() as client:
            for r in (client.get(f"/api/portal/t/{value}", follow_redirects=False),
                      client.post("/api/portal/open", data={"code": value},
                                  follow_redirects=False)):
                assert r.status_code == (410 if what == "expired" else 403), what
                assert "set-cookie" not in r.headers, what
    with portal_client(host, code_a) as client:
        assert client.get("/api/portal/ticket").status_code == 403

    # A's good link, used on B's file and to answer: only ever ticket A.
    with host.client() as client:
        assert client.post("/api/portal/open", data={"code": code_a}).status_code == 303
        page = client.get("/api/portal/ticket")
        assert page.status_code == 200 and number_a in page.text and number_b not in page.text
        assert client.get(f"/api/portal/ticket/attachments/{file_b}").status_code == 404
        own = client.get(f"/api/portal/ticket/attachments/{file_a}")
        assert own.status_code == 200 and own.content == b"private to " + email_a.encode()
        reply = client.post("/api/portal/ticket/reply", data={
            "body": "from A's link", "csrf": csrf_of(page.text)},
            headers={"Origin": host.base_url, "Sec-Fetch-Site": "same-origin"},
            follow_redirects=False)
        assert reply.status_code == 303, reply.text
    assert [e["body"] for e in public_messages(host, number_a)] == ["from A's link"]
    assert public_messages(host, number_b) == []


# -- API keys --------------------------------------------------------------------------------

def test_api_keys_with_the_wrong_scope_or_revoked_are_refused(host: RunningHost):
    with host.signed_in(roles="admin") as admin:
        keys = {scope: admin.post("/api/apikeys", json={"name": f"matrix {scope}",
                                                        "scopes": [scope]}).json()
                for scope in ("tickets", "email")}
    mail = (f"From: R <{unique_email('key')}>\r\nTo: support@example.com\r\nSubject: k\r\n"
            f"Message-ID: <{unique_email('mid')}>\r\n\r\nbody\r\n").encode()

    def osticket(key: str) -> int:
        with host.client() as client:
            return client.post("/api/tickets.json", headers={"X-API-Key": key}, json={
                "name": "R", "email": unique_email("key"), "subject": "s",
                "message": "m"}).status_code

    def email(key: str) -> int:
        with host.client() as client:
            return client.post("/api/tickets.email", content=mail, headers={
                "X-API-Key": key, "content-type": "message/rfc822"}).status_code

    assert osticket(keys["email"]["key"]) == 403  # a mail gateway's key
    assert email(keys["tickets"]["key"]) == 403  # an integration's key
    assert osticket(keys["tickets"]["key"]) == 201
    assert email(keys["email"]["key"]) == 201
    for garbage in ("", "hd_", "hd_x_y", keys["tickets"]["key"] + "x", "Bearer " + "a" * 40):
        assert osticket(garbage) == 401, garbage
        assert email(garbage) == 401, garbage
    with host.signed_in(roles="admin") as admin:
        for made in keys.values():
            assert admin.delete(f"/api/apikeys/{made['info']['id']}").status_code == 204
    assert osticket(keys["tickets"]["key"]) == 401
    assert email(keys["email"]["key"]) == 401
