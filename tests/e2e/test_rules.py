"""Rules at intake and on updates, their dry run, and fair auto-assignment, through the
running host. Every rule here matches only this module's own requesters."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from tests.e2e.conftest import RunningHost
from tests.support import MailDev, wait_for

TAG = uuid.uuid4().hex[:6]
DOMAIN = f"bigcorp-{TAG}.example"


@pytest.fixture(scope="module")
def rules(host: RunningHost):
    made = {
        "canned": [("vip-hello", {"title": "VIP", "body": "Dear {{requester_name}}, a senior "
                                  "engineer has ticket {{number}}."})],
        "rules": [
            (f"vip-{TAG}", {"name": "VIP customers", "order": 10, "conditions": [
                {"field": "requester_domain", "op": "equals", "value": DOMAIN}],
                "actions": [{"type": "set_team", "value": "senior-support"},
                            {"type": "set_priority", "value": "high"},
                            {"type": "add_tag", "value": "vip"},
                            {"type": "canned_reply", "value": "vip-hello"}]}),
            (f"later-{TAG}", {"name": "Sees the change", "order": 20, "conditions": [
                {"field": "team", "op": "equals", "value": "senior-support"},
                {"field": "requester_domain", "op": "equals", "value": DOMAIN}],
                "actions": [{"type": "add_tag", "value": "senior"}]}),
            (f"spam-{TAG}", {"name": "Spam", "order": 5, "conditions": [
                {"field": "subject", "op": "matches", "value": f"cheap.*pills-{TAG}"}],
                "actions": [{"type": "reject_spam"}]}),
            (f"waiting-{TAG}", {"name": "Tag waiting", "on": ["update"], "conditions": [
                {"field": "status", "op": "equals", "value": "pending"},
                {"field": "requester_domain", "op": "equals", "value": DOMAIN}],
                "actions": [{"type": "add_tag", "value": "waiting"}]}),
        ],
    }
    with host.signed_in(roles="agent,admin") as admin:
        for kind, items in made.items():
            for item_id, body in items:
                r = admin.put(f"/api/directory/{kind}/{item_id}", json=body)
                assert r.status_code == 200, r.text
        yield
        for kind, items in made.items():
            for item_id, _ in items:
                admin.delete(f"/api/directory/{kind}/{item_id}")


def submit(host: RunningHost, email: str, subject: str = "Server down", **headers):
    with host.client() as client:
        return client.post("/api/tickets", json={"name": "Val Ip", "email": email,
                                                 "subject": subject, "description": "help"},
                           headers=headers)


def test_intake_rules_route_tag_and_answer(host: RunningHost, rules, maildev: MailDev):
    email = f"boss@{DOMAIN}"
    r = submit(host, email)
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    with host.signed_in() as agent:
        view = agent.get(f"/api/tickets/{number}").json()
    t = view["ticket"]
    assert (t["team"], t["priority"], t["status"]) == ("senior-support", "high", "open")
    assert t["tags"] == ["vip", "senior"]
    assert view["thread"][0]["data"]["rules"] == [f"vip-{TAG}", f"later-{TAG}"]
    wait_for(lambda: [m for m in maildev.to(email)
                      if f"a senior engineer has ticket {number}" in (m.get("text") or "")],
             what="the canned reply")


def test_update_rules_run_on_actions(host: RunningHost, rules):
    number = submit(host, f"someone@{DOMAIN}").json()["number"]
    with host.signed_in() as agent:
        r = agent.post(f"/api/tickets/{number}/request-info", json={"question": "OS?"})
        assert r.status_code == 200
        assert "waiting" in r.json()["ticket"]["tags"]
        [entry] = [e for e in r.json()["thread"] if e["kind"] == "info_requested"]
        assert entry["data"]["rules"] == [f"waiting-{TAG}"]


def test_a_spam_rule_refuses_and_stores_nothing(host: RunningHost, rules):
    email = f"spammer-{TAG}@elsewhere.example"
    r = submit(host, email, subject=f"Cheap PILLS-{TAG} here")
    assert r.status_code == 422 and r.json()["rules"] == [f"spam-{TAG}"]
    with host.client() as client:
        page = client.post("/api/tickets", data={
            "name": "S", "email": email, "subject": f"cheap pills-{TAG}", "description": "x"},
            headers={"Accept": "text/html"})
    assert page.status_code == 200 and "received" in page.text
    assert host.tickets_of(email) == []


def test_the_dry_run_shows_what_would_happen_and_changes_nothing(host: RunningHost, rules):
    sample = {"channel": "web", "requester_email": f"x@{DOMAIN}", "subject": "s",
              "description": "d", "category": "general", "priority": "low"}
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/rules/test", json=sample)
        assert r.status_code == 200, r.text
        outcome = r.json()
        assert outcome["fired"] == [f"vip-{TAG}", f"later-{TAG}"]
        assert outcome["changes"] == {"team": "senior-support", "priority": "high"}
        assert outcome["canned_replies"] == ["vip-hello"]
        traced = {t["rule"]: t["fired"] for t in outcome["trace"]}
        assert traced[f"spam-{TAG}"] is False
        assert admin.post("/api/rules/test", json={"subject": "x"}).status_code == 422
        bad = admin.put(f"/api/directory/rules/bad-{TAG}", json={
            "name": "bad", "conditions": [{"field": "subject", "op": "matches",
                                           "value": "(a+)+$"}],
            "actions": [{"type": "reject_spam"}]})
        assert bad.status_code == 422
    assert host.tickets_of(f"x@{DOMAIN}") == []


@pytest.mark.parametrize("strategy", ["round-robin", "fewest-open"])
def test_auto_assignment_is_fair_and_skips_unavailable_agents(host: RunningHost, strategy):
    tag = uuid.uuid4().hex[:6]
    team, domain = f"pool-{tag}", f"pool-{tag}.example"
    agents = [f"pool-{tag}-{i}" for i in range(4)]
    with host.signed_in(roles="agent,admin") as admin:
        assert admin.put(f"/api/directory/teams/{team}", json={
            "name": "Pool", "tier": 1, "assignment": strategy}).status_code == 200
        for i, agent_id in enumerate(agents):
            assert admin.put(f"/api/directory/agents/{agent_id}", json={
                "name": agent_id, "email": f"{agent_id}@staff.example.com", "teams": [team],
                "available": i != 3}).status_code == 200
        assert admin.put(f"/api/directory/rules/pool-{tag}", json={
            "name": "pool", "conditions": [
                {"field": "requester_domain", "op": "equals", "value": domain}],
            "actions": [{"type": "set_team", "value": team}]}).status_code == 200
        cookies = dict(admin.cookies)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=host.base_url, timeout=60) as c:
            return await asyncio.gather(*(c.post("/api/tickets", json={
                "name": "P", "email": f"u{i}@{domain}", "subject": f"t{i}",
                "description": "d"}) for i in range(12)))

    if strategy == "round-robin":
        responses = asyncio.run(burst())
    else:  # fewest-open counts open tickets, so they arrive one after the other
        responses = []
        with httpx.Client(base_url=host.base_url, timeout=60) as c:
            for i in range(12):
                responses.append(c.post("/api/tickets", json={
                    "name": "P", "email": f"u{i}@{domain}", "subject": f"t{i}",
                    "description": "d"}))
    assert [r.status_code for r in responses] == [201] * 12
    with httpx.Client(base_url=host.base_url, cookies=cookies, timeout=30,
                      headers={"X-Helpdesk-Request": "1"}) as admin:
        owners = Counter(
            admin.get(f"/api/tickets/{r.json()['number']}").json()["ticket"]["assignee"]
            for r in responses)
        admin.delete(f"/api/directory/rules/pool-{tag}")
    assert owners == {agents[0]: 4, agents[1]: 4, agents[2]: 4}
