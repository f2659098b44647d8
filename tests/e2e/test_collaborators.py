"""Collaborators (the people copied on a ticket) through the running host: agents add and
remove them under If-Match, public emails copy them (each with a copy of their own and a
one-click "stop copying me"), internal notes reach nobody, their replies join the ticket
under their own name, and the portal opens for them with their own link."""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.e2e.test_portal import confirm, csrf_of, new_ticket, open_portal
from tests.support import MailDev, email_message, wait_for

SAME_SITE = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
def mail_key(host: RunningHost) -> str:
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/apikeys", json={"name": "collab mx", "scopes": ["email"]})
        assert r.status_code == 201
        return r.json()["key"]


def post_mail(host: RunningHost, key: str, msg) -> dict:
    # Our copies' Message-IDs are longer than a header line: written as mail clients
    # write them, not as encoded words (the standard library's default).
    msg.policy = policy.default.clone(max_line_length=998)
    with host.client() as client:
        r = client.post("/api/tickets.email", content=bytes(msg),
                        headers={"X-API-Key": key, "content-type": "message/rfc822",
                                 "Accept": "application/json"})
    assert r.status_code == 201, r.text
    return r.json()


def view(host: RunningHost, number: str) -> httpx.Response:
    with host.signed_in() as agent:
        return agent.get(f"/api/tickets/{number}")


def delivered(maildev: MailDev, address: str) -> list[dict]:
    """The messages MailDev received for `address` (the SMTP envelope, whatever To says)."""
    return maildev.to(address)


def wait_delivered(maildev: MailDev, address: str, count: int = 1) -> list[dict]:
    return wait_for(lambda: (m := delivered(maildev, address)) and len(m) >= count and m,
                    timeout=30, what=f"{count} email(s) delivered to {address}")


def header(maildev: MailDev, message: dict, name: str) -> str:
    parsed = message_from_bytes(maildev.raw(message["id"]), policy=policy.default)
    return str(parsed.get(name) or "")


def addresses(value: str) -> set[str]:
    return {a.lower() for a in re.findall(r"[\w.+-]+@[\w.-]+", value)}


def stop_link(maildev: MailDev, message: dict) -> str:
    match = re.search(r"Stop copying me on this request: (\S+)", maildev.text(message["id"]))
    assert match, maildev.text(message["id"])
    return match.group(1)


# -- the agents' API ---------------------------------------------------------------------------

def test_agents_add_and_remove_collaborators_under_if_match(host: RunningHost):
    requester = unique_email("req")
    number = new_ticket(host, requester)
    colleague = unique_email("colleague")
    with host.signed_in() as agent:
        first = agent.get(f"/api/tickets/{number}").headers["ETag"]
        added = agent.post(f"/api/tickets/{number}/collaborators",
                           json={"email": f"  {colleague.upper()} "}, headers={"If-Match": first})
        assert added.status_code == 200, added.text
        second = added.headers["ETag"]
        assert second != first
        assert added.json()["ticket"]["cc"] == [colleague]
        entry = added.json()["thread"][-1]
        assert entry["kind"] == "collaborators" and entry["actor"] == "agent1"
        assert entry["data"] == {"added": colleague, "via": "agent"} and not entry["public"]

        stale = agent.post(f"/api/tickets/{number}/collaborators",
                           json={"email": unique_email("late")}, headers={"If-Match": first})
        assert stale.status_code == 412, stale.text
        assert stale.json()["current"]["ticket"]["cc"] == [colleague]

        again = agent.post(f"/api/tickets/{number}/collaborators", json={"email": colleague},
                           headers={"If-Match": second})
        assert again.status_code == 200 and again.headers["ETag"] == second  # nothing changed

        for body, field in (({"email": "not an address"}, "email"),
                            ({"email": requester.upper()}, "email"),
                            ({"email": "helpdesk@example.com"}, "email"),
                            ({"email": "Support@Example.com"}, "email"),
                            ({"email": "a@example.org\r\nBcc: b@example.org"}, "email"),
                            ({"email": "=?utf-8?q?x?=@example.org"}, "email"),
                            ({}, "email"), ({"email": "c@example.org", "role": "x"}, "role")):
            r = agent.post(f"/api/tickets/{number}/collaborators", json=body)
            assert r.status_code == 422, (body, r.text)
            assert field in {e["field"] for e in r.json()["errors"]}, (body, r.json())
        assert agent.post(f"/api/tickets/{number}/collaborators", content=b"email=x",
                          headers={"content-type": "text/plain"}).status_code == 415

        path = f"/api/tickets/{number}/collaborators/{quote(colleague)}"
        assert agent.delete(path, headers={"If-Match": first}).status_code == 412
        removed = agent.delete(path, headers={"If-Match": second})
        assert removed.status_code == 200, removed.text
        assert removed.json()["ticket"]["cc"] == []
        assert removed.json()["thread"][-1]["data"] == {"removed": colleague, "via": "agent"}
        assert agent.delete(path).status_code == 404
        assert agent.delete(f"/api/tickets/12345674/collaborators/{quote(colleague)}"
                            ).status_code == 404


def test_a_ticket_has_at_most_twenty_collaborators(host: RunningHost):
    number = new_ticket(host, unique_email("many"))
    with host.signed_in() as agent:
        for i in range(20):
            r = agent.post(f"/api/tickets/{number}/collaborators",
                           json={"email": f"person{i}@example.org"})
            assert r.status_code == 200, r.text
        r = agent.post(f"/api/tickets/{number}/collaborators", json={"email": "one@example.org"})
        assert r.status_code == 422 and "20" in r.json()["errors"][0]["message"]


# -- email -------------------------------------------------------------------------------------

def test_copied_people_join_from_the_email_and_get_public_emails_never_notes(
        host: RunningHost, mail_key: str, maildev: MailDev):
    requester, boss, other = (unique_email("mreq"), unique_email("boss"),
                              unique_email("other"))
    msg = email_message(requester, "Laptop will not boot", "Black screen since this morning.",
                        name="Ria Requester",
                        Cc=f"Boss <{boss.upper()}>, {requester}, Help Desk <helpdesk@example.com>,"
                           f" {other}, {boss}")
    number = post_mail(host, mail_key, msg)["number"]
    assert view(host, number).json()["ticket"]["cc"] == [boss, other]
    wait_delivered(maildev, requester)  # the acknowledgement: the requester's alone
    assert delivered(maildev, boss) == []

    with host.signed_in() as agent:
        assert agent.post(f"/api/tickets/{number}/note",
                          json={"body": "internal: the disk is dying"}).status_code == 200
        assert agent.post(f"/api/tickets/{number}/reply",
                          json={"body": "Please hold the power button for 10 seconds."}
                          ).status_code == 200
    [_, reply] = wait_delivered(maildev, requester, 2)
    assert addresses(header(maildev, reply, "To")) == {requester}
    assert addresses(header(maildev, reply, "Cc")) == {boss, other}
    assert not header(maildev, reply, "List-Unsubscribe")
    for person in (boss, other):
        [copy] = wait_delivered(maildev, person)
        assert [t["address"].lower() for t in copy["envelope"]["to"]] == [person]
        assert addresses(header(maildev, copy, "Cc")) == {boss, other}
        text = maildev.text(copy["id"])
        assert "Please hold the power button" in text
        assert "copied on this request of Ria Requester" in text
        link = stop_link(maildev, copy)
        assert header(maildev, copy, "List-Unsubscribe") == f"<{link}>"
        assert header(maildev, copy, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
        assert header(maildev, copy, "In-Reply-To")  # threaded as the requester's
    time.sleep(1)  # the note's event was handled before the reply's: no late email
    for m in maildev.messages():
        assert "the disk is dying" not in maildev.text(m["id"])
    sent = [e for e in view(host, number).json()["thread"] if e["kind"] == "email_sent"]
    assert {e["data"]["to"] for e in sent} >= {requester, boss, other}


def test_a_collaborators_reply_joins_under_their_name_and_a_strangers_does_not(
        host: RunningHost, mail_key: str, maildev: MailDev):
    requester, colleague = unique_email("jreq"), unique_email("jcol")
    number = post_mail(host, mail_key, email_message(
        requester, "Printer offline", "It says offline.", Cc=colleague))["number"]
    with host.signed_in() as agent:
        assert agent.post(f"/api/tickets/{number}/reply",
                          json={"body": "Is it switched on?"}).status_code == 200
    [copy] = wait_delivered(maildev, colleague)
    their_id = header(maildev, copy, "Message-ID")
    answer = post_mail(host, mail_key, email_message(
        colleague, "Re: Printer offline", "Yes, I checked it for her.", name="Col League",
        In_Reply_To=their_id, References=their_id))
    assert answer["outcome"] == "appended" and answer["number"] == number
    [message] = [e for e in view(host, number).json()["thread"] if e["kind"] == "message"]
    assert message["actor"] == colleague and message["body"] == "Yes, I checked it for her."

    [_, to_requester] = wait_delivered(maildev, requester, 2)
    stranger = post_mail(host, mail_key, email_message(
        unique_email("stranger"), "Re: Printer offline", "Let me in.",
        In_Reply_To=header(maildev, to_requester, "Message-ID")))
    assert stranger["outcome"] == "created" and stranger["number"] != number
    assert len([e for e in view(host, number).json()["thread"] if e["kind"] == "message"]) == 1


def test_stop_copying_me_needs_the_post_and_then_copies_no_more(
        host: RunningHost, mail_key: str, maildev: MailDev):
    requester, leaving = unique_email("ureq"), unique_email("leaving")
    number = post_mail(host, mail_key, email_message(
        requester, "Wifi drops", "Every hour.", Cc=leaving))["number"]
    with host.signed_in() as agent:
        assert agent.post(f"/api/tickets/{number}/reply", json={"body": "First answer"}
                          ).status_code == 200
    [copy] = wait_delivered(maildev, leaving)
    link = stop_link(maildev, copy)
    path = urlsplit(link).path
    with host.client() as scanner:  # a link scanner or preview fetches it: nothing happens
        page = scanner.get(path)
        assert page.status_code == 200 and 'id="unsubscribe-form"' in page.text
        assert leaving in page.text
    assert view(host, number).json()["ticket"]["cc"] == [leaving]
    with host.client() as mail_client:  # RFC 8058: a POST without cookies or a session
        done = mail_client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and 'id="unsubscribed"' in done.text
        assert mail_client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
        assert 'id="not-copied"' in mail_client.get(path).text
    ticket_view = view(host, number).json()
    assert ticket_view["ticket"]["cc"] == []
    [entry] = [e for e in ticket_view["thread"] if e["kind"] == "collaborators"]
    assert entry["actor"] == leaving and entry["data"] == {"removed": leaving,
                                                            "via": "unsubscribe"}
    with host.client() as forger:
        assert forger.post(path[:-3] + "abc").status_code == 403

    with host.signed_in() as agent:
        assert agent.post(f"/api/tickets/{number}/reply", json={"body": "Second answer"}
                          ).status_code == 200
    [_, _, second] = wait_delivered(maildev, requester, 3)
    assert "Second answer" in maildev.text(second["id"])
    assert not header(maildev, second, "Cc")
    time.sleep(1)
    assert len(delivered(maildev, leaving)) == 1


# -- the portal --------------------------------------------------------------------------------

def test_a_collaborator_opens_the_portal_with_their_own_link_and_answers(
        host: RunningHost, maildev: MailDev):
    requester, colleague = unique_email("preq"), unique_email("pcol")
    number = new_ticket(host, requester, subject="Monitor flickers")
    with host.signed_in() as agent:
        assert agent.post(f"/api/tickets/{number}/collaborators",
                          json={"email": colleague}).status_code == 200
        assert agent.post(f"/api/tickets/{number}/resolve",
                          json={"resolution": "New cable."}).status_code == 200
    # "Check a ticket" with the collaborator's address emails them a link of their own.
    with host.client() as client:
        assert client.post("/api/portal", data={"email": colleague.upper(),
                                                "number": number}).status_code == 200
    asked = wait_for(lambda: [m for m in delivered(maildev, colleague)
                              if "Your link" in m["subject"]], timeout=30, what="the link")
    link = urlsplit(maildev.portal_link(asked[0]["id"])).path
    with host.client() as client:
        assert confirm(client, link).status_code == 303
        page = client.get("/api/portal/ticket")
        assert page.status_code == 200 and "Monitor flickers" in page.text
        assert 'id="copied-note"' in page.text
        assert 'id="rating-form"' not in page.text and 'id="collaborator-form"' not in page.text
        csrf = csrf_of(page.text)
        rated = client.post("/api/portal/ticket/rating", headers=SAME_SITE,
                            data={"solved": "yes", "csrf": csrf})
        assert rated.status_code == 403
        added = client.post("/api/portal/ticket/collaborators", headers=SAME_SITE,
                            data={"email": unique_email("friend"), "csrf": csrf})
        assert added.status_code == 403
        reply = client.post("/api/portal/ticket/reply", headers=SAME_SITE,
                            data={"body": "Still flickers on my desk too.", "csrf": csrf},
                            follow_redirects=False)
        assert reply.status_code == 303, reply.text
        page = client.get("/api/portal/ticket").text
        assert "Still flickers on my desk too." in page
    ticket_view = view(host, number).json()
    [message] = [e for e in ticket_view["thread"] if e["kind"] == "message"]
    assert message["actor"] == colleague and message["data"]["channel"] == "portal"
    assert ticket_view["ticket"]["status"] == "open"  # reopened, as the requester's would
    assert ticket_view["ticket"]["satisfied"] is None


def test_a_requester_copies_a_colleague_from_the_portal_and_removes_them(host: RunningHost):
    requester, colleague = unique_email("areq"), unique_email("acol")
    number = new_ticket(host, requester)
    with host.signed_in() as agent:
        assert agent.post(f"/api/tickets/{number}/collaborators",
                          json={"email": (by_agent := unique_email("byagent"))}
                          ).status_code == 200
    with open_portal(host, number, requester) as client:
        csrf = csrf_of(client.get("/api/portal/ticket").text)
        forged = client.post("/api/portal/ticket/collaborators", headers=SAME_SITE,
                             data={"email": colleague})
        assert forged.status_code == 403
        bad = client.post("/api/portal/ticket/collaborators", headers=SAME_SITE,
                          data={"email": "nobody", "csrf": csrf})
        assert bad.status_code == 422 and 'id="portal-error"' in bad.text
        added = client.post("/api/portal/ticket/collaborators", headers=SAME_SITE,
                            data={"email": colleague, "csrf": csrf}, follow_redirects=False)
        assert added.status_code == 303, added.text
        page = client.get(added.headers["location"]).text
        assert colleague in page and 'id="portal-notice"' in page
        assert view(host, number).json()["ticket"]["cc"] == [by_agent, colleague]
        # Only the ones they added themselves.
        refused = client.post("/api/portal/ticket/collaborators/remove", headers=SAME_SITE,
                              data={"email": by_agent, "csrf": csrf})
        assert refused.status_code == 403
        removed = client.post("/api/portal/ticket/collaborators/remove", headers=SAME_SITE,
                              data={"email": colleague, "csrf": csrf}, follow_redirects=False)
        assert removed.status_code == 303, removed.text
    ticket_view = view(host, number).json()
    assert ticket_view["ticket"]["cc"] == [by_agent]
    changes = [(e["actor"], e["data"]) for e in ticket_view["thread"]
               if e["kind"] == "collaborators"]
    assert changes[1:] == [(requester, {"added": colleague, "via": "portal"}),
                           (requester, {"removed": colleague, "via": "portal"})]
    # A removed collaborator's link opens nothing any more.
    with host.client() as client:
        from tests.e2e.test_portal import link
        assert confirm(client, link(host, number, colleague)).status_code == 303
        assert client.get("/api/portal/ticket").status_code == 403
