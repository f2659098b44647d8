"""Who else has a ticket open, through the running host: two agents see each other and who
is typing; the agent is always the signed-in principal, whatever the body says; leaving
takes an agent off at once. (Expiry after 20 seconds, with a clock of the test's own:
tests/integration/test_presence.py.)"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost


def new_ticket(host: RunningHost) -> str:
    with host.client() as client:
        r = client.post("/api/tickets", json={"name": "R", "email": unique_email("here"),
                                              "subject": "presence", "description": "d"})
    assert r.status_code == 201, r.text
    return r.json()["number"]


def beat(client: httpx.Client, number: str, **body) -> httpx.Response:
    return client.put(f"/api/tickets/{number}/presence", json=body)


def others(response: httpx.Response) -> list[tuple[str, str, bool]]:
    assert response.status_code == 200, response.text
    return [(p["agent"], p["name"], p["typing"]) for p in response.json()["others"]]


@pytest.fixture(scope="module")
def pair(host: RunningHost) -> tuple[str, str]:
    tag = uuid.uuid4().hex[:6]
    ana, bo = f"ana-{tag}", f"bo-{tag}"
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        for user, name in ((ana, "Ana"), (bo, "Bo")):
            assert admin.put(f"/api/directory/agents/{user}", json={
                "name": name, "email": f"{user}@staff.example.com",
                "teams": ["service-desk"]}).status_code == 200
    return ana, bo


def test_two_agents_see_each_other_and_who_is_typing(host: RunningHost, pair):
    ana, bo = pair
    number = new_ticket(host)
    with host.signed_in(user=ana, email=f"{ana}@staff.example.com") as a, \
            host.signed_in(user=bo, email=f"{bo}@staff.example.com") as b:
        first = beat(a, number)
        assert others(first) == []
        assert first.json()["heartbeat_seconds"] == 5 and first.json()["fresh_seconds"] == 20
        assert first.headers["cache-control"] == "no-store"
        assert others(beat(b, number, typing=True)) == [(ana, "Ana", False)]
        assert others(beat(a, number)) == [(bo, "Bo", True)]
        assert others(beat(b, number, typing=False)) == [(ana, "Ana", False)]
        assert others(beat(a, number)) == [(bo, "Bo", False)]
        # Another ticket is another room.
        assert others(beat(b, new_ticket(host))) == []

        assert b.delete(f"/api/tickets/{number}/presence").status_code == 204
        assert others(beat(a, number)) == []
        assert b.delete(f"/api/tickets/{number}/presence").status_code == 204


def test_the_agent_is_the_principal_never_the_body(host: RunningHost, pair):
    ana, bo = pair
    number = new_ticket(host)
    with host.signed_in(user=ana, email=f"{ana}@staff.example.com") as a, \
            host.signed_in(user=bo, email=f"{bo}@staff.example.com") as b:
        for forged in ({"agent": bo}, {"agent_id": bo, "typing": True}, {"name": "Bo"},
                       {"typing": True, "at": "2099-01-01T00:00:00Z"}):
            r = beat(a, number, **forged)
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
        r = a.put(f"/api/tickets/{number}/presence", json={"typing": True}, headers={
            "X-MS-CLIENT-PRINCIPAL-ID": bo, "X-MS-CLIENT-PRINCIPAL-NAME": "Bo"})
        assert r.status_code == 200
        # Whatever Ana sent, Bo sees Ana, and nobody sees a Bo he did not send.
        assert others(beat(b, number)) == [(ana, "Ana", True)]
        assert others(beat(a, number)) == [(bo, "Bo", False)]


def test_bad_heartbeats_get_problem_json_and_unknown_tickets_404(host: RunningHost):
    number = new_ticket(host)
    with host.signed_in() as agent:
        assert beat(agent, "12345671").status_code == 404  # no such ticket
        assert beat(agent, "12345674").status_code == 404  # no such number (check digit)
        assert beat(agent, number, typing="very").status_code == 422
        r = agent.put(f"/api/tickets/{number}/presence", content=b"[true]",
                      headers={"content-type": "application/json"})
        assert r.status_code == 400
        r = agent.put(f"/api/tickets/{number}/presence", content=b"typing=1",
                      headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        # No body at all is a heartbeat of an agent not typing.
        assert agent.put(f"/api/tickets/{number}/presence").status_code == 200
        del agent.headers["X-Helpdesk-Request"]
        assert beat(agent, number).status_code == 403
    with host.client() as anonymous:
        assert beat(anonymous, number).status_code == 401
        assert anonymous.delete(f"/api/tickets/{number}/presence").status_code == 401
