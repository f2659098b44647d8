"""osTicket's own mail pipe scripts, pointed unchanged at /api/tickets.email, deliver every
message the desk accepts: new mail, a reply, a redelivery and an auto-reply.

The scripts (osTicket's setup/scripts/automail.php and automail.pl) are not run here (no
PHP, no Perl's LWP on these machines); their rule is copied below as data and applied to
the running host's real answers, sent the way each script sends them.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.e2e.test_email_channel import message, thread
from tests.support import MailDev

# The scripts' rule, copied (osTicket 1.14 to 1.18): the mail server's exit code for each
# HTTP status. 201 is the only success; a status not listed, 200 included, is 75 ("try
# again later"), as is an answer whose status line automail.php cannot find.
EXIT_CODES = {201: 0, 400: 66, 401: 77, 403: 77, 415: 65, 416: 65, 417: 65, 501: 65, 503: 69}
# automail.php reads the status out of curl's raw answer (CURLOPT_HEADER) with this pattern
# (PCRE's `.` does not cross a line end, like Python's).
PHP_STATUS = re.compile(r"HTTP/.* ([0-9]+) .*")


def exit_code(status: int | None) -> int:
    return EXIT_CODES.get(status, 75) if status is not None else 75


def automail_php(host: RunningHost, key: str, raw: bytes) -> tuple[int, str]:
    """The exit code automail.php gives the mail server, and the answer's body.

    As its curl call sends it: the message as CURLOPT_POSTFIELDS (so form-urlencoded),
    `Expect:` emptied, curl's `Accept: */*`, redirects not followed."""
    url = urlsplit(host.base_url)
    head = (f"POST /api/tickets.email HTTP/1.1\r\nHost: {url.netloc}\r\n"
            "User-Agent: osTicket API Client v1.14\r\nAccept: */*\r\n"
            f"X-API-Key: {key}\r\nContent-Length: {len(raw)}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n")
    with socket.create_connection((url.hostname, url.port), timeout=60) as conn:
        conn.sendall(head.encode() + raw)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    text = answer.decode("latin-1")
    found = PHP_STATUS.search(text)
    return exit_code(int(found.group(1)) if found else None), text.partition("\r\n\r\n")[2]


def automail_pl(host: RunningHost, key: str, raw: bytes) -> int:
    """The exit code automail.pl gives: LWP's POST with `Content_Type => 'text/plain'`."""
    with httpx.Client(base_url=host.base_url, timeout=60, follow_redirects=False) as client:
        del client.headers["Accept"]  # LWP sends none
        r = client.post("/api/tickets.email", content=raw, headers={
            "User-Agent": "osTicket API Client v1.14", "X-API-Key": key,
            "Content-Type": "text/plain"})
    return exit_code(r.status_code)


SCRIPTS = {"automail.php": lambda host, key, raw: automail_php(host, key, raw)[0],
           "automail.pl": automail_pl}


@pytest.fixture(scope="module")
def pipe_key(host: RunningHost) -> str:
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/apikeys", json={"name": "osticket-pipe", "scopes": ["email"]})
        assert r.status_code == 201
        return r.json()["key"]


def test_the_rule_copied_is_the_scripts_rule():
    # The copy itself: only 201 delivers; 200, the answer that made replies bounce, retries.
    assert [s for s in range(100, 600) if exit_code(s) == 0] == [201]
    assert exit_code(200) == exit_code(500) == exit_code(None) == 75
    assert exit_code(401) == exit_code(403) == 77


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_new_mail_a_reply_a_redelivery_and_an_auto_reply_are_delivered(
        host: RunningHost, pipe_key: str, maildev: MailDev, script: str):
    deliver = SCRIPTS[script]
    sender = unique_email("automail")
    first = message(sender, "Laptop will not boot", "Black screen since this morning.")
    assert deliver(host, pipe_key, bytes(first)) == 0
    [ack] = maildev.wait_to(sender)
    number = ack["subject"].split("[#")[1].split("]")[0]
    assert deliver(host, pipe_key, bytes(first)) == 0  # the mail server delivered it twice

    ack_id = next(line.split(":", 1)[1].strip() for line in
                  maildev.raw(ack["id"]).decode().splitlines()
                  if line.lower().startswith("message-id:"))
    reply = message(sender, "Re: Laptop will not boot", "It shows error 0xc0000001.",
                    In_Reply_To=ack_id, References=ack_id)
    assert deliver(host, pipe_key, bytes(reply)) == 0
    assert deliver(host, pipe_key, bytes(reply)) == 0  # and the reply twice

    away = message(sender, f"Automatic reply: [#{number}]", "I am out of the office.",
                   Auto_Submitted="auto-replied")
    assert deliver(host, pipe_key, bytes(away)) == 0

    assert len(host.tickets_of(sender)) == 1
    bodies = [e["body"] for e in thread(host, number) if e["kind"] == "message"]
    assert bodies == ["It shows error 0xc0000001."]
    assert len(maildev.to(sender)) == 1  # the auto-reply got no answer
    assert deliver(host, "hd_not_a_key", bytes(message(sender, "x", "y"))) == 77


def test_the_answer_is_the_ticket_number_as_osticket_gives_it(host: RunningHost, pipe_key: str):
    sender = unique_email("number")
    code, body = automail_php(host, pipe_key, bytes(message(sender, "Printer", "Jammed.")))
    assert code == 0
    [ticket] = host.tickets_of(sender)
    assert body.strip() == ticket["PartitionKey"]
    code, body = automail_php(host, pipe_key, bytes(message(sender, "Out of office", "Away",
                                                            Auto_Submitted="auto-replied")))
    assert (code, body) == (0, "")  # dropped, so no ticket to name


def test_a_client_that_asks_for_json_gets_the_details(host: RunningHost, pipe_key: str):
    sender = unique_email("json")
    msg = message(sender, "Monitor", "Flickers.")
    with host.client() as client:
        headers = {"X-API-Key": pipe_key, "Content-Type": "message/rfc822",
                   "Accept": "application/json"}
        created = client.post("/api/tickets.email", content=bytes(msg), headers=headers)
        again = client.post("/api/tickets.email", content=bytes(msg), headers=headers)
    assert (created.status_code, again.status_code) == (201, 201)
    assert created.json()["outcome"] == "created"
    assert again.json() == {**created.json(), "outcome": "duplicate",
                            "matched_by": again.json()["matched_by"]}
    assert again.headers["X-Helpdesk-Outcome"] == "duplicate"
