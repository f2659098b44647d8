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
                                           "value": "(?<!not )spam"}],
            "actions": [{"type": "reject_spam"}]})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "conditions.0.value"
        assert "RE2" in bad.json()["errors"][0]["message"]
    assert host.tickets_of(f"x@{DOMAIN}") == []



def test_the_dry_run_takes_what_the_web_form_sends(host: RunningHost, rules):
    """The first obvious call: paste a submission as POST /api/tickets takes it."""
    submission = {"name": "Val Ip", "email": f"Boss@{DOMAIN}", "subject": "Server down",
                  "description": "help"}
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/rules/test", json=submission)
        assert r.status_code == 200, r.text
        assert r.json()["fired"] == [f"vip-{TAG}", f"later-{TAG}"]
        assert r.json()["changes"] == {"team": "senior-support", "priority": "high"}
        # The same defaults as intake: a sample without priority is normal, so a rule on
        # priority sees what a real submission would carry.
        with host.client() as client:
            real = client.post("/api/tickets", json=submission).json()["number"]
        ticket = admin.get(f"/api/tickets/{real}").json()["ticket"]
        assert (ticket["team"], ticket["priority"]) == ("senior-support", "high")
        update = admin.post("/api/rules/test", json={**submission, "event": "update",
                                                     "status": "pending"})
        assert update.status_code == 200 and update.json()["fired"] == [f"waiting-{TAG}"]
        bad = admin.post("/api/rules/test", json={"email": "not-an-address", "subject": "s",
                                                  "description": "d", "priority": "asap",
                                                  "event": "later", "category": "nope"})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"email", "priority", "event",
                                                              "category"}

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


def test_a_catastrophic_pattern_costs_intake_nothing_and_is_evaluated_right(host: RunningHost):
    """`(a+)+$` on "aaaa…!" took Python's backtracking engine longer than any client waits
    (20 s on 27 characters); on RE2 the intake answers at once, and the rule fires exactly
    when the text matches."""
    domain = f"redos-{TAG}.example"
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.put(f"/api/directory/rules/redos-{TAG}", json={
            "name": "all a", "conditions": [
                {"field": "requester_domain", "op": "equals", "value": domain},
                {"field": "description", "op": "matches", "value": "(a+)+$"}],
            "actions": [{"type": "add_tag", "value": "all-a"}]})
        assert r.status_code == 200, r.text
        try:
            tags = {}
            for name, text in (("almost", "a" * 19_999 + "!"), ("exact", "a" * 20_000)):
                with host.client() as client:  # httpx's 5-second timeout: it must complete
                    created = client.post("/api/tickets", json={
                        "name": "R", "email": f"{name}@{domain}", "subject": "aaa",
                        "description": text})
                assert created.status_code == 201, created.text
                tags[name] = admin.get(f"/api/tickets/{created.json()['number']}"
                                       ).json()["ticket"]["tags"]
            assert tags == {"almost": [], "exact": ["all-a"]}
        finally:
            admin.delete(f"/api/directory/rules/redos-{TAG}")


def test_a_rule_stored_before_re2_with_a_lookbehind_does_not_stop_intake(host: RunningHost):
    """Stored by an earlier version (which ran Python's `re`), a pattern RE2 cannot run
    still loads: intake goes on, the rule lists, and that condition never holds."""
    import json

    from azure.data.tables import TableServiceClient

    domain = f"legacy-{TAG}.example"
    legacy = {"id": f"legacy-{TAG}", "name": "old spam rule", "enabled": True, "order": 1,
              "on": ["intake"], "match": "all", "stop": False,
              "conditions": [{"field": "requester_domain", "op": "equals", "value": domain},
                             {"field": "subject", "op": "matches", "value": "(?<!no )offer"}],
              "actions": [{"type": "reject_spam"}]}
    with TableServiceClient.from_connection_string(host.storage) as service:
        table = service.get_table_client("directory")
        table.upsert_entity({"PartitionKey": "rule", "RowKey": legacy["id"],
                             "json": json.dumps(legacy)})
        try:
            with host.signed_in(roles="agent,admin") as admin:
                # Any write to the directory clears the host's cached lists.
                admin.put(f"/api/directory/canned/legacy-{TAG}", json={"title": "t", "body": "b"})
                listed = admin.get("/api/directory/rules")
                assert listed.status_code == 200
                assert legacy["id"] in [r["id"] for r in listed.json()]
                with host.client() as client:
                    created = client.post("/api/tickets", json={
                        "name": "R", "email": f"buyer@{domain}", "subject": "a special offer",
                        "description": "d"})
                assert created.status_code == 201, created.text
                dry = admin.post("/api/rules/test", json={
                    "name": "R", "email": f"buyer@{domain}", "subject": "a special offer",
                    "description": "d", "category": "general"}).json()
                [trace] = [t for t in dry["trace"] if t["rule"] == legacy["id"]]
                assert trace["fired"] is False and "fix the rule" in trace["conditions"][1]["error"]
                admin.delete(f"/api/directory/canned/legacy-{TAG}")
        finally:
            table.delete_entity("rule", legacy["id"])
