"""The ETag an agent acts against: records the desk adds on its own (the sent
acknowledgement, SLA warnings) leave it as it was, so they never make an agent's action
fail; a change another person made moves it, so two agents never overwrite each other."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost, route_domain_to_sla_plan
from tests.support import wait_for

TAG = uuid.uuid4().hex[:6]
DOMAIN = f"versions-{TAG}.example"


def submit(host: RunningHost, email: str | None = None) -> str:
    with host.client() as client:
        r = client.post("/api/tickets", json={
            "name": "Req Uester", "email": email or unique_email(), "subject": "Printer jam",
            "description": "Paper stuck in tray 2."})
    assert r.status_code == 201, r.text
    return r.json()["number"]


def kinds(view: httpx.Response) -> list[str]:
    return [e["kind"] for e in view.json()["thread"]]


def test_the_first_action_with_the_etag_read_before_the_acknowledgement_succeeds(
        host: RunningHost):
    with host.signed_in() as a:
        # The ETag as an agent who opened the ticket in its first moment holds it: read
        # before the acknowledgement's record joined the thread. The queue handler is
        # quick; a ticket whose record beat the first read is tried again with another.
        for _ in range(5):
            number = submit(host)
            first = a.get(f"/api/tickets/{number}")
            assert first.status_code == 200, first.text
            if "email_sent" not in kinds(first):
                break
        else:
            pytest.fail("the acknowledgement was recorded before every first read")
        etag = first.headers["etag"]

        acknowledged = wait_for(
            lambda: (v := a.get(f"/api/tickets/{number}")) and "email_sent" in kinds(v) and v,
            timeout=15, interval=0.05, what="the acknowledgement's record in the thread")
        landed = time.monotonic()
        # The record is in the thread, and the ETag the agent acts against did not move.
        assert acknowledged.headers["etag"] == etag

        r = a.post(f"/api/tickets/{number}/assign", json={"team": "service-desk"},
                   headers={"If-Match": etag})
        assert r.status_code == 200, r.text
        assert time.monotonic() - landed < 1.0
        assert r.json()["ticket"]["team"] == "service-desk" and r.headers["etag"] != etag
        # The sent mail is still on record, next to the assignment.
        assert {"email_sent", "assigned"} <= set(kinds(r))

        # The new ETag guards as the old one did: a second agent holding the old one is
        # told the ticket changed, and gets the current ticket with the new ETag.
        stale = a.post(f"/api/tickets/{number}/note", json={"body": "late"},
                       headers={"If-Match": etag})
        assert stale.status_code == 412, stale.text
        assert stale.json()["etag"] == r.headers["etag"]
        assert stale.json()["current"]["ticket"]["status"] == "open"


@pytest.fixture(scope="module")
def warning_plan(host: RunningHost):
    """Tickets from DOMAIN get a first-response target of 30 s, warned about after 1.5 s."""
    with host.signed_in(roles="agent,admin") as admin:
        route_domain_to_sla_plan(admin, f"warn-{TAG}", DOMAIN, name="warn",
                                 first_response_hours=30 / 3600,
                                 resolution_hours=3600 / 3600, warn_at=0.05)
        yield
        admin.delete(f"/api/directory/rules/warn-{TAG}")


def test_an_sla_warning_from_the_sweep_does_not_make_the_agents_action_fail(
        host: RunningHost, warning_plan):
    number = submit(host, f"w-{TAG}@{DOMAIN}")
    with host.signed_in() as a:
        before = a.get(f"/api/tickets/{number}")
        assert before.json()["ticket"]["sla"]["plan_id"] == f"warn-{TAG}"
        etag = before.headers["etag"]
        time.sleep(2)  # past the warning, well before the breach

        def warned() -> httpx.Response | None:
            host.run_function("automation_sla_sweep")
            view = a.get(f"/api/tickets/{number}")
            return view if any(e["kind"] == "sla" and e["data"]["event"] == "sla_warning"
                               for e in view.json()["thread"]) else None

        view = wait_for(warned, timeout=20, interval=0.5, what="the SLA warning")
        assert view.headers["etag"] == etag
        assert view.json()["ticket"]["status"] == before.json()["ticket"]["status"]
        assert view.json()["ticket"]["sla_check_at"] != before.json()["ticket"]["sla_check_at"]

        r = a.post(f"/api/tickets/{number}/reply", json={"body": "On it."},
                   headers={"If-Match": etag})
        assert r.status_code == 200, r.text
        thread = r.json()["thread"]
        assert [e["kind"] for e in thread].count("reply") == 1
        assert any(e["kind"] == "sla" and e["data"]["event"] == "sla_warning"
                   for e in thread), "the warning must not be overwritten"


def test_two_agents_acting_on_the_same_version_one_gets_412(host: RunningHost):
    number = submit(host)
    with host.signed_in() as a:
        cookies = dict(a.cookies)
        etag = a.get(f"/api/tickets/{number}").headers["etag"]

    async def two_agents() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=host.base_url, cookies=cookies,
                                     headers={"X-Helpdesk-Request": "1"}, timeout=60) as c:
            return list(await asyncio.gather(
                c.post(f"/api/tickets/{number}/assign", json={"team": "senior-support"},
                       headers={"If-Match": etag}),
                c.post(f"/api/tickets/{number}/assign", json={"team": "service-desk"},
                       headers={"If-Match": etag})))

    responses = asyncio.run(two_agents())
    assert sorted(r.status_code for r in responses) == [200, 412], [r.text for r in responses]
    [won] = [r for r in responses if r.status_code == 200]
    [lost] = [r for r in responses if r.status_code == 412]
    # The loser is shown the winner's ticket, with its ETag: nothing was overwritten.
    assert lost.json()["etag"] == won.headers["etag"] != etag
    assert lost.json()["current"]["ticket"]["team"] == won.json()["ticket"]["team"]
    with host.signed_in() as a:
        view = a.get(f"/api/tickets/{number}").json()
    assert [e["kind"] for e in view["thread"]].count("assigned") == 1
    assert view["ticket"]["team"] == won.json()["ticket"]["team"]
