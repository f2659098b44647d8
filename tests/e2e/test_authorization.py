"""Every agent endpoint checks its caller: 401 without a principal, 403 without the role.
The list of endpoints comes from the app's own registry, so a new one cannot be missed."""

from __future__ import annotations

import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.registry import http_functions

PUBLIC = {"intake_create", "web_form", "health_get", "openapi_get", "static_files",
          "agentui_page", "kb_suggest", "help_search", "help_article",
          # The requester portal: signed links instead of a sign-in (tests/e2e/test_portal.py).
          "portal_check_form", "portal_check_send", "portal_open_link", "portal_open",
          "portal_renew_link", "portal_ticket",
          "portal_attachment", "portal_reply", "portal_rate"}
# Integrations authenticate with an API key or a signature, never a signed-in principal.
KEYED = {"integrations_osticket", "integrations_email", "integrations_chat"}
ADMIN = {"directory_put", "directory_delete", "apikeys_create", "apikeys_list",
         "apikeys_revoke", "admin_poison_list", "admin_poison_replay", "rules_test"}
SUPERVISOR = {"reports_summary", "reports_tickets_csv"}
SAMPLE = {"number": "12345674", "action": "note", "id": "abc", "kind": "teams",
          "queue": "ticket-events"}


def endpoints():
    for fn in http_functions():
        if fn.name in PUBLIC | KEYED:
            continue
        path = "/api/" + fn.route.format(**SAMPLE)
        for method in fn.methods:
            yield pytest.param(fn.name, method, path, id=f"{method} {path}")


@pytest.mark.parametrize("name,method,path", list(endpoints()))
def test_agent_endpoints_check_roles(host: RunningHost, name, method, path):
    with host.client() as anonymous:
        r = anonymous.request(method, path, json={})
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    with host.signed_in(roles="", user="someone", email=unique_email()) as requester:
        assert requester.request(method, path, json={}).status_code == 403
    if name in ADMIN:
        with host.signed_in(roles="agent,supervisor") as agent:
            assert agent.request(method, path, json={}).status_code == 403
    elif name in SUPERVISOR:
        with host.signed_in(roles="agent") as agent:
            assert agent.request(method, path, json={}).status_code == 403
        with host.signed_in(roles="supervisor") as supervisor:
            assert supervisor.request(method, path, json={}).status_code not in (401, 403)
    else:
        with host.signed_in(roles="agent") as agent:
            assert agent.request(method, path, json={}).status_code not in (401, 403)


@pytest.mark.parametrize("path", ["/api/tickets.json", "/api/tickets.email",
                                  "/api/channels/chat"])
def test_integrations_refuse_callers_without_a_key_even_when_signed_in(host: RunningHost,
                                                                       path):
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post(path, content=b"{}", headers={"content-type": "application/json"})
        assert r.status_code == 401, r.text


def test_the_public_endpoints_need_no_sign_in(host: RunningHost):
    with host.client() as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/form").status_code == 200
        assert client.get("/api/openapi.json").status_code == 200


def test_a_signed_in_browser_must_send_the_request_header_with_every_change(host: RunningHost):
    """A hostile page can make the agent's browser send its session cookie, never a custom
    header: the change is refused without it, and reading stays possible."""
    with host.client() as anonymous:
        number = anonymous.post("/api/tickets", json={
            "name": "Req", "email": unique_email(), "subject": "csrf", "description": "d"}).json()["number"]
    with host.signed_in(roles="agent") as agent:
        del agent.headers["X-Helpdesk-Request"]
        forged = agent.post(f"/api/tickets/{number}/note", json={"body": "forged"})
        assert forged.status_code == 403, forged.text
        assert "x-helpdesk-request" in forged.json()["detail"]
        thread = agent.get(f"/api/tickets/{number}").json()["thread"]
        assert not [e for e in thread if e.get("body") == "forged"]
        agent.headers["X-Helpdesk-Request"] = "1"
        assert agent.post(f"/api/tickets/{number}/note", json={"body": "real"}).status_code == 200
