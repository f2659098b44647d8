"""Agents are ready at their first sign-in: the record is made from the token, kept in
step with it, made once however many first requests race, and an agent an admin removed
stays removed until restored (shared/admin/agents.py)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost


def new_ticket(host: RunningHost) -> str:
    with host.client() as client:
        r = client.post("/api/tickets", json={"name": "Req", "email": unique_email(),
                                              "subject": "first sign-in", "description": "d"})
    assert r.status_code == 201, r.text
    return r.json()["number"]


def agents(host: RunningHost) -> dict[str, dict]:
    with host.signed_in(roles="agent,admin", user="admin1", email="admin1@example.com") as admin:
        return {a["id"]: a for a in admin.get("/api/directory/agents").json()}


def fresh_user() -> str:
    return f"new-{uuid.uuid4().hex[:10]}"


def test_a_new_principal_takes_a_ticket_at_the_first_sign_in(host: RunningHost):
    user = fresh_user()
    number = new_ticket(host)
    with host.signed_in(roles="agent", user=user, email=f"{user}@staff.example.com") as agent:
        taken = agent.post(f"/api/tickets/{number}/assign", json={"agent": "me"})
        assert taken.status_code == 200, taken.text
        assert taken.json()["ticket"]["assignee"] == user
        me = agent.get("/api/me").json()
        assert me["agent"]["email"] == f"{user}@staff.example.com"
    record = agents(host)[user]
    assert record["roles"] == ["agent"]
    assert record["teams"] == [] and record["available"] is True


def test_two_first_requests_at_once_make_one_record_and_both_succeed(host: RunningHost):
    user = fresh_user()

    def first_request(_: int) -> int:
        with host.signed_in(roles="agent", user=user, email=f"{user}@staff.example.com") as c:
            return c.get("/api/me").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(first_request, range(8)))
    assert statuses == [200] * 8
    assert [a for a in agents(host) if a == user] == [user]


def test_the_record_follows_the_token_but_keeps_what_an_admin_set(host: RunningHost):
    user = fresh_user()
    with host.signed_in(roles="agent", user=user, email=f"{user}@old.example.com") as agent:
        assert agent.get("/api/me").status_code == 200
    with host.signed_in(roles="agent,admin", user="admin1", email="admin1@example.com") as admin:
        record = agents(host)[user]
        r = admin.put(f"/api/directory/agents/{user}",
                      json={**record, "teams": ["senior-support"], "available": False})
        assert r.status_code == 200, r.text
    with host.signed_in(roles="agent,supervisor", user=user,
                        email=f"{user}@new.example.com") as agent:
        assert agent.get("/api/me").status_code == 200
    record = agents(host)[user]
    assert record["email"] == f"{user}@new.example.com"
    assert record["roles"] == ["agent", "supervisor"]
    assert record["teams"] == ["senior-support"] and record["available"] is False


def test_a_removed_agent_cannot_act_and_is_not_recreated_until_restored(host: RunningHost):
    user = fresh_user()
    number = new_ticket(host)
    email = f"{user}@staff.example.com"
    with host.signed_in(roles="agent", user=user, email=email) as agent:
        assert agent.get("/api/me").status_code == 200
    record = agents(host)[user]
    with host.signed_in(roles="agent,admin", user="admin1", email="admin1@example.com") as admin:
        assert admin.delete(f"/api/directory/agents/{user}").status_code == 204
    with host.signed_in(roles="agent", user=user, email=email) as agent:
        refused = agent.post(f"/api/tickets/{number}/note", json={"body": "still here?"})
        assert refused.status_code == 403, refused.text
        assert "removed" in refused.json()["detail"]
        assert agent.get(f"/api/tickets/{number}").status_code == 403
        page = agent.get("/api/agent")
        assert page.status_code == 403 and "removed" in page.text
    assert user not in agents(host)
    with host.signed_in(roles="agent", user="agent1") as other:
        thread = other.get(f"/api/tickets/{number}").json()["thread"]
        assert not [e for e in thread if e.get("body") == "still here?"]

    with host.signed_in(roles="agent,admin", user="admin1", email="admin1@example.com") as admin:
        assert admin.put(f"/api/directory/agents/{user}", json=record).status_code == 200
    with host.signed_in(roles="agent", user=user, email=email) as agent:
        r = agent.post(f"/api/tickets/{number}/note", json={"body": "back again"})
        assert r.status_code == 200, r.text


def test_a_principal_without_an_agent_role_gets_no_record(host: RunningHost):
    user = fresh_user()
    with host.signed_in(roles="", user=user, email=f"{user}@example.com") as someone:
        assert someone.get("/api/me").status_code == 403
    assert user not in agents(host)

