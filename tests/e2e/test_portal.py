"""The requester portal over HTTP against the running app: "check a ticket" reveals
nothing, links are signed, expire and open a session only by a confirming POST and only
once, notes stay internal, forms need the session's anti-forgery field, answers are
limited per ticket, and answers and ratings land on the ticket the agents see."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from shared.core.links import make_code, make_token
from tests.conftest import PORTAL_SECRET, unique_email
from tests.e2e.conftest import RunningHost
from tests.support import MailDev

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CODE = re.compile(r'name="code" value="([^"]+)"')


def new_ticket(host: RunningHost, email: str, subject: str = "Printer jams") -> str:
    with host.client() as client:
        r = client.post("/api/tickets", json={"name": "Ada", "email": email, "subject": subject,
                                              "description": "It jams on page 2."})
        assert r.status_code == 201, r.text
        return r.json()["number"]


def link(host: RunningHost, number: str, email: str, *, days: float = 7) -> str:
    code = make_code(number, email, secret=PORTAL_SECRET,
                     expires=datetime.now(UTC) + timedelta(days=days))
    return f"/api/portal/t/{code}"


def confirm(client: httpx.Client, path: str) -> httpx.Response:
    """Open a link as a person does: its page, then the button (a POST with the code)."""
    page = client.get(path)
    assert page.status_code == 200 and "set-cookie" not in page.headers, page.text
    match = CODE.search(page.text)
    assert match, page.text
    return client.post("/api/portal/open", data={"code": match.group(1)})


@contextmanager
def open_portal(host: RunningHost, number: str, email: str) -> Iterator[httpx.Client]:
    """A client that opened the ticket's link: it holds the portal's session cookie."""
    with host.client() as client:
        r = confirm(client, link(host, number, email))
        assert r.status_code == 303 and r.headers["location"] == "/api/portal/ticket", r.text
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Path=/api/portal" in cookie
        assert "Secure" not in cookie  # the test host is plain http on 127.0.0.1
        yield client


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, page
    return match.group(1)


def agent_view(host: RunningHost, number: str) -> dict:
    with host.signed_in() as agent:
        return agent.get(f"/api/tickets/{number}").json()


def agent_act(host: RunningHost, number: str, action: str, body: dict) -> None:
    with host.signed_in() as agent:
        r = agent.post(f"/api/tickets/{number}/{action}", json=body)
        assert r.status_code == 200, r.text


def test_check_a_ticket_answers_the_same_and_mails_only_the_real_pair(host: RunningHost,
                                                                      maildev: MailDev):
    email, stranger = unique_email("check"), unique_email("stranger")
    number = new_ticket(host, email)
    other = new_ticket(host, unique_email("other"))
    with host.client() as client:
        page = client.get("/api/portal")
        assert page.status_code == 200 and 'name="email"' in page.text
        answers = [client.post("/api/portal", data={"email": e, "number": n})
                   for e, n in ((stranger, number), (email, other), (email, "12345671"),
                                (email.upper(), f" {number} "))]
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1, "the answer must not depend on the pair"
    assert "If a ticket with that number belongs to that address" in answers[0].text

    links = maildev.wait_to(email, 2)  # the acknowledgement and the requested link
    [sent] = [m for m in links if "Your link to" in m["subject"]]
    time.sleep(2)  # the other requests had their turn on the queue by now
    assert len([m for m in maildev.to(email) if "Your link to" in m["subject"]]) == 1
    assert maildev.to(stranger) == []

    # The link carries the public URL of the host that handled the queue message (another
    # test may run a host of its own); the token is good on any host with the secret.
    url = maildev.portal_link(sent["id"])
    assert re.match(r"^http://127\.0\.0\.1:\d+/api/portal/t/[\w.-]+$", url), url
    with host.client() as client:
        r = confirm(client, urlsplit(url).path)
        assert r.status_code == 303
        opened = client.get(r.headers["location"])
        assert opened.status_code == 200
        assert f"#{number}" in opened.text and "Printer jams" in opened.text
        assert opened.headers["content-security-policy"].startswith("default-src 'self'")


def test_expired_tampered_and_missing_links_are_refused(host: RunningHost):
    email = unique_email("refused")
    number = new_ticket(host, email)
    with host.client() as client:
        expired = client.get(link(host, number, email, days=-1))
        assert expired.status_code == 410 and "expired" in expired.text
        assert 'action="/api/portal/renew"' in expired.text
        assert "set-cookie" not in expired.headers
        good = link(host, number, email)
        head, _, tail = good.rpartition(".")
        # A character in the middle: the last one of a base64 text may carry only padding
        # bits, so changing it can leave the decoded bytes, and the signature, as they were.
        i = len(head) - 8
        tampered = client.get(f"{head[:i]}{'A' if head[i] != 'A' else 'B'}{head[i + 1:]}.{tail}")
        assert tampered.status_code == 403 and "not valid" in tampered.text
        other_secret = make_code(number, email, secret="not-the-apps-secret-at-all",
                                 expires=datetime.now(UTC) + timedelta(days=1))
        assert client.get(f"/api/portal/t/{other_secret}").status_code == 403
        for path in ("/api/portal/ticket", "/api/portal/ticket/attachments/abc"):
            r = client.get(path)
            assert r.status_code == 401 and "Ask for a new link" in r.text, path
        # A valid link for an address that is not the requester's shows nothing.
        with open_portal(host, number, unique_email("eve")) as eve:
            r = eve.get("/api/portal/ticket")
            assert r.status_code == 403 and "Printer jams" not in r.text


def test_internal_notes_and_agent_only_events_never_reach_the_portal(host: RunningHost):
    email = unique_email("notes")
    number = new_ticket(host, email)
    agent_act(host, number, "note", {"body": "INTERNAL-NOTE: requester is on probation"})
    agent_act(host, number, "escalate", {"tier": "senior-support",
                                         "reason": "INTERNAL-REASON: beyond tier 1"})
    agent_act(host, number, "reply", {"body": "We are looking into it."})
    with open_portal(host, number, email) as client:
        page = client.get("/api/portal/ticket").text
    assert "We are looking into it." in page and "It jams on page 2." in page
    assert "INTERNAL" not in page and "senior-support" not in page


def test_a_reply_without_the_forms_field_or_from_another_site_is_refused(host: RunningHost):
    email = unique_email("csrf")
    number = new_ticket(host, email)
    with open_portal(host, number, email) as client:
        token = csrf_of(client.get("/api/portal/ticket").text)
        forged = [
            client.post("/api/portal/ticket/reply", data={"body": "forged 1"}),
            client.post("/api/portal/ticket/reply", data={"body": "forged 2", "csrf": "x" * 43}),
            client.post("/api/portal/ticket/reply", data={"body": "forged 3", "csrf": token},
                        headers={"Origin": "https://evil.example"}),
            client.post("/api/portal/ticket/reply", data={"body": "forged 4", "csrf": token},
                        headers={"Sec-Fetch-Site": "cross-site"}),
            client.post("/api/portal/ticket/rating", data={"solved": "no"}),
        ]
    assert [r.status_code for r in forged] == [403] * 5
    thread = agent_view(host, number)["thread"]
    assert not [e for e in thread if e["kind"] in ("message", "rated")]


def test_a_reply_with_a_file_reopens_a_pending_ticket_for_the_agents(host: RunningHost):
    email = unique_email("reply")
    number = new_ticket(host, email)
    agent_act(host, number, "request-info", {"question": "Which tray?"})
    assert agent_view(host, number)["ticket"]["status"] == "pending"
    with open_portal(host, number, email) as client:
        page = client.get("/api/portal/ticket").text
        assert "Which tray?" in page and "Waiting for your answer" in page
        r = client.post("/api/portal/ticket/reply",
                        data={"body": "Tray 2, see the photo.", "csrf": csrf_of(page)},
                        files={"attachments": ("tray.txt", b"tray two", "text/plain")},
                        headers={"Origin": host.base_url, "Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 303 and r.headers["location"] == "/api/portal/ticket?done=reply"
        page = client.get(r.headers["location"]).text
        assert "Your message was added" in page and "Tray 2, see the photo." in page
        [file_id] = re.findall(r'/api/portal/ticket/attachments/([0-9a-zA-Z]+)"', page)
        download = client.get(f"/api/portal/ticket/attachments/{file_id}")
        assert download.content == b"tray two"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"

        # An empty message is refused readably, and nothing is stored.
        empty = client.post("/api/portal/ticket/reply",
                            data={"body": "  ", "csrf": csrf_of(page)})
        assert empty.status_code == 422 and "Write a message" in empty.text

    view = agent_view(host, number)
    assert view["ticket"]["status"] == "open"
    [message] = [e for e in view["thread"] if e["kind"] == "message"]
    assert message["body"] == "Tray 2, see the photo." and message["actor"] == email
    assert message["data"]["channel"] == "portal"
    [attached] = [a for a in view["attachments"] if a["entry"] == message["seq"]]
    assert attached["filename"] == "tray.txt" and attached["id"] == file_id


def test_a_file_too_large_is_refused_with_the_typed_text_kept(host: RunningHost):
    email = unique_email("big")
    number = new_ticket(host, email)
    with open_portal(host, number, email) as client:
        page = client.get("/api/portal/ticket").text
        r = client.post("/api/portal/ticket/reply",
                        data={"body": "Here is the <big> log", "csrf": csrf_of(page)},
                        files={"attachments": ("log.bin", b"x" * (1024 * 1024 + 1),
                                               "application/octet-stream")})
    assert r.status_code == 413 and "at most" in r.text
    assert "Here is the &lt;big&gt; log</textarea>" in r.text
    assert not [e for e in agent_view(host, number)["thread"] if e["kind"] == "message"]


def test_rating_is_taken_only_after_resolution_and_a_new_one_replaces_it(host: RunningHost):
    email = unique_email("rate")
    number = new_ticket(host, email)
    with open_portal(host, number, email) as client:
        page = client.get("/api/portal/ticket").text
        assert "Did this solve your problem?" not in page
        early = client.post("/api/portal/ticket/rating",
                            data={"solved": "yes", "csrf": csrf_of(page)})
        assert early.status_code == 409
        agent_act(host, number, "resolve", {"resolution": "Cleaned the rollers."})
        page = client.get("/api/portal/ticket").text
        assert "Did this solve your problem?" in page and "Cleaned the rollers." in page
        bad = client.post("/api/portal/ticket/rating", data={"solved": "maybe",
                                                             "csrf": csrf_of(page)})
        assert bad.status_code == 422
        r = client.post("/api/portal/ticket/rating",
                        data={"solved": "no", "comment": "Still jams.", "csrf": csrf_of(page)})
        assert r.status_code == 303 and r.headers["location"] == "/api/portal/ticket?done=rating"
        assert "Thank you for telling us" in client.get(r.headers["location"]).text
        client.post("/api/portal/ticket/rating",
                    data={"solved": "yes", "comment": "Fine now.", "csrf": csrf_of(page)})
    view = agent_view(host, number)
    assert view["ticket"]["status"] == "resolved"
    assert view["ticket"]["satisfied"] is True
    assert view["ticket"]["satisfaction_comment"] == "Fine now."
    ratings = [e for e in view["thread"] if e["kind"] == "rated"]
    assert [(e["data"]["solved"], e["body"]) for e in ratings] == [
        (False, "Still jams."), (True, "Fine now.")]


# -- a link opens a session only by a confirming POST, and only once --------------------------


def test_fetching_a_link_installs_no_session(host: RunningHost):
    """A mail scanner or a link preview fetches the link: that must open nothing."""
    email = unique_email("scanner")
    number = new_ticket(host, email)
    path = link(host, number, email)
    with host.client() as scanner:
        for _ in range(2):
            page = scanner.get(path, follow_redirects=True)
            assert page.status_code == 200 and "set-cookie" not in page.headers
            assert "Open my request" in page.text and "It jams" not in page.text
            assert 'method="post" action="/api/portal/open"' in page.text
        assert scanner.get("/api/portal/ticket").status_code == 401
    # The fetches spent nothing: the requester's press of the button still opens it.
    with host.client() as requester:
        r = confirm(requester, path)
        assert r.status_code == 303 and "It jams on page 2." in requester.get(
            "/api/portal/ticket").text


def test_a_link_opens_once_and_a_spent_one_emails_a_new_one(host: RunningHost,
                                                             maildev: MailDev):
    email = unique_email("once")
    number = new_ticket(host, email)
    [ack] = maildev.wait_to(email, 1)
    path = urlsplit(maildev.portal_link(ack["id"])).path
    with host.client() as requester:
        code = CODE.search(requester.get(path).text).group(1)  # type: ignore[union-attr]
        assert requester.post("/api/portal/open", data={"code": code}).status_code == 303
        # The same browser opening the same link again goes straight to its request.
        again = requester.get(path)
        assert again.status_code == 303 and again.headers["location"] == "/api/portal/ticket"
    # Whoever else has the link (a request log, a forwarded email) gets nothing from it.
    with host.client() as thief:
        page = thief.get(path)
        assert page.status_code == 410 and "used already" in page.text
        assert "set-cookie" not in page.headers and "It jams" not in page.text
        replay = thief.post("/api/portal/open", data={"code": code})
        assert replay.status_code == 410 and "set-cookie" not in replay.headers
        assert thief.get("/api/portal/ticket").status_code == 401
        # "Email me a new link" sends it to the requester, not to the one who asked.
        renewed = thief.post("/api/portal/renew", data={"code": code})
        assert renewed.status_code == 200 and "emailed a new link" in renewed.text
        assert number not in renewed.text
    [sent] = [m for m in maildev.wait_to(email, 2) if "Your link to" in m["subject"]]
    fresh = urlsplit(maildev.portal_link(sent["id"])).path
    assert fresh != path
    with host.client() as requester:
        assert confirm(requester, fresh).status_code == 303
        assert requester.get("/api/portal/ticket").status_code == 200


def test_a_link_emailed_before_codes_still_opens_once(host: RunningHost):
    email = unique_email("oldlink")
    number = new_ticket(host, email)
    old = "/api/portal/t/" + make_token(number, email, secret=PORTAL_SECRET,
                                        expires=datetime.now(UTC) + timedelta(days=20))
    with host.client() as client:
        assert confirm(client, old).status_code == 303
        assert "It jams on page 2." in client.get("/api/portal/ticket").text
    with host.client() as other:
        assert other.get(old).status_code == 410


def test_another_site_cannot_open_a_link_in_a_visitors_browser(host: RunningHost):
    """Login CSRF: a page of another site posts a code of its own ticket into the victim's
    browser, which would then write into the attacker's ticket."""
    email = unique_email("logincsrf")
    number = new_ticket(host, email)
    code = link(host, number, email).rsplit("/", 1)[1]
    with host.client() as victim:
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            r = victim.post("/api/portal/open", data={"code": code}, headers=headers)
            assert r.status_code == 403 and "set-cookie" not in r.headers
    with host.client() as requester:  # the code was not spent by the refused posts
        assert confirm(requester, f"/api/portal/t/{code}").status_code == 303


# -- limits on answers --------------------------------------------------------------------------


def messages_of(host: RunningHost, number: str) -> list[dict]:
    return [e for e in agent_view(host, number)["thread"] if e["kind"] == "message"]


def test_portal_replies_are_limited_per_ticket(host: RunningHost):
    from shared.portal.service import REPLIES_PER_HOUR

    email = unique_email("flood")
    number = new_ticket(host, email)
    answers = []
    with open_portal(host, number, email) as client:
        csrf = csrf_of(client.get("/api/portal/ticket").text)
        # Hourly windows: a window that turns during the run lets at most one more hour's worth.
        for i in range(2 * REPLIES_PER_HOUR + 1):
            r = client.post("/api/portal/ticket/reply", data={"body": f"ping {i}", "csrf": csrf})
            answers.append(r.status_code)
            if r.status_code == 429:
                break
    assert answers[:REPLIES_PER_HOUR] == [303] * REPLIES_PER_HOUR
    assert answers[-1] == 429, answers
    assert int(r.headers["retry-after"]) > 0
    assert f"At most {REPLIES_PER_HOUR} messages an hour" in r.text
    assert f"ping {len(answers) - 1}</textarea>" in r.text  # what was typed is kept
    assert len(messages_of(host, number)) == len(answers) - 1  # the refused one wrote nothing


def test_files_are_limited_per_ticket_not_per_reply(host: RunningHost):
    """The test host allows 3 files per ticket (HELPDESK_LIMIT_ATTACHMENTS_PER_TICKET)."""
    email = unique_email("files")
    number = new_ticket(host, email)

    def files(n: int, tag: str) -> list:
        return [("attachments", (f"{tag}{i}.txt", tag.encode(), "text/plain")) for i in range(n)]

    with open_portal(host, number, email) as client:
        csrf = csrf_of(client.get("/api/portal/ticket").text)
        first = client.post("/api/portal/ticket/reply", data={"body": "two", "csrf": csrf},
                            files=files(2, "a"))
        assert first.status_code == 303
        over = client.post("/api/portal/ticket/reply", data={"body": "two more", "csrf": csrf},
                           files=files(2, "b"))
        assert over.status_code == 422
        assert "at most 3 files" in over.text and "has 2 already" in over.text
        last = client.post("/api/portal/ticket/reply", data={"body": "one more", "csrf": csrf},
                           files=files(1, "c"))
        assert last.status_code == 303
    view = agent_view(host, number)
    assert sorted(a["filename"] for a in view["attachments"]) == ["a0.txt", "a1.txt", "c0.txt"]
    assert [m["body"] for m in messages_of(host, number)] == ["two", "one more"]
