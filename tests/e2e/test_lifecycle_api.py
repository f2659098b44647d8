"""The ticket lifecycle through the HTTP API of the running host, with its emails."""

from __future__ import annotations

import asyncio
import uuid
from email import message_from_bytes, policy

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import MailDev, wait_for


def new_ticket(host: RunningHost, email: str | None = None, **fields) -> str:
    body = {"name": "Req Uester", "email": email or unique_email(), "subject": "Laptop slow",
            "description": "Takes 10 minutes to boot.", **fields}
    with host.client() as client:
        response = client.post("/api/tickets", json=body)
    assert response.status_code == 201, response.text
    return response.json()["number"]


@pytest.fixture(scope="module")
def staff(host: RunningHost) -> dict[str, str]:
    """Two agents: one on the service desk, one in Senior Support."""
    tag = uuid.uuid4().hex[:6]
    people = {"desk": f"desk-{tag}", "senior": f"senior-{tag}"}
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        for key, team in (("desk", "service-desk"), ("senior", "senior-support")):
            response = admin.put(f"/api/directory/agents/{people[key]}", json={
                "name": f"{key.title()} Agent", "email": f"{people[key]}@staff.example.com",
                "teams": [team]})
            assert response.status_code == 200, response.text
    return people


def act(client: httpx.Client, number: str, action: str, body: dict | None = None,
        **kwargs) -> httpx.Response:
    return client.post(f"/api/tickets/{number}/{action}", json=body or {}, **kwargs)


def acknowledged_view(client: httpx.Client, number: str) -> httpx.Response:
    """The ticket once the acknowledgement's record has joined its thread. That record
    lands on its own, after the 201: a test comparing whole threads around an agent's
    action waits for it, so it sees only what the action wrote. (ETags need no wait: the
    record leaves the version agents act against as it was, tests/e2e/test_ticket_versions.py.)"""
    def acknowledged() -> httpx.Response | None:
        view = client.get(f"/api/tickets/{number}")
        return view if any(e["kind"] == "email_sent" for e in view.json()["thread"]) else None
    return wait_for(acknowledged, what="the acknowledgement's record in the thread")


def test_a_ticket_from_intake_to_closure(host: RunningHost, maildev: MailDev,
                                         staff: dict[str, str]):
    requester = unique_email("life")
    number = new_ticket(host, requester)
    maildev.wait_to(requester, 1)
    with host.signed_in(user=staff["desk"], email=f"{staff['desk']}@staff.example.com") as a:
        r = act(a, number, "assign", {"agent": staff["desk"], "team": "service-desk"})
        assert r.status_code == 200, r.text
        assert r.json()["ticket"]["status"] == "open"
        assert r.json()["ticket"]["assignee"] == staff["desk"]

        assert act(a, number, "note", {"body": "Probably the disk."}).status_code == 200
        r = act(a, number, "request-info", {"question": "Which model is it?"})
        assert r.json()["ticket"]["status"] == "pending"
        r = act(a, number, "reply", {"body": "Thanks, we ordered an SSD."})
        assert r.json()["ticket"]["first_response_at"]
        r = act(a, number, "escalate", {"tier": "senior-support", "reason": "SSD swap"})
        assert r.json()["ticket"]["status"] == "escalated"
        assert r.json()["ticket"]["team"] == "senior-support"
        r = act(a, number, "resolve", {"resolution": "Swapped the disk for an SSD."})
        assert r.json()["ticket"]["status"] == "resolved"
        assert r.json()["ticket"]["resolution"] == "Swapped the disk for an SSD."
        assert act(a, number, "close").json()["ticket"]["status"] == "closed"
        assert act(a, number, "reopen", {"comment": "Slow again"}).json()["ticket"][
            "status"] == "open"

        thread = a.get(f"/api/tickets/{number}").json()["thread"]
    kinds = [e["kind"] for e in thread if e["kind"] not in ("email_sent", "sla")]
    assert kinds == ["created", "assigned", "note", "info_requested", "reply", "escalated",
                     "resolved", "closed", "reopened"]
    note = next(e for e in thread if e["kind"] == "note")
    assert note["public"] is False

    # The requester: acknowledgement, the question, the reply, the resolution and the
    # closure, in one thread; never the internal note.
    mails = maildev.wait_to(requester, 5)
    assert len(mails) == 5
    assert all(f"[#{number}]" in m["subject"] for m in mails)
    assert not any("Probably the disk" in (m.get("text") or "") for m in mails)
    raws = {m["id"]: message_from_bytes(maildev.raw(m["id"]), policy=policy.default)
            for m in mails}
    by_text = {next(k for k in ("Which model", "ordered an SSD", "Swapped the disk", "received",
                                "now closed")
                    if k in (m.get("text") or "")): raws[m["id"]] for m in mails}
    ack = by_text["received"]
    resolved = by_text["Swapped the disk"]
    assert ack["Message-ID"] in resolved["References"]
    assert resolved["In-Reply-To"] in resolved["References"]
    assert "reply to this email and the ticket opens again" in \
        resolved.get_body(("plain",)).get_content().replace("\n", " ")

    # Events are handled concurrently, so a mail threads on those sent before it was
    # composed: always at least the acknowledgement.
    assert ack["Message-ID"] in by_text["now closed"]["References"]
    # The agent it was assigned to heard nothing: they took it themselves.
    assert maildev.to(f"{staff['desk']}@staff.example.com") == []

    # Senior Support heard about the escalation, and the thread says so.
    [esc] = maildev.wait_to(f"{staff['senior']}@staff.example.com")
    assert "Escalated to Senior Support" in esc["subject"] and "SSD swap" in esc["text"]

    def escalation_recorded():
        with host.signed_in() as a:
            thread = a.get(f"/api/tickets/{number}").json()["thread"]
        return [e for e in thread if e["kind"] == "email_sent"
                and e["data"]["purpose"] == "escalation"]

    wait_for(escalation_recorded, what="the escalation email recorded in the thread")


def test_a_vendor_escalation_keeps_the_vendor_and_needs_its_name(host: RunningHost):
    number = new_ticket(host)
    with host.signed_in() as a:
        r = act(a, number, "escalate", {"tier": "vendor-support", "reason": "Firmware"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["message"].endswith("needs vendor_name")
        r = act(a, number, "escalate", {"tier": "vendor-support", "reason": "Firmware",
                                        "vendor_name": "Acme", "vendor_reference": "AC-77"})
        assert r.status_code == 200
        [entry] = [e for e in r.json()["thread"] if e["kind"] == "escalated"]
        assert entry["data"]["vendor_name"] == "Acme"
        assert entry["data"]["vendor_reference"] == "AC-77"


def test_an_action_not_allowed_names_the_status_and_the_allowed_actions(host: RunningHost):
    number = new_ticket(host)
    with host.signed_in() as a:
        r = act(a, number, "reopen")
        assert r.status_code == 409
        problem = r.json()
        assert problem["current_status"] == "new"
        assert "assign" in problem["allowed_actions"] and "reopen" not in \
            problem["allowed_actions"]
        assert act(a, number, "close").status_code == 409  # agents close only resolved ones
    with host.signed_in(roles="supervisor") as s:
        r = act(s, number, "close")
        assert r.status_code == 200, r.text
        assert r.json()["ticket"]["status"] == "closed"


@pytest.mark.parametrize("action,body,field", [
    ("resolve", {}, "resolution"),
    ("escalate", {"tier": "helpdesk-of-last-resort", "reason": "x"}, "tier"),
    ("assign", {}, "body"),
    ("assign", {"team": "no-such-team"}, "team"),
    ("assign", {"agent": "nobody-at-all"}, "agent"),
    ("note", {"body": "  "}, "body"),
    ("note", {"body": "x", "public": True}, "public"),
])
def test_invalid_action_bodies_are_422_and_change_nothing(host: RunningHost, action, body,
                                                          field):
    number = new_ticket(host)
    with host.signed_in() as a:
        before = acknowledged_view(a, number)
        r = act(a, number, action, body)
        assert r.status_code == 422, r.text
        assert field in {e["field"] for e in r.json()["errors"]}
        after = a.get(f"/api/tickets/{number}")
    assert after.headers["etag"] == before.headers["etag"]
    assert len(after.json()["thread"]) == len(before.json()["thread"])


def test_unknown_actions_and_bad_bodies(host: RunningHost):
    number = new_ticket(host)
    with host.signed_in() as a:
        assert act(a, number, "delete-everything").status_code == 404
        assert act(a, number, "requester-reply", {"body": "x"}).status_code == 404
        assert act(a, number, "remind").status_code == 404
        r = a.post(f"/api/tickets/{number}/note", content=b"{oops",
                   headers={"content-type": "application/json"})
        assert r.status_code == 400
        r = a.post(f"/api/tickets/{number}/note", content=b"body=x",
                   headers={"content-type": "text/plain"})
        assert r.status_code == 415
        assert act(a, "12345674", "note", {"body": "x"}).status_code == 404


def test_a_stale_if_match_gets_412_and_the_current_ticket(host: RunningHost):
    number = new_ticket(host)
    with host.signed_in() as a:
        # Taken at once: the acknowledgement's record may land at any point below.
        etag = a.get(f"/api/tickets/{number}").headers["etag"]
        first = act(a, number, "note", {"body": "first"}, headers={"If-Match": etag})
        assert first.status_code == 200 and first.headers["etag"] != etag
        stale = act(a, number, "note", {"body": "second"}, headers={"If-Match": etag})
        assert stale.status_code == 412
        assert [e["body"] for e in stale.json()["current"]["thread"]
                if e["kind"] == "note"] == ["first"]
        assert stale.json()["etag"] == first.headers["etag"]
        fresh = act(a, number, "note", {"body": "second"},
                    headers={"If-Match": first.headers["etag"]})
        assert fresh.status_code == 200


def test_racing_agents_lose_no_update(host: RunningHost):
    number = new_ticket(host)
    with host.signed_in() as a:
        cookies = dict(a.cookies)
        # Taken at once: the acknowledgement's record may land during the race, and is
        # no change an agent could overwrite.
        etag = a.get(f"/api/tickets/{number}").headers["etag"]

    async def race() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=host.base_url, cookies=cookies,
                                     headers={"X-Helpdesk-Request": "1"}, timeout=60) as c:
            guarded = await asyncio.gather(*(
                c.post(f"/api/tickets/{number}/note", json={"body": f"guarded {i}"},
                       headers={"If-Match": etag}) for i in range(10)))
            free = await asyncio.gather(*(
                c.post(f"/api/tickets/{number}/note", json={"body": f"free {i}"})
                for i in range(20)))
            return guarded, free

    guarded, free = asyncio.run(race())
    assert sorted(r.status_code for r in guarded) == [200] + [412] * 9
    assert [r.status_code for r in free] == [200] * 20
    with host.signed_in() as a:
        view = a.get(f"/api/tickets/{number}").json()
    notes = [e["body"] for e in view["thread"] if e["kind"] == "note"]
    assert len(notes) == 21 and len(set(notes)) == 21
    assert sorted(n for n in notes if n.startswith("free")) == sorted(f"free {i}"
                                                                      for i in range(20))
    # Every entry once, numbered without gaps (the created entry, the SLA clock's start, the
    # 21 notes).
    seqs = [e["seq"] for e in view["thread"] if e["kind"] != "email_sent"]
    assert seqs == list(range(1, len(seqs) + 1)) and view["ticket"]["last_seq"] == len(seqs)
    assert len(seqs) == 1 + 2 + 21


def every_number(agent: httpx.Client, params: dict[str, str]) -> set[str]:
    """The numbers of every ticket in a queue, following its continuation to the end."""
    found: list[str] = []
    token = None
    while True:
        page = agent.get("/api/tickets", params={**params, "limit": "200",
                                                  **({"continuation": token} if token else {})})
        assert page.status_code == 200, page.text
        found += [i["number"] for i in page.json()["items"]]
        token = page.json()["continuation"]
        if not token:
            return set(found)


def test_queues_filter_sort_and_page(host: RunningHost, staff: dict[str, str]):
    numbers = [new_ticket(host, priority=p) for p in ("low", "high", "high", "urgent")]
    me = staff["senior"]
    with host.signed_in(user=me, email=f"{me}@staff.example.com") as a:
        for n in numbers:
            assert act(a, n, "assign", {"agent": me}).status_code == 200
        assert act(a, numbers[0], "request-info", {"question": "?"}).status_code == 200

        mine = a.get("/api/tickets", params={"assignee": "me"}).json()
        assert [i["number"] for i in mine["items"]] == numbers  # oldest first
        assert mine["continuation"] is None

        pages, token = [], None
        while True:
            params = {"assignee": me, "limit": "3"}
            if token:
                params["continuation"] = token
            page = a.get("/api/tickets", params=params).json()
            pages.append([i["number"] for i in page["items"]])
            token = page["continuation"]
            if not token:
                break
        assert pages == [numbers[:3], numbers[3:]]

        high = a.get("/api/tickets", params={"assignee": me, "priority": "high"}).json()
        assert [i["number"] for i in high["items"]] == numbers[1:3]
        pending = a.get("/api/tickets", params={"assignee": me, "status": "pending"}).json()
        assert [i["number"] for i in pending["items"]] == [numbers[0]]
        recent = a.get("/api/tickets", params={"assignee": me, "sort": "updated"}).json()
        assert recent["items"][0]["number"] == numbers[0]  # changed last

        # Every page of the whole queue, whatever other tests left in it.
        opened = every_number(a, {"status": "open"})
        assert set(numbers[1:]) <= opened and numbers[0] not in opened  # that one is pending
        assert not set(numbers) & every_number(a, {"assignee": "none"})

        assert a.get("/api/tickets", params={"sort": "random"}).status_code == 422
        assert a.get("/api/tickets", params={"status": "lost"}).status_code == 422
        assert a.get("/api/tickets", params={"continuation": "garbage"}).status_code == 400


def test_admins_manage_teams_and_categories(host: RunningHost):
    with host.signed_in(roles="agent,admin") as admin:
        teams = {t["id"] for t in admin.get("/api/directory/teams").json()}
        assert {"service-desk", "senior-support", "sysadmins-developers",
                "vendor-support"} <= teams
        r = admin.put("/api/directory/teams/network-ops", json={"name": "Network Ops",
                                                                "tier": 2})
        assert r.status_code == 200
        assert admin.put("/api/directory/teams/Bad Id!", json={"name": "x"}).status_code == 422
        assert admin.put("/api/directory/categories/printers",
                         json={"name": "Printers"}).status_code == 200
    with host.client() as client:
        created = client.post("/api/tickets", json={
            "name": "A", "email": unique_email(), "subject": "s", "description": "d",
            "category": "printers"})
        assert created.status_code == 201
    with host.signed_in(roles="agent,admin") as admin:
        assert admin.delete("/api/directory/teams/network-ops").status_code == 204
        assert admin.delete("/api/directory/teams/network-ops").status_code == 404
    with host.signed_in(roles="agent") as agent:
        assert agent.put("/api/directory/teams/x", json={"name": "x"}).status_code == 403
        me = agent.get("/api/me").json()
        assert me["id"] == "agent1"
        assert "agent" in me["roles"] and "admin" not in me["roles"]


def test_an_agent_hears_when_a_ticket_is_assigned_to_them(host: RunningHost, maildev: MailDev,
                                                          staff: dict[str, str]):
    number = new_ticket(host)
    with host.signed_in(user="lead", email="lead@staff.example.com") as lead:
        assert act(lead, number, "assign", {"agent": staff["senior"]}).status_code == 200
    wait_for(lambda: [m for m in maildev.to(f"{staff['senior']}@staff.example.com")
                      if f"[#{number}] Assigned to you" in m["subject"]],
             what="the assignment email")


def test_canned_responses_fill_in_their_placeholders(host: RunningHost, maildev: MailDev,
                                                     staff: dict[str, str]):
    requester = unique_email("canned")
    number = new_ticket(host, requester)
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.put("/api/directory/canned/password-reset", json={
            "title": "Password reset",
            "body": "Hello {{requester_name}}, your password for #{{ number }} was reset "
                    "by {{agent_name}}."})
        assert r.status_code == 200, r.text
    with host.signed_in(user=staff["desk"]) as agent:
        r = act(agent, number, "reply", {"canned": "password-reset", "body": "Regards"})
        assert r.status_code == 200, r.text
        [reply] = [e for e in r.json()["thread"] if e["kind"] == "reply"]
        assert reply["body"] == (
            f"Hello Req Uester, your password for #{number} was reset by Desk Agent."
            "\n\nRegards")
        assert act(agent, number, "reply", {"canned": "nope"}).status_code == 422
    wait_for(lambda: [m for m in maildev.to(requester)
                      if "was reset by Desk Agent" in (m.get("text") or "")],
             what="the canned reply by email")
