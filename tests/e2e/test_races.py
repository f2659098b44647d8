"""Races through the running host: agents acting on one ticket at once lose no update and
are told 412; overlapping SLA sweeps escalate a breach once; concurrent retries of one
submission make one ticket. (200 concurrent intakes get 200 distinct numbers:
tests/e2e/test_intake_http.py.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost, route_domain_to_sla_plan
from tests.support import MailDev, wait_for

AGENTS, ACTIONS = 10, 100


def new_ticket(host: RunningHost, email: str, **fields: str) -> str:
    with host.client() as client:
        r = client.post("/api/tickets", json={"name": "R", "email": email, "subject": "race",
                                              "description": "d", **fields})
    assert r.status_code == 201, r.text
    return r.json()["number"]


def test_ten_agents_a_hundred_notes_each_lose_no_update(host: RunningHost):
    number = new_ticket(host, unique_email("race"))

    def work(i: int) -> tuple[list[str], Counter[int]]:
        won: list[str] = []
        codes: Counter[int] = Counter()
        with host.signed_in(user=f"racer{i}", email=f"racer{i}@staff.example.com") as agent:
            etag = agent.get(f"/api/tickets/{number}").headers["etag"]
            for k in range(ACTIONS):
                body = f"agent {i} note {k}"
                r = agent.post(f"/api/tickets/{number}/note", json={"body": body},
                               headers={"If-Match": etag})
                codes[r.status_code] += 1
                if r.status_code == 200:
                    won.append(body)
                    etag = r.headers["etag"]
                else:
                    assert r.status_code == 412, r.text
                    problem = r.json()
                    assert r.headers["content-type"].startswith("application/problem+json")
                    # The loser is told the current state: its next try starts from it.
                    assert problem["current"]["ticket"]["number"] == number
                    etag = agent.get(f"/api/tickets/{number}").headers["etag"]
        return won, codes

    with ThreadPoolExecutor(AGENTS) as pool:
        results = list(pool.map(work, range(AGENTS)))
    won = [body for bodies, _ in results for body in bodies]
    codes = sum((c for _, c in results), Counter())
    assert set(codes) <= {200, 412} and sum(codes.values()) == AGENTS * ACTIONS
    assert codes[412] > 0, "no agent ever lost: the test did not race"
    print(f"notes race: {codes[200]} accepted, {codes[412]} refused with 412")

    with host.signed_in() as agent:
        view = agent.get(f"/api/tickets/{number}").json()
    thread = view["thread"]
    notes = [e["body"] for e in thread if e["kind"] == "note"]
    assert len(notes) == len(set(notes)) == codes[200] == len(won)
    assert set(notes) == set(won), "a successful note is missing, or a refused one was kept"
    # The thread's entries (sent emails are listed beside the entry they belong to).
    seqs = [e["seq"] for e in thread if e["kind"] != "email_sent"]
    assert seqs == list(range(1, len(seqs) + 1)) and view["ticket"]["last_seq"] == len(seqs)
    # Each agent's own notes appear in the order that agent wrote them.
    for i in range(AGENTS):
        mine = [n for n in notes if n.startswith(f"agent {i} ")]
        assert mine == [b for b in won if b.startswith(f"agent {i} ")]


def test_two_sla_sweeps_at_once_escalate_a_breach_once(host: RunningHost, maildev: MailDev):
    tag = uuid.uuid4().hex[:6]
    domain, senior = f"race-{tag}.example", f"senior-race-{tag}@staff.example.com"
    seconds = 2 / 3600
    with host.signed_in(roles="agent,admin") as admin:
        route_domain_to_sla_plan(admin, f"race-{tag}", domain, name="race",
                                 first_response_hours=seconds, resolution_hours=1000 * seconds)
        assert admin.put(f"/api/directory/agents/senior-race-{tag}", json={
            "name": "Senior", "email": senior, "teams": ["senior-support"]}).status_code == 200
    try:
        number = new_ticket(host, f"u@{domain}")
        time.sleep(2.5)  # past the first-response target
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: host.run_function("automation_sla_sweep"), range(2)))

        def escalated():
            with host.signed_in() as agent:
                view = agent.get(f"/api/tickets/{number}").json()
            return view if view["ticket"]["status"] == "escalated" else None

        wait_for(escalated, timeout=30, what="the escalation")
        wait_for(lambda: [m for m in maildev.to(senior) if f"[#{number}]" in m["subject"]],
                 what="the escalation email")
        with ThreadPoolExecutor(2) as pool:  # and again, both at once, after the breach
            list(pool.map(lambda _: host.run_function("automation_sla_sweep"), range(2)))
        time.sleep(3)
        with host.signed_in() as agent:
            thread = agent.get(f"/api/tickets/{number}").json()["thread"]
        assert len([e for e in thread if e["kind"] == "escalated"]) == 1
        assert len([e for e in thread if e["kind"] == "sla"
                    and e["data"]["event"] == "sla_breached"]) == 1
        assert len([m for m in maildev.to(senior) if f"[#{number}]" in m["subject"]]) == 1
    finally:
        with host.signed_in(roles="agent,admin") as admin:
            admin.delete(f"/api/directory/rules/race-{tag}")
            admin.delete(f"/api/directory/agents/senior-race-{tag}")


def test_concurrent_retries_of_one_submission_make_one_ticket(host: RunningHost):
    email = unique_email("retry-race")
    body = {"name": "R", "email": email, "subject": "retry", "description": "d"}
    headers = {"Idempotency-Key": f"race-{email}"}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=host.base_url, timeout=60) as client:
            return await asyncio.gather(*(client.post("/api/tickets", json=body, headers=headers)
                                          for _ in range(20)))

    responses = asyncio.run(burst())
    # A retry that arrives while the first is still being stored is told to come back.
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    numbers = {r.json()["number"] for r in responses if r.status_code == 201}
    assert len(numbers) == 1
    assert {e["PartitionKey"] for e in host.tickets_of(email)} == numbers
