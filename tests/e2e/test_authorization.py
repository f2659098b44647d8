"""Every agent endpoint checks its caller: 401 without a principal, 403 without the role.
The list of endpoints comes from the app's own registry, so a new one cannot be missed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LocalServices, unique_email
from tests.e2e.conftest import RunningHost, own_storage, running_host
from tests.registry import http_functions

PUBLIC = {"intake_create", "web_form", "health_get", "openapi_get", "static_files",
          "agentui_page", "kb_suggest", "help_search", "help_article",
          # The requester portal: signed links instead of a sign-in (tests/e2e/test_portal.py).
          "portal_check_form", "portal_check_send", "portal_open_link", "portal_open",
          "portal_renew_link", "portal_ticket",
          "portal_attachment", "portal_reply", "portal_rate",
          "portal_collaborator_add", "portal_collaborator_remove",
          # The requester's own export: the portal session's address (test_requester_data.py).
          "portal_export",
          # A collaborator's "stop copying me" link (tests/e2e/test_collaborators.py).
          "portal_unsubscribe_page", "portal_unsubscribe"}
# Integrations authenticate with an API key or a signature, never a signed-in principal.
KEYED = {"integrations_osticket", "integrations_email", "integrations_chat"}
ADMIN = {"directory_put", "directory_delete", "apikeys_create", "apikeys_list",
         "apikeys_revoke", "admin_poison_list", "admin_poison_replay", "rules_test",
         "mailboxes_list", "mailboxes_health", "audit_list", "audit_csv",
         # A requester's data: export, erasure (tests/e2e/test_requester_data.py).
         "requesters_export", "requesters_erase", "requesters_erasure_status",
         # Outbound webhooks (tests/e2e/test_webhooks.py).
         "webhooks_list", "webhooks_create", "webhooks_put", "webhooks_delete",
         "webhooks_rotate", "webhooks_deliveries", "webhooks_replay"}
SUPERVISOR = {"reports_summary", "reports_tickets_csv"}
SAMPLE = {"number": "12345674", "other": "12345674", "action": "note", "id": "abc", "kind": "teams",
          "queue": "ticket-events", "email": "someone@example.org",
          "event": "12345674-1-ticket.created"}


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


# What an outsider sends to a desk deployed without App Service Authentication: the
# header App Service would set, claiming every role.
FORGED_ADMIN = base64.b64encode(json.dumps({
    "auth_typ": "aad", "claims": [
        {"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
         "val": "intruder"},
        {"typ": "name", "val": "intruder@evil.example"},
        *({"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "val": r}
          for r in ("agent", "supervisor", "admin"))]}).encode()).decode()


@pytest.fixture(scope="module")
def unprotected(test_services: LocalServices, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[RunningHost]:
    """The desk as `azd up` from zero leaves it: no App Service Authentication, so the
    platform passes a client's principal header on unchanged (`--no-auth`)."""
    workdir: Path = tmp_path_factory.mktemp("unprotected")
    with own_storage(test_services, workdir) as storage, \
            running_host(storage, workdir, host_args=("--no-auth",)) as running:
        yield running


@pytest.mark.parametrize("name,method,path", list(endpoints()))
def test_a_forged_principal_gets_401_where_sign_in_is_not_configured(
        unprotected: RunningHost, name, method, path):
    with httpx.Client(base_url=unprotected.base_url, timeout=30, headers={
            "X-MS-CLIENT-PRINCIPAL": FORGED_ADMIN, "X-MS-CLIENT-PRINCIPAL-ID": "intruder",
            "X-Helpdesk-Request": "1"}) as forger:
        r = forger.request(method, path, json={})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "sign-in is not configured" in r.json()["detail"].lower()


def test_without_sign_in_the_agent_page_says_how_to_set_it_up_and_the_public_desk_works(
        unprotected: RunningHost):
    with httpx.Client(base_url=unprotected.base_url, timeout=30) as client:
        page = client.get("/api/agent", headers={"X-MS-CLIENT-PRINCIPAL": FORGED_ADMIN})
        assert page.status_code == 401
        assert "Agent sign-in is not configured" in page.text
        assert "HELPDESK_AUTH_CLIENT_ID" in page.text
        assert client.get("/.auth/login/dev").status_code == 404
        created = client.post("/api/tickets", json={
            "name": "Req", "email": unique_email(), "subject": "public", "description": "d"})
        assert created.status_code == 201, created.text
        assert client.get("/api/form").status_code == 200
