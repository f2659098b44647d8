"""SLA end to end on the local host, with targets of seconds: a ticket goes overdue, the
sweep finds it, it is escalated once (however often the sweep runs), its team is told."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.conftest import RunningHost, route_domain_to_sla_plan
from tests.support import MailDev, wait_for

TAG = uuid.uuid4().hex[:6]
DOMAIN = f"sla-{TAG}.example"
SECONDS = 3 / 3600  # a 3-second first-response target, in hours


@pytest.fixture(scope="module")
def quick_plan(host: RunningHost):
    with host.signed_in(roles="agent,admin") as admin:
        route_domain_to_sla_plan(admin, f"quick-{TAG}", DOMAIN, name="quick",
                                 first_response_hours=SECONDS,
                                 resolution_hours=3600 * SECONDS, warn_at=0.5)
        assert admin.put(f"/api/directory/agents/sup-{TAG}", json={
            "name": "Sup", "email": f"sup-{TAG}@staff.example.com",
            "teams": ["service-desk"], "roles": ["agent", "supervisor"]}).status_code == 200
        assert admin.put(f"/api/directory/agents/senior-{TAG}", json={
            "name": "Senior", "email": f"senior-{TAG}@staff.example.com",
            "teams": ["senior-support"]}).status_code == 200
        yield
        admin.delete(f"/api/directory/rules/quick-{TAG}")
        admin.delete(f"/api/directory/agents/sup-{TAG}")
        admin.delete(f"/api/directory/agents/senior-{TAG}")


def test_an_overdue_ticket_is_escalated_once_and_its_teams_are_told(
        host: RunningHost, quick_plan, maildev: MailDev):
    with host.client() as client:
        r = client.post("/api/tickets", json={"name": "S", "email": f"u@{DOMAIN}",
                                              "subject": "Slow", "description": "d",
                                              "priority": "normal"})
    number = r.json()["number"]
    with host.signed_in() as agent:
        t = agent.get(f"/api/tickets/{number}").json()["ticket"]
    assert t["sla"]["plan_id"] == f"quick-{TAG}" and t["due_at"]
    time.sleep(3.5)  # past the first-response target
    for _ in range(3):  # overlapping sweeps
        host.run_function("automation_sla_sweep")

    def escalated():
        with host.signed_in() as agent:
            view = agent.get(f"/api/tickets/{number}").json()
        return view if view["ticket"]["status"] == "escalated" else None

    view = wait_for(escalated, timeout=30, what="the automatic escalation")
    t = view["ticket"]
    assert t["overdue"] is True and t["team"] == "senior-support" and t["priority"] == "high"
    for _ in range(2):
        host.run_function("automation_sla_sweep")
    time.sleep(2)
    with host.signed_in() as agent:
        thread = agent.get(f"/api/tickets/{number}").json()["thread"]
    breaches = [e for e in thread if e["kind"] == "sla" and e["data"]["event"] == "sla_breached"]
    assert [b["data"]["target"] for b in breaches] == ["first_response"]
    assert len([e for e in thread if e["kind"] == "escalated"]) == 1

    # The supervisor of the old team hears of the breach; the new team of the escalation.
    wait_for(lambda: [m for m in maildev.to(f"sup-{TAG}@staff.example.com")
                      if f"[#{number}] SLA breached" in m["subject"]], what="breach alert")
    wait_for(lambda: [m for m in maildev.to(f"senior-{TAG}@staff.example.com")
                      if f"[#{number}] Escalated to Senior Support" in m["subject"]],
             what="escalation email")


def test_waiting_on_the_requester_pauses_the_clock(host: RunningHost, quick_plan):
    with host.client() as client:
        number = client.post("/api/tickets", json={
            "name": "S", "email": f"p@{DOMAIN}", "subject": "Paused",
            "description": "d"}).json()["number"]
    with host.signed_in() as agent:
        r = agent.post(f"/api/tickets/{number}/request-info", json={"question": "?"})
        t = r.json()["ticket"]
        assert t["sla"]["paused_at"] and t["due_at"] is None and t["sla_check_at"] is None
    time.sleep(3.5)
    host.run_function("automation_sla_sweep")
    time.sleep(1.5)
    with host.signed_in() as agent:
        t = agent.get(f"/api/tickets/{number}").json()["ticket"]
    assert t["status"] == "pending" and not t["overdue"]
