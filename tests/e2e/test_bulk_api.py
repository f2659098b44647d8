"""One action on many tickets through the running host: each ticket is written on its own
under its own version, so a stale or not-allowed ticket is refused with its reason while
the others are changed; a wrong request is refused whole, with problem JSON, before any
ticket is touched."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from functools import partial

import httpx
import pytest

from shared.core.numbering import new_number
from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost


def new_ticket(host: RunningHost, subject: str = "bulk") -> str:
    with host.client() as client:
        r = client.post("/api/tickets", json={"name": "R", "email": unique_email("bulk"),
                                              "subject": subject, "description": "d"})
    assert r.status_code == 201, r.text
    return r.json()["number"]


def bulk(client: httpx.Client, numbers: list[str], action: str, body: dict | None = None,
         **more) -> httpx.Response:
    return client.post("/api/tickets/bulk", json={"numbers": numbers, "action": action,
                                                  "body": body or {}, **more})


def view(client: httpx.Client, number: str) -> dict:
    r = client.get(f"/api/tickets/{number}")
    assert r.status_code == 200, r.text
    return r.json()


def by_number(response: httpx.Response) -> dict[str, dict]:
    assert response.status_code == 200, response.text
    return {r["number"]: r for r in response.json()["results"]}


@pytest.fixture(scope="module")
def desk_agent(host: RunningHost) -> str:
    user = f"bulk-{uuid.uuid4().hex[:6]}"
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        r = admin.put(f"/api/directory/agents/{user}", json={
            "name": "Bulk Agent", "email": f"{user}@staff.example.com", "teams": ["service-desk"]})
        assert r.status_code == 200, r.text
    return user


def test_a_stale_ticket_is_refused_while_the_others_are_assigned(host: RunningHost,
                                                                 desk_agent: str):
    numbers = [new_ticket(host) for _ in range(3)]
    with host.signed_in(user=desk_agent, email=f"{desk_agent}@staff.example.com") as agent:
        seen = {n: agent.get(f"/api/tickets/{n}").headers["etag"] for n in numbers}
        with host.signed_in(user="someone-else", email="else@staff.example.com") as other:
            assert other.post(f"/api/tickets/{numbers[1]}/note",
                              json={"body": "meanwhile"}).status_code == 200
        r = bulk(agent, numbers, "assign", {"agent": "me", "team": "service-desk"},
                 expected=seen)
        results = by_number(r)
        assert r.json()["succeeded"] == 2 and r.json()["refused"] == 1
        assert [x["number"] for x in r.json()["results"]] == numbers  # the request's order
        for n in (numbers[0], numbers[2]):
            assert results[n]["ok"] and results[n]["status"] == 200
            assert results[n]["ticket_status"] == "open"
            assert results[n]["etag"] == agent.get(f"/api/tickets/{n}").headers["etag"]
            ticket = view(agent, n)["ticket"]
            assert (ticket["assignee"], ticket["team"]) == (desk_agent, "service-desk")
        stale = results[numbers[1]]
        assert not stale["ok"] and stale["status"] == 412
        assert stale["title"] == "Precondition failed" and "changed" in stale["detail"]
        current = agent.get(f"/api/tickets/{numbers[1]}")
        assert stale["etag"] == current.headers["etag"]
        assert current.json()["ticket"]["assignee"] is None
        assert "assigned" not in [e["kind"] for e in current.json()["thread"]]
        # The etag each success answered is the ticket's version now: the next bulk action
        # may name it.
        again = bulk(agent, [numbers[0]], "note", {"body": "next"},
                     expected={numbers[0]: results[numbers[0]]["etag"]})
        assert by_number(again)[numbers[0]]["ok"]


def test_the_queue_rows_updated_at_guards_a_bulk_action(host: RunningHost, desk_agent: str):
    """A queue page carries no version: the `updated_at` it listed serves as one."""
    subject = f"queue guard {uuid.uuid4().hex[:8]}"
    numbers = [new_ticket(host, subject) for _ in range(2)]
    with host.signed_in(user=desk_agent, email=f"{desk_agent}@staff.example.com") as agent:
        page = agent.get("/api/tickets", params={"status": "new", "sort": "updated",
                                                 "limit": "200"}).json()["items"]
        listed = {i["number"]: i["updated_at"] for i in page if i["number"] in numbers}
        assert set(listed) == set(numbers)
        assert agent.post(f"/api/tickets/{numbers[0]}/change",
                          json={"priority": "urgent"}).status_code == 200
        r = bulk(agent, numbers, "change", {"priority": "low", "category": "hardware"},
                 expected=listed)
        results = by_number(r)
        assert results[numbers[0]]["status"] == 412
        assert results[numbers[1]]["ok"]
        assert view(agent, numbers[0])["ticket"]["priority"] == "urgent"
        changed = view(agent, numbers[1])
        assert (changed["ticket"]["priority"], changed["ticket"]["category"]) == ("low", "hardware")
        [entry] = [e for e in changed["thread"] if e["kind"] == "changed"]
        assert entry["data"] == {"priority": "low", "previous_priority": "normal",
                                 "category": "hardware", "previous_category": "general"}
        assert not entry["public"]
        # The row after the action names the new time, and the guard passes with it.
        after = {i["number"]: i["updated_at"] for i in agent.get("/api/tickets", params={
            "status": "new", "sort": "updated", "limit": "200"}).json()["items"]}
        ok = bulk(agent, [numbers[1]], "note", {"body": "guarded by the row"},
                  expected={numbers[1]: after[numbers[1]]})
        assert by_number(ok)[numbers[1]]["ok"], ok.text


def test_what_the_lifecycle_does_not_allow_is_refused_per_ticket(host: RunningHost,
                                                                 desk_agent: str):
    resolved, working = new_ticket(host), new_ticket(host)
    missing = next(n for n in iter(new_number, None) if n not in (resolved, working))
    with host.signed_in(user=desk_agent, email=f"{desk_agent}@staff.example.com") as agent:
        assert agent.post(f"/api/tickets/{resolved}/resolve",
                          json={"resolution": "done"}).status_code == 200
        r = bulk(agent, [resolved, working, missing], "close", {"comment": "tidy"})
        results = by_number(r)
        assert results[resolved]["ok"] and results[resolved]["ticket_status"] == "closed"
        refused = results[working]
        assert refused["status"] == 409 and refused["title"] == "Conflict"
        assert refused["ticket_status"] == "new" and "close" not in refused["allowed_actions"]
        assert "supervisor" in refused["detail"]
        assert results[missing]["status"] == 404
        assert view(agent, working)["ticket"]["status"] == "new"
    # The same roles as one action: a supervisor may close an unresolved ticket.
    with host.signed_in(roles="supervisor", user="bulk-supervisor",
                        email="bulk-supervisor@staff.example.com") as supervisor:
        r = bulk(supervisor, [working], "close", {})
        assert by_number(r)[working]["ticket_status"] == "closed"


def test_notes_and_resolutions_land_on_each_ticket_once(host: RunningHost, desk_agent: str):
    numbers = [new_ticket(host) for _ in range(5)]
    with host.signed_in(user=desk_agent, email=f"{desk_agent}@staff.example.com") as agent:
        assert bulk(agent, numbers, "note", {"body": "outage 42"}).json()["succeeded"] == 5
        r = bulk(agent, numbers, "resolve", {"resolution": "The outage is over."})
        assert r.json()["succeeded"] == 5
        for n in numbers:
            v = view(agent, n)
            assert v["ticket"]["status"] == "resolved"
            assert v["ticket"]["resolution"] == "The outage is over."
            assert [e["body"] for e in v["thread"] if e["kind"] == "note"] == ["outage 42"]


BAD = [
    pytest.param({"numbers": [], "action": "note", "body": {"body": "x"}}, 422, "numbers",
                 id="no numbers"),
    pytest.param({"numbers": ["x"] * 101, "action": "note", "body": {"body": "x"}}, 422,
                 "numbers", id="more than 100"),
    pytest.param({"numbers": ["12345671", "12345671"], "action": "note",
                  "body": {"body": "x"}}, 422, "numbers", id="a number twice"),
    pytest.param({"numbers": ["12345675"], "action": "note", "body": {"body": "x"}}, 422,
                 "numbers", id="bad check digit"),
    pytest.param({"numbers": [12345674], "action": "note", "body": {"body": "x"}}, 422,
                 "numbers.0", id="a number as an integer"),
    pytest.param({"numbers": "12345674", "action": "note", "body": {"body": "x"}}, 422,
                 "numbers", id="numbers not a list"),
    pytest.param({"numbers": ["12345674"], "action": "delete", "body": {}}, 422, "action",
                 id="unknown action"),
    pytest.param({"numbers": ["12345674"], "action": "reply", "body": {"body": "x"}}, 422,
                 "action", id="reply is not offered in bulk"),
    pytest.param({"numbers": ["12345674"], "action": "resolve", "body": {}}, 422,
                 "resolution", id="body without its field"),
    pytest.param({"numbers": ["12345674"], "action": "assign", "body": {"team": "nobody"}},
                 422, "team", id="unknown team"),
    pytest.param({"numbers": ["12345674"], "action": "change", "body": {"category": "x"}},
                 422, "category", id="unknown category"),
    pytest.param({"numbers": ["12345674"], "action": "note", "body": {"body": "x"},
                  "expected": {"12345682": 'W/"v1"'}}, 422, "expected.12345682",
                 id="expected for a number not asked"),
    pytest.param({"numbers": ["12345674"], "action": "note", "body": {"body": "x"},
                  "expected": {"12345674": "yesterday"}}, 422, "expected.12345674",
                 id="expected neither an etag nor a time"),
    pytest.param({"numbers": ["12345674"], "action": "note", "body": {"body": "x"},
                  "actor": "admin1"}, 422, "actor", id="an actor in the body"),
    pytest.param([1, 2], 400, None, id="not an object"),
]


@pytest.mark.parametrize("payload,status,field", BAD)
def test_a_wrong_request_is_refused_whole_and_changes_nothing(host: RunningHost, payload,
                                                               status, field):
    number = new_ticket(host)
    if isinstance(payload, dict) and payload.get("numbers") == ["12345674"]:
        payload = {**payload, "numbers": [number]}
        if "12345674" in payload.get("expected", {}):
            payload["expected"] = {number: payload["expected"]["12345674"]}
    with host.signed_in() as agent:
        before = agent.get(f"/api/tickets/{number}").headers["etag"]
        r = agent.post("/api/tickets/bulk", json=payload)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == status and problem["title"] and problem["detail"]
        if field:
            fields = [e["field"] for e in problem["errors"]]
            assert any(f == field.replace("12345674", number) or f.startswith(field)
                       for f in fields), fields
        assert agent.get(f"/api/tickets/{number}").headers["etag"] == before


def test_malformed_json_and_other_media_types_are_refused(host: RunningHost):
    with host.signed_in() as agent:
        r = agent.post("/api/tickets/bulk", content=b'{"numbers": [',
                       headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["title"] == "Bad request"
        r = agent.post("/api/tickets/bulk", content=b"numbers=12345674",
                       headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        assert agent.post("/api/tickets/bulk", content=b"",
                          headers={"content-type": "application/json"}).status_code == 400


def test_roles_are_those_of_the_single_actions(host: RunningHost):
    number = new_ticket(host)
    payload = {"numbers": [number], "action": "note", "body": {"body": "x"}}
    with host.client() as anonymous:
        assert anonymous.post("/api/tickets/bulk", json=payload).status_code == 401
    with host.signed_in(roles="", user="bulk-nobody", email="nobody@example.org") as nobody:
        assert nobody.post("/api/tickets/bulk", json=payload).status_code == 403
    with host.signed_in() as agent:
        del agent.headers["X-Helpdesk-Request"]  # a cross-site form cannot send it
        assert agent.post("/api/tickets/bulk", json=payload).status_code == 403
        agent.headers["X-Helpdesk-Request"] = "1"
        assert by_number(agent.post("/api/tickets/bulk", json=payload))[number]["ok"]


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """The calls started together (a barrier), their answers in order."""
    start = threading.Barrier(len(calls))
    answers: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def test_a_bulk_action_racing_a_single_action_on_one_version_loses_or_wins_whole(
        host: RunningHost):
    """The bulk action and an agent's own action both name the version they saw: exactly
    one is written, the other is told 412; the bulk action's other tickets are changed."""
    outcomes = []
    for round_ in range(6):
        contested, bystander = new_ticket(host), new_ticket(host)
        with host.signed_in(user="racer-bulk", email="racer-bulk@staff.example.com") as a, \
                host.signed_in(user="racer-one", email="racer-one@staff.example.com") as b:
            etag = a.get(f"/api/tickets/{contested}").headers["etag"]
            many, one = at_once(
                partial(bulk, a, [bystander, contested], "note", {"body": f"bulk {round_}"},
                        expected={contested: etag}),
                partial(b.post, f"/api/tickets/{contested}/note",
                        json={"body": f"one {round_}"}, headers={"If-Match": etag}))
            results = by_number(many)
            assert results[bystander]["ok"]
            codes = (results[contested]["status"], one.status_code)
            assert sorted(codes) == [200, 412], codes
            notes = [e["body"] for e in view(a, contested)["thread"] if e["kind"] == "note"]
            assert notes == ([f"bulk {round_}"] if codes[0] == 200 else [f"one {round_}"])
            outcomes.append(codes)
    print("bulk vs one:", outcomes)


def test_without_expected_a_race_loses_no_update(host: RunningHost):
    number = new_ticket(host)
    with host.signed_in(user="racer-bulk", email="racer-bulk@staff.example.com") as a, \
            host.signed_in(user="racer-one", email="racer-one@staff.example.com") as b:
        many, one = at_once(partial(bulk, a, [number], "note", {"body": "from the bulk"}),
                            partial(b.post, f"/api/tickets/{number}/note",
                                    json={"body": "alone"}))
        assert by_number(many)[number]["ok"] and one.status_code == 200
        notes = sorted(e["body"] for e in view(a, number)["thread"] if e["kind"] == "note")
        assert notes == ["alone", "from the bulk"]
