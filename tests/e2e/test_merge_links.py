"""Merging a duplicate and linking tickets through the running host: what each ticket
shows afterwards, mail to the duplicate joining the target, the requester's one email,
the refusals, the parent/child rule, and merges racing replies on either ticket."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.e2e.test_portal import confirm
from tests.support import DkimKey, MailDev, email_message


@pytest.fixture(scope="module")
def mail_key(host: RunningHost) -> str:
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/apikeys", json={"name": "mx-merge", "scopes": ["email"]})
        assert r.status_code == 201
        return r.json()["key"]


def new_ticket(host: RunningHost, email: str | None = None, subject: str = "Laptop slow") -> str:
    with host.client() as client:
        r = client.post("/api/tickets", json={"name": "Req", "email": email or unique_email(),
                                              "subject": subject, "description": "d"})
    assert r.status_code == 201, r.text
    return r.json()["number"]


def post_mail(host: RunningHost, key: str, msg: EmailMessage) -> dict:
    with host.client() as client:
        r = client.post("/api/tickets.email", content=bytes(msg),
                        headers={"X-API-Key": key, "content-type": "message/rfc822",
                                 "Accept": "application/json"})
    assert r.status_code == 201, r.text
    return r.json()


def view(agent: httpx.Client, number: str) -> httpx.Response:
    r = agent.get(f"/api/tickets/{number}")
    assert r.status_code == 200, r.text
    return r


def kinds(agent: httpx.Client, number: str, kind: str) -> list[dict]:
    return [e for e in view(agent, number).json()["thread"] if e["kind"] == kind]


def merge(agent: httpx.Client, number: str, into: str, etag: str | None = None,
          **body: object) -> httpx.Response:
    headers = {"If-Match": etag} if etag else {}
    return agent.post(f"/api/tickets/{number}/merge", json={"into": into, **body},
                      headers=headers)


def header(raw: bytes, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in raw.decode().splitlines()
                if line.lower().startswith(name.lower() + ":"))


def test_a_merge_closes_the_duplicate_copies_its_people_and_its_mail_follows(
        host: RunningHost, mail_key: str, maildev: MailDev, requester_key: DkimKey):
    requester, colleague = unique_email("dup"), unique_email("dupcc")
    first = email_message(requester, "Printer jams", "It jams on page 2.", Cc=colleague)
    duplicate = post_mail(host, mail_key, first)["number"]
    [ack] = maildev.wait_to(requester)
    target_requester = unique_email("target")
    target = new_ticket(host, target_requester, subject="Printer on floor 3 broken")
    maildev.wait_to(target_requester)

    with host.signed_in(user="merger", email="merger@staff.example.com") as agent:
        etag = view(agent, duplicate).headers["etag"]
        r = merge(agent, duplicate, target, etag, comment="same printer")
        assert r.status_code == 200, r.text
        closed = r.json()
        assert closed["ticket"]["status"] == "closed"
        assert closed["ticket"]["merged_into"] == target and not closed["ticket"]["merging_into"]
        assert closed["allowed_actions"] == ["note"]
        assert r.headers["etag"] != etag
        # The duplicate keeps its own thread; its history names each step.
        steps = [e["kind"] for e in closed["thread"] if e["kind"].startswith("merg")]
        assert steps == ["merging", "merged_into"]

        taken = view(agent, target).json()
        assert taken["ticket"]["merged_from"] == [duplicate]
        assert {requester, colleague} <= set(taken["ticket"]["cc"])
        [entry] = [e for e in taken["thread"] if e["kind"] == "merged"]
        assert entry["data"]["duplicate"] == duplicate and entry["actor"] == "merger"
        assert entry["body"] == "same printer" and not entry["public"]
        # The thread stays where it was: nothing of the duplicate's is copied over.
        assert not [e for e in taken["thread"] if e["body"] == "It jams on page 2."]

        # The merged duplicate takes notes only.
        r = agent.post(f"/api/tickets/{duplicate}/reopen", json={})
        assert r.status_code == 409 and r.json()["merged_into"] == target
        assert agent.post(f"/api/tickets/{duplicate}/note", json={"body": "fyi"}).status_code == 200

        # A double submit answers the same and merges nothing twice.
        again = merge(agent, duplicate, target, etag, comment="same printer")
        assert again.status_code == 200 and again.json()["ticket"]["merged_into"] == target
        assert len(kinds(agent, target, "merged")) == 1

    # The requester is told once, on the duplicate's thread, naming the target.
    mails = maildev.wait_to(requester, 2)
    merged_mail = mails[-1]
    assert f"[#{duplicate}]" in merged_mail["subject"]
    assert target in maildev.text(merged_mail["id"])
    assert header(maildev.raw(merged_mail["id"]), "In-Reply-To") == \
        header(maildev.raw(ack["id"]), "Message-ID")

    # The email's portal link opens the duplicate, which points to the target.
    with host.client() as client:
        link_path = maildev.portal_link(merged_mail["id"]).split(host.base_url, 1)[-1]
        assert confirm(client, link_path).status_code == 303
        page = client.get("/api/portal/ticket")
        assert f"merged into request #{target}" in page.text
        assert 'id="reply-form"' not in page.text

    # Mail to the duplicate joins the target: by our signed Message-ID of its ack, ...
    ack_id = header(maildev.raw(ack["id"]), "Message-ID")
    by_ack = post_mail(host, mail_key, email_message(
        requester, "Re: Printer jams", "Still jamming.", In_Reply_To=ack_id, References=ack_id))
    assert (by_ack["outcome"], by_ack["number"]) == ("appended", target)
    # ... by its subject token (signed by the sender's domain), ...
    by_token = post_mail(host, mail_key, requester_key.sign(email_message(
        requester, f"Re: [#{duplicate}] Printer jams", "And now it smokes.")))
    assert (by_token["outcome"], by_token["number"]) == ("appended", target)
    # ... and by a Message-ID we received for it (the first email), from someone copied.
    by_record = post_mail(host, mail_key, requester_key.sign(email_message(
        colleague, "Re: Printer jams", "Mine too.", In_Reply_To=first["Message-ID"])))
    assert (by_record["outcome"], by_record["number"]) == ("appended", target)
    with host.signed_in() as agent:
        bodies = [e["body"] for e in kinds(agent, target, "message")]
        assert bodies == ["Still jamming.", "And now it smokes.", "Mine too."]
        assert not kinds(agent, duplicate, "message")
    time.sleep(2)  # the events of those replies are handled; still one email about the merge
    assert len(maildev.to(requester)) == 2


def test_merges_that_are_refused(host: RunningHost):
    a, b, c = new_ticket(host), new_ticket(host), new_ticket(host)
    closed = new_ticket(host)
    with host.signed_in(roles="supervisor", user="sup-merge") as agent:
        assert agent.post(f"/api/tickets/{closed}/close", json={}).status_code == 200
        cases = [
            (a, {"into": a}, 422), (a, {"into": "10000004"}, 422), (a, {"into": "1234"}, 422),
            (a, {"into": b, "extra": 1}, 422), (a, {"into": int(b)}, 422), (a, {}, 422),
            (a, {"into": closed}, 409), (closed, {"into": a}, 409),
        ]
        for number, body, status in cases:
            r = agent.post(f"/api/tickets/{number}/merge", json=body)
            assert r.status_code == status, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        r = agent.post(f"/api/tickets/{a}/merge", content=b"{", headers={
            "content-type": "application/json"})
        assert r.status_code == 400
        r = agent.post(f"/api/tickets/{a}/merge", content=b"into=1",
                       headers={"content-type": "text/plain"})
        assert r.status_code == 415
        assert agent.post("/api/tickets/99999999/merge", json={"into": a}).status_code == 404

        stale = view(agent, a).headers["etag"]
        assert agent.post(f"/api/tickets/{a}/note", json={"body": "moved on"}).status_code == 200
        r = merge(agent, a, b, stale)
        assert r.status_code == 412 and r.json()["current"]["ticket"]["number"] == a
        assert not view(agent, a).json()["ticket"]["merging_into"]

        assert merge(agent, a, b).status_code == 200
        # Into a merged ticket, and the cycle (b into a once a is merged into b).
        r = merge(agent, c, a)
        assert r.status_code == 409 and r.json()["merged_into"] == b
        r = merge(agent, b, a)
        assert r.status_code == 409
        # A merged ticket again into another one.
        assert merge(agent, a, c).status_code == 409
        assert not kinds(agent, c, "merged") and len(kinds(agent, b, "merged")) == 1


def link(agent: httpx.Client, number: str, other: str, kind: str,
         etag: str | None = None) -> httpx.Response:
    return agent.post(f"/api/tickets/{number}/links", json={"ticket": other, "kind": kind},
                      headers={"If-Match": etag} if etag else {})


def links(agent: httpx.Client, number: str) -> dict[str, str]:
    return {link["ticket"]: link["kind"] for link in view(agent, number).json()["links"]}


def test_links_show_on_both_sides_and_are_refused_when_they_make_no_sense(host: RunningHost):
    parent, child, grandchild, other = (new_ticket(host, subject=f"t{i}") for i in range(4))
    with host.signed_in() as agent:
        r = link(agent, child, parent, "parent", view(agent, child).headers["etag"])
        assert r.status_code == 200, r.text
        assert r.json()["links"] == [{"ticket": parent, "kind": "parent", "subject": "t0",
                                      "status": "new", "merged_into": None}]
        assert links(agent, parent) == {child: "child"}
        assert link(agent, child, grandchild, "child").status_code == 200
        assert link(agent, parent, other, "related").status_code == 200
        assert links(agent, other) == {parent: "related"}
        assert links(agent, child) == {parent: "parent", grandchild: "child"}
        for number, entries in ((child, 2), (parent, 2), (other, 1), (grandchild, 1)):
            assert len(kinds(agent, number, "linked")) == entries

        refused = [
            (child, parent, "related", 409),        # linked already
            (parent, child, "child", 409),          # the same link, from the other side
            (grandchild, parent, "child", 409),     # a cycle: parent is above grandchild
            (parent, grandchild, "parent", 409),    # the same cycle, said the other way
            (parent, parent, "related", 422),       # itself
            (parent, "10000004", "related", 422),   # no such ticket
            (parent, other, "sibling", 422),
            (parent, "abc", "related", 422),
        ]
        for number, to, kind, status in refused:
            r = link(agent, number, to, kind)
            assert r.status_code == status, (number, to, kind, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        stale = view(agent, other).headers["etag"]
        assert agent.post(f"/api/tickets/{other}/note", json={"body": "x"}).status_code == 200
        assert link(agent, other, child, "related", stale).status_code == 412

        r = agent.delete(f"/api/tickets/{parent}/links/{other}")
        assert r.status_code == 200 and r.json()["links"][0]["ticket"] == child
        assert links(agent, other) == {}
        assert len(kinds(agent, other, "unlinked")) == 1
        assert agent.delete(f"/api/tickets/{parent}/links/{other}").status_code == 404
        assert agent.delete(f"/api/tickets/{parent}/links/nonsense").status_code == 404

        # A merged ticket is not linked; the link shows where it went.
        merged = new_ticket(host)
        assert link(agent, merged, parent, "related").status_code == 200
        assert merge(agent, merged, other).status_code == 200
        assert link(agent, merged, child, "related").status_code == 409
        shown = {x["ticket"]: x for x in view(agent, parent).json()["links"]}
        assert shown[merged]["merged_into"] == other and shown[merged]["status"] == "closed"


def test_a_parent_is_not_resolved_while_a_child_is_open_unless_a_supervisor_forces_it(
        host: RunningHost):
    parent, child = new_ticket(host), new_ticket(host)
    with host.signed_in() as agent:
        assert link(agent, parent, child, "child").status_code == 200
        r = agent.post(f"/api/tickets/{parent}/resolve", json={"resolution": "done"})
        assert r.status_code == 409 and r.json()["open_children"] == [child]
        assert r.headers["content-type"].startswith("application/problem+json")
        r = agent.post(f"/api/tickets/{parent}/resolve", json={"resolution": "done",
                                                               "force": True})
        assert r.status_code == 409 and "supervisor" in r.json()["detail"]
        assert agent.post(f"/api/tickets/{parent}/resolve",
                          json={"resolution": "done", "force": "maybe"}).status_code == 422
    with host.signed_in(roles="supervisor", user="sup-force") as supervisor:
        r = supervisor.post(f"/api/tickets/{parent}/close", json={})
        assert r.status_code == 409 and r.json()["open_children"] == [child]
        r = supervisor.post(f"/api/tickets/{parent}/resolve", json={"resolution": "done",
                                                                    "force": True})
        assert r.status_code == 200, r.text
        [resolved] = [e for e in r.json()["thread"] if e["kind"] == "resolved"]
        assert resolved["data"]["forced_open_children"] == [child]
    # Once the child is done, the parent closes without force.
    other_parent, other_child = new_ticket(host), new_ticket(host)
    with host.signed_in() as agent:
        assert link(agent, other_child, other_parent, "parent").status_code == 200
        assert agent.post(f"/api/tickets/{other_child}/resolve",
                          json={"resolution": "fixed"}).status_code == 200
        r = agent.post(f"/api/tickets/{other_parent}/resolve", json={"resolution": "all done"})
        assert r.status_code == 200, r.text
        assert agent.post(f"/api/tickets/{other_parent}/close", json={}).status_code == 200


def replying(number: str, body: str, etag: str):
    return lambda a: a.post(f"/api/tickets/{number}/reply", json={"body": body},
                            headers={"If-Match": etag})


def merging(number: str, into: str, etag: str | None = None):
    return lambda a: merge(a, number, into, etag)


def _race(host: RunningHost, *calls) -> list[httpx.Response]:
    def run(call):
        with host.signed_in(user="racer", email="racer@staff.example.com") as agent:
            return call(agent)
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_a_merge_racing_a_reply_on_the_duplicate_includes_it_or_gets_412(host: RunningHost):
    outcomes = set()
    for round_ in range(6):
        duplicate, target = new_ticket(host), new_ticket(host)
        with host.signed_in() as agent:
            etag = view(agent, duplicate).headers["etag"]
        reply, merged = _race(host, replying(duplicate, f"r{round_}", etag),
                              merging(duplicate, target, etag))
        assert sorted([reply.status_code, merged.status_code]) == [200, 412], \
            (reply.text, merged.text)
        with host.signed_in() as agent:
            d = view(agent, duplicate).json()
            t_merged = kinds(agent, target, "merged")
        if merged.status_code == 200:
            outcomes.add("merge")
            assert d["ticket"]["merged_into"] == target and len(t_merged) == 1
            assert not [e for e in d["thread"] if e["kind"] == "reply"]
        else:
            outcomes.add("reply")
            # Nothing of the merge is written anywhere.
            assert not d["ticket"]["merged_into"] and not d["ticket"]["merging_into"]
            assert not [e for e in d["thread"] if e["kind"].startswith("merg")]
            assert t_merged == [] and [e["body"] for e in d["thread"]
                                       if e["kind"] == "reply"] == [f"r{round_}"]
    assert outcomes  # which one wins is up to the race


def test_a_merge_racing_a_reply_on_the_target_includes_it_or_the_reply_gets_412(
        host: RunningHost):
    for round_ in range(6):
        duplicate, target = new_ticket(host), new_ticket(host)
        with host.signed_in() as agent:
            etag = view(agent, target).headers["etag"]
        reply, merged = _race(host, replying(target, f"t{round_}", etag),
                              merging(duplicate, target))
        assert merged.status_code == 200, merged.text
        assert reply.status_code in (200, 412), reply.text
        with host.signed_in() as agent:
            thread = view(agent, target).json()["thread"]
        order = [e["kind"] for e in thread if e["kind"] in ("reply", "merged")]
        # The reply that won is in the thread, before or after the merge; the one that
        # lost was refused because the merge changed the target first.
        if reply.status_code == 200:
            assert sorted(order) == ["merged", "reply"]
        else:
            assert order == ["merged"]


def test_a_double_submitted_merge_merges_once(host: RunningHost, maildev: MailDev):
    requester = unique_email("double")
    duplicate, target = new_ticket(host, requester), new_ticket(host)
    maildev.wait_to(requester)
    with host.signed_in() as agent:
        etag = view(agent, duplicate).headers["etag"]
    answers = _race(host, *[merging(duplicate, target, etag)] * 3)
    assert [r.status_code for r in answers] == [200, 200, 200], [r.text for r in answers]
    with host.signed_in() as agent:
        assert len(kinds(agent, target, "merged")) == 1
        assert len(kinds(agent, duplicate, "merging")) == 1
        assert len(kinds(agent, duplicate, "merged_into")) == 1
    maildev.wait_to(requester, 2)
    time.sleep(2)
    assert len(maildev.to(requester)) == 2
