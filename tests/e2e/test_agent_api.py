"""The agent page's own endpoints over HTTP: the page's sign-in redirect and headers, the
sidebar counts, and search."""

from __future__ import annotations

import uuid

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import wait_for


def test_the_page_sends_a_signed_out_browser_to_the_sign_in(host: RunningHost):
    with host.client() as anonymous:
        r = anonymous.get("/api/agent")
    assert r.status_code == 302
    assert r.headers["location"] == "/.auth/login/dev?post_login_redirect_uri=%2Fapi%2Fagent"


def test_the_page_is_a_shell_under_the_strict_policy(host: RunningHost):
    with host.signed_in() as agent:
        r = agent.get("/api/agent")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert '<script type="module" src="/api/static/agent/app.js">' in r.text
    assert "<script>" not in r.text and " style=" not in r.text and " on" + "click" not in r.text


def test_counts_follow_the_queues(host: RunningHost):
    me = f"counter-{uuid.uuid4().hex[:6]}"
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        assert admin.put(f"/api/directory/agents/{me}", json={
            "name": "Counter", "email": f"{me}@staff.example.com",
            "teams": ["service-desk"]}).status_code == 200
    with host.signed_in(user=me, email=f"{me}@staff.example.com") as agent:
        before = agent.get("/api/queues/counts").json()
        assert before["cap"] == 1000 and before["queues"]["mine"] == 0
        assert set(before["queues"]) == {"unassigned", "mine", "teams", "pending", "escalated",
                                         "overdue", "resolved"}
        assert before["statuses"] is None and set(before["teams"]) == {"service-desk"}
        with host.client() as client:
            number = client.post("/api/tickets", json={
                "name": "R", "email": unique_email(), "subject": "count me",
                "description": "d"}).json()["number"]
        r = agent.post(f"/api/tickets/{number}/assign", json={"agent": me})
        assert r.status_code == 200, r.text
        assert r.json()["allowed_actions"][:2] == ["assign", "reply"]
        after = agent.get("/api/queues/counts", params={"statuses": "true"}).json()
        assert after["queues"]["mine"] == 1
        assert set(after["statuses"]) == {"new", "open", "pending", "escalated", "resolved",
                                          "closed"}


def test_search_over_http(host: RunningHost):
    tag = uuid.uuid4().hex[:8]
    with host.client() as client:
        number = client.post("/api/tickets", json={
            "name": "Searcher", "email": unique_email(), "subject": f"Monitor flickers k{tag}",
            "description": f"Since the update w{tag}"}).json()["number"]
    with host.signed_in() as agent:
        # The words are written by the created event's handler, a moment after intake.
        found = wait_for(lambda: (r := agent.get("/api/search", params={"q": f"w{tag}"}).json())
                         ["items"] and r, what="the ticket's search words")
        assert found["kind"] == "words" and [i["number"] for i in found["items"]] == [number]
        assert agent.get("/api/search", params={"q": number}).json()["items"][0]["number"] == number
        for q in ("", "the and"):
            r = agent.get("/api/search", params={"q": q})
            assert r.status_code == 422
            assert r.headers["content-type"].startswith("application/problem+json")
