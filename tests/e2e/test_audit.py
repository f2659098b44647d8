"""The audit log over HTTP against the local host: an entry for each family of admin
changes (directory, rules, SLA plans, mailboxes, API keys), for intake with an API key
and the mail pipe, for an agent's download of a file; refused writes; filters, paging,
the CSV download; retention by the daily timer; and no way to change an entry.

Every admin and supervisor write route the app registers (read from the registry, so a
route another branch adds is covered) is shown to leave an entry."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from azure.data.tables import TableServiceClient

from shared.storage.audit import day_key
from tests.conftest import LocalServices, unique_email
from tests.e2e.conftest import RunningHost, host_of_its_own
from tests.e2e.test_authorization_matrix import ROLES, _normal
from tests.registry import http_functions
from tests.support import email_message, wait_for

SECRET = "s3cret-value-never-logged"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def tag(prefix: str = "audit") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin(host: RunningHost) -> Iterator[tuple[httpx.Client, str]]:
    user = tag("auditor")
    with host.signed_in(roles="agent,admin", user=user, email=f"{user}@staff.example.com"
                        ) as client:
        yield client, user


def entries(client: httpx.Client, **filters: str) -> list[dict]:
    """Every entry matching the filters, following the continuation."""
    found: list[dict] = []
    params = {"limit": "200", **filters}
    while True:
        r = client.get("/api/audit", params=params)
        assert r.status_code == 200, r.text
        found += r.json()["entries"]
        if not r.json()["continuation"]:
            return found
        params["continuation"] = r.json()["continuation"]


def by_route(found: list[dict]) -> dict[tuple[str, str, str | None], dict]:
    return {(e["method"], e["route"], e["target"]): e for e in found}


def test_each_admin_change_is_recorded_with_who_what_when_and_where(
        host: RunningHost, admin: tuple[httpx.Client, str]):
    client, user = admin
    started = datetime.now(UTC)
    ids = {kind: tag(kind) for kind in ("team", "cat", "canned", "rule", "plan", "box", "agent")}
    assert client.put(f"/api/directory/teams/{ids['team']}", json={
        "name": "Audit team"}).status_code == 200
    assert client.put(f"/api/directory/teams/{ids['team']}", json={
        "name": "Audit team, renamed"}).status_code == 200
    assert client.put(f"/api/directory/agents/{ids['agent']}", json={
        "name": "Audited Agent", "email": f"{ids['agent']}@staff.example.com",
        "teams": [ids["team"]]}).status_code == 200
    # A client's own X-Forwarded-For is not where it is: the front end appends the peer.
    assert client.put(f"/api/directory/categories/{ids['cat']}", json={
        "name": "Audit category"}, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
    assert client.put(f"/api/directory/canned/{ids['canned']}", json={
        "title": "Audit canned", "body": SECRET}).status_code == 200
    assert client.put(f"/api/directory/rules/{ids['rule']}", json={
        "name": "Audit rule", "conditions": [{"field": "subject", "op": "contains",
                                              "value": SECRET}],
        "actions": [{"type": "set_priority", "value": "high"}]}).status_code == 200
    targets = {p: {"first_response_hours": 1, "resolution_hours": 8, "business_hours": False}
               for p in ("low", "normal", "high", "urgent")}
    assert client.put(f"/api/directory/sla-plans/{ids['plan']}", json={
        "name": "Audit plan", "calendar": {"id": "any"}, "targets": targets}).status_code == 200
    assert client.put(f"/api/directory/mailboxes/{ids['box']}", json={
        "address": f"{ids['box']}@example.com", "host": "127.0.0.1", "port": 1,
        "security": "plain", "username": "u", "auth": "password", "enabled": False,
        "password_setting": "HELPDESK_MAILBOX_AUDIT_PASSWORD"}).status_code == 200, \
        "mailbox"
    assert client.delete(f"/api/directory/mailboxes/{ids['box']}").status_code == 204
    assert client.delete(f"/api/directory/categories/{ids['cat']}").status_code == 204
    made = client.post("/api/apikeys", json={"name": "audit key", "scopes": ["tickets"]})
    assert made.status_code == 201
    key_id = made.json()["info"]["id"]
    assert client.delete(f"/api/apikeys/{key_id}").status_code == 204
    assert client.post("/api/rules/test", json={
        "name": "R", "email": unique_email(), "subject": SECRET, "description": "d"}
    ).status_code == 200
    assert client.post("/api/poison/ticket-events/replay", json={"ids": []}).status_code == 200
    # Reading changes nothing and is not recorded.
    assert client.get("/api/apikeys").status_code == 200

    found = entries(client, actor=user)
    routes = by_route(found)
    directory = "/api/directory/{kind}/{id}"
    assert routes[("PUT", directory, ids["agent"])]["summary"] == \
        "created: email, id, name, teams"
    renamed, created = [e for e in found if e["target"] == ids["team"]]  # newest first
    assert created["summary"] == "created: id, name"
    assert renamed["summary"] == "changed: name"
    assert routes[("PUT", directory, ids["cat"])]["params"] == {"kind": "categories",
                                                                "id": ids["cat"]}
    assert routes[("PUT", directory, ids["canned"])]["summary"].startswith("created: ")
    assert routes[("PUT", directory, ids["rule"])]["params"]["kind"] == "rules"
    assert routes[("PUT", directory, ids["plan"])]["params"]["kind"] == "sla-plans"
    box = routes[("PUT", directory, ids["box"])]
    assert box["params"]["kind"] == "mailboxes" and "password_setting" in box["summary"]
    assert routes[("DELETE", directory, ids["box"])]["status"] == 204
    assert routes[("DELETE", directory, ids["cat"])]["status"] == 204
    assert routes[("POST", "/api/apikeys", key_id)]["status"] == 201
    assert routes[("POST", "/api/apikeys", key_id)]["summary"] == "fields: name, scopes"
    assert routes[("DELETE", "/api/apikeys/{id}", key_id)]["status"] == 204
    assert routes[("POST", "/api/rules/test", None)]["status"] == 200
    replay = routes[("POST", "/api/poison/{queue}/replay", None)]
    assert replay["params"] == {"queue": "ticket-events"} and replay["status"] == 200
    assert not [e for e in found if e["method"] == "GET"]
    assert len(found) == 14

    for entry in found:
        assert entry["actor"] == {"kind": "principal", "id": user,
                                  "name": f"{user}@staff.example.com",
                                  "roles": ["admin", "agent", "authenticated"]}
        assert entry["address"] == "127.0.0.1"  # the peer the front end (devhost) appended
        assert started - timedelta(seconds=5) <= datetime.fromisoformat(entry["at"]) \
            <= datetime.now(UTC)
        assert 200 <= entry["status"] < 300
    text = json.dumps(found)
    assert SECRET not in text and made.json()["key"] not in text
    assert made.json()["key"].split("_")[-1] not in text


def test_a_refused_write_is_recorded_with_its_status_and_an_anonymous_one_is_not(
        host: RunningHost, admin: tuple[httpx.Client, str]):
    client, _ = admin
    agent_id = tag("plain-agent")
    team = tag("team")
    with host.signed_in(roles="agent", user=agent_id, email=f"{agent_id}@example.com") as agent:
        assert agent.put(f"/api/directory/teams/{team}", json={"name": "x"}).status_code == 403
    with host.signed_in(roles="agent,admin", user=agent_id + "-admin",
                        email=f"{agent_id}@example.com") as forged:
        del forged.headers["X-Helpdesk-Request"]  # a page of another site made this request
        assert forged.delete(f"/api/directory/teams/{team}").status_code == 403
        forged.headers["X-Helpdesk-Request"] = "1"
        invalid = forged.put(f"/api/directory/teams/{team}", json={"name": ""})
        assert invalid.status_code == 422
    with host.client() as anonymous:
        assert anonymous.put(f"/api/directory/teams/{team}", json={"name": "x"}
                             ).status_code == 401
    [refused] = entries(client, actor=agent_id)
    assert (refused["method"], refused["status"], refused["target"]) == ("PUT", 403, team)
    assert refused["summary"] == "refused: This needs the 'admin' role."
    csrf, bad = sorted(entries(client, actor=agent_id + "-admin"), key=lambda e: e["method"])
    assert (csrf["method"], csrf["status"]) == ("DELETE", 403)
    assert "x-helpdesk-request" in csrf["summary"]
    assert (bad["method"], bad["status"], bad["summary"]) == ("PUT", 422, "fields: name")
    assert len(entries(client, target=team)) == 3  # nothing for the anonymous attempt


def test_intake_with_an_api_key_and_the_mail_pipe_are_recorded_by_key(
        host: RunningHost, admin: tuple[httpx.Client, str]):
    client, _ = admin
    keys = {scope: client.post("/api/apikeys", json={"name": f"audit {scope}",
                                                      "scopes": [scope]}).json()
            for scope in ("tickets", "email")}
    with host.client() as integration:
        r = integration.post("/api/tickets.json", headers={"X-API-Key": keys["tickets"]["key"]},
                             json={"name": "R", "email": unique_email("key"), "subject": "s",
                                   "message": SECRET})
        assert r.status_code == 201, r.text
        number = r.text.strip()
        refused = integration.post("/api/tickets.json", headers={
            "X-API-Key": keys["tickets"]["key"]}, json={"name": "R"})
        assert refused.status_code == 422
        assert integration.post("/api/tickets.json", headers={"X-API-Key": "hd_nope_x"},
                                json={}).status_code == 401
        # The mail gateway's key on the ticket API: a real key where it should not be.
        assert integration.post("/api/tickets.json", headers={
            "X-API-Key": keys["email"]["key"]}, json={}).status_code == 403
        mail = email_message(unique_email("pipe"), "audited mail", SECRET).as_bytes()
        piped = integration.post("/api/tickets.email", content=mail, headers={
            "X-API-Key": keys["email"]["key"], "content-type": "message/rfc822"})
        assert piped.status_code == 201, piped.text
    osticket = entries(client, actor=keys["tickets"]["info"]["id"])
    assert [(e["status"], e["ticket"]) for e in osticket] == [(422, None), (201, number)]
    for entry in osticket:
        assert entry["actor"] == {"kind": "apikey", "id": keys["tickets"]["info"]["id"],
                                  "name": "audit tickets", "roles": ["tickets"]}
        assert (entry["method"], entry["route"]) == ("POST", "/api/tickets.json")
        assert entry["address"] == "127.0.0.1"
    pipe, wrong = entries(client, actor=keys["email"]["info"]["id"])
    assert (wrong["route"], wrong["status"], wrong["summary"]) == (
        "/api/tickets.json", 403, "refused: This API key may not be used for 'tickets'.")
    assert (pipe["route"], pipe["status"], pipe["summary"]) == (
        "POST", "/api/tickets.email", 201, "outcome: created")[1:]
    assert pipe["ticket"] == piped.text.strip()
    text = json.dumps(osticket + [pipe])
    assert SECRET not in text and keys["tickets"]["key"] not in text
    assert keys["email"]["key"] not in text


def test_an_agents_download_of_a_file_is_recorded(host: RunningHost,
                                                   admin: tuple[httpx.Client, str]):
    client, _ = admin
    with host.client() as requester:
        r = requester.post("/api/tickets", data={"name": "R", "email": unique_email(),
                                                  "subject": "file", "description": "d"},
                           files=[("attachments", ("a.txt", b"private", "text/plain"))])
    number, file_id = r.json()["number"], r.json()["attachments"][0]["id"]
    viewer = tag("viewer")
    with host.signed_in(roles="agent", user=viewer, email=f"{viewer}@example.com") as agent:
        assert agent.get(f"/api/tickets/{number}").status_code == 200
        assert agent.get(f"/api/tickets/{number}/attachments/{file_id}").content == b"private"
        assert agent.get(f"/api/tickets/{number}/attachments/nope").status_code == 404
    found = entries(client, actor=viewer)
    assert [(e["method"], e["route"], e["ticket"], e["target"], e["status"]) for e in found] == [
        ("GET", "/api/tickets/{number}/attachments/{id}", number, "nope", 404),
        ("GET", "/api/tickets/{number}/attachments/{id}", number, file_id, 200)]
    assert len(entries(client, target=number, actor=viewer)) == 2


def test_filters_and_pages(host: RunningHost, admin: tuple[httpx.Client, str]):
    client, user = admin
    teams = [tag("page") for _ in range(5)]
    for team in teams:
        assert client.put(f"/api/directory/teams/{team}", json={"name": team}).status_code == 200
    assert client.delete(f"/api/directory/teams/{teams[0]}").status_code == 204
    seen: list[str] = []
    continuation = None
    for size in (2, 2, 2):
        params = {"actor": user, "limit": "2"}
        if continuation:
            params["continuation"] = continuation
        page = client.get("/api/audit", params=params).json()
        assert len(page["entries"]) == size
        seen += [e["id"] for e in page["entries"]]
        continuation = page["continuation"]
    assert continuation is None
    assert len(set(seen)) == 6
    ordered = [e["target"] for e in entries(client, actor=user)]
    assert ordered == [teams[0], *reversed(teams)]  # newest first

    assert [e["target"] for e in entries(client, actor=user, method="DELETE")] == [teams[0]]
    assert len(entries(client, actor=user, route="directory")) == 6
    assert entries(client, actor=user, route="apikeys") == []
    assert [e["method"] for e in entries(client, target=teams[0])] == ["DELETE", "PUT"]
    today = datetime.now(UTC).date()
    assert len(entries(client, actor=user, **{"from": today.isoformat()})) == 6
    assert entries(client, actor=user, to=(today - timedelta(days=1)).isoformat()) == []
    assert client.get("/api/audit", params={"continuation": "garbage"}).status_code == 400
    bad = client.get("/api/audit", params={"from": "2026-02-02", "to": "2026-02-01"})
    assert bad.status_code == 422
    assert client.get("/api/audit", params={"limit": "0"}).status_code == 422
    assert client.get("/api/audit", params={"method": "TRACE"}).status_code == 422


def test_the_csv_download_has_the_same_entries_and_no_formulas(host: RunningHost,
                                                               admin: tuple[httpx.Client, str]):
    client, _ = admin
    sly = "=HYPERLINK(\"http://evil.example\")" + uuid.uuid4().hex[:6]
    team = tag("csv")
    with host.signed_in(roles="agent,admin", user=sly, email="@sly@example.com") as other:
        assert other.put(f"/api/directory/teams/{team}", json={"name": "x"}).status_code == 200
        assert other.delete(f"/api/directory/teams/{team}").status_code == 204
    r = client.get("/api/audit.csv", params={"target": team})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["method"] for row in rows] == ["DELETE", "PUT"]
    for row in rows:
        assert row["actor_id"] == "'" + sly  # shown as text by a spreadsheet
        assert row["actor_name"] == "'@sly@example.com"
        assert row["route"] == "/api/directory/{kind}/{id}"
        assert row["target"] == team and row["address"] == "127.0.0.1"
    assert [e["id"] for e in entries(client, target=team)] == [row["id"] for row in rows]
    assert client.get("/api/audit.csv", params={"to": "x"}).status_code == 422


def test_the_daily_timer_deletes_days_past_the_retention(host: RunningHost,
                                                          admin: tuple[httpx.Client, str]):
    client, _ = admin
    actor = tag("retained")
    now = datetime.now(UTC)

    def put(days_ago: int) -> tuple[str, str]:
        at = now - timedelta(days=days_ago)
        pk, rk = day_key(at.date()), f"{10**13 - int(at.timestamp() * 1000):013d}-{actor[-8:]}"
        table.create_entity({"PartitionKey": pk, "RowKey": rk, "at": at, "actor_kind": "principal",
                             "actor_id": actor, "actor_name": "", "actor_roles": "admin",
                             "method": "PUT", "route": "/api/directory/{kind}/{id}",
                             "params": "{}", "summary": "", "status": 200})
        return pk, rk

    with TableServiceClient.from_connection_string(host.storage) as service:
        table = service.get_table_client("audit")
        old = [put(366), put(400), put(900)]
        kept = [put(364), put(10)]
        first = (date.today() - timedelta(days=1000)).isoformat()
        assert len(entries(client, actor=actor, **{"from": first})) == 5
        host.run_function("automation_repair")

        def pruned() -> bool:
            return not list(table.query_entities(
                "actor_id eq @a and PartitionKey gt @cut",
                parameters={"a": actor, "cut": day_key((now - timedelta(days=365)).date())}))

        wait_for(pruned, timeout=60, interval=0.5, what="the old days to be deleted")
        for pk, _ in old:
            assert not list(table.query_entities("PartitionKey eq @p", parameters={"p": pk},
                                                 select=["RowKey"]))
        left = entries(client, actor=actor, **{"from": first})
        assert len(left) == 2 == len(kept)
        assert [e["id"] for e in left] == [f"{pk}.{rk}" for pk, rk in reversed(kept)]


def test_nothing_can_change_or_delete_an_entry(host: RunningHost,
                                               admin: tuple[httpx.Client, str]):
    client, user = admin
    assert client.put(f"/api/directory/teams/{tag()}", json={"name": "x"}).status_code == 200
    [entry] = entries(client, actor=user)
    for method in WRITES:
        for path in ("/api/audit", f"/api/audit/{entry['id']}", "/api/audit.csv"):
            r = client.request(method, path, json={"status": 500})
            assert r.status_code in (404, 405), (method, path, r.status_code)
    assert entries(client, actor=user) == [entry]
    for fn in http_functions():
        if fn.route.startswith("audit"):
            assert fn.methods == ("GET",), fn


def _probe_path(route: str, marker: str) -> str:
    return "/api/" + re.sub(r"\{\*?(\w+)\}", marker, route)


def admin_writes() -> list[tuple[str, str, str]]:
    """Every registered route and method that changes something and needs the admin or
    supervisor role, with that role: read from the app's registry and the roles the
    OpenAPI document gives (the authorization matrix checks those against the app)."""
    found = []
    for fn in http_functions():
        for method in fn.methods:
            role = ROLES.get((_normal("/api/" + fn.route), method))
            if method in WRITES and role in ("admin", "supervisor"):
                found.append((fn.name, method, fn.route))
    return found


def test_the_registry_has_admin_writes_to_audit():
    names = {name for name, _, _ in admin_writes()}
    assert {"directory_put", "directory_delete", "apikeys_create", "apikeys_revoke",
            "admin_poison_replay", "rules_test"} <= names


@pytest.mark.parametrize("name,method,route", admin_writes())
def test_every_admin_and_supervisor_write_route_is_audited(
        host: RunningHost, admin: tuple[httpx.Client, str], name: str, method: str, route: str):
    """Whatever the handler does with a probe (ids that name nothing, an empty body), the
    request leaves an entry naming the route and its status."""
    client, user = admin
    marker = tag("probe")
    r = client.request(method, _probe_path(route, marker), json={})
    assert r.status_code < 500, r.text
    found = entries(client, actor=user)
    assert [(e["method"], _normal(e["route"]), e["status"]) for e in found] == [
        (method, _normal("/api/" + route), r.status_code)]


@pytest.fixture(scope="module")
def lone(test_services: LocalServices, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[RunningHost]:
    """A host on an Azurite of its own: its audit table is taken away."""
    workdir = tmp_path_factory.mktemp("audithost")
    with host_of_its_own(test_services, workdir) as running:
        yield running


def test_no_change_is_made_when_its_entry_cannot_be_written(lone: RunningHost):
    team = tag("unaudited")
    requester = unique_email("unaudited")
    with lone.signed_in(roles="agent,admin", user="lone-admin") as admin:
        key = admin.post("/api/apikeys", json={"name": "k", "scopes": ["tickets"]}).json()["key"]
        with TableServiceClient.from_connection_string(lone.storage) as service:
            service.delete_table("audit")
            try:
                r = admin.put(f"/api/directory/teams/{team}", json={"name": "x"})
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"]
                with lone.client() as integration:
                    r = integration.post("/api/tickets.json", headers={"X-API-Key": key}, json={
                        "name": "R", "email": requester, "subject": "s", "message": "m"})
                    assert r.status_code == 503, r.text
                # Reading needs no entry.
                teams = admin.get("/api/directory/teams")
                assert teams.status_code == 200
                assert team not in {t["id"] for t in teams.json()}
                assert lone.tickets_of(requester) == []
            finally:
                service.create_table_if_not_exists("audit")
        assert admin.put(f"/api/directory/teams/{team}", json={"name": "x"}).status_code == 200
        [entry] = entries(admin, target=team)
        assert entry["status"] == 200
