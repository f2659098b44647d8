"""The email channel through the running host: the pipe command, threading, duplicates,
auto-replies and bounces."""

from __future__ import annotations

import os
import subprocess
import sys
from email.message import EmailMessage

import pytest

from tests.conftest import ROOT, unique_email
from tests.e2e.conftest import RunningHost
from tests.support import DkimKey, MailDev, email_message

PIPE = str(ROOT / "tools" / "mailpipe.py")


@pytest.fixture(scope="module")
def mail_key(host: RunningHost) -> str:
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/apikeys", json={"name": "mx", "scopes": ["email"]})
        assert r.status_code == 201
        return r.json()["key"]


def message(sender: str, subject: str, text: str, **headers: str) -> EmailMessage:
    return email_message(sender, subject, text, name="Sender Name", **headers)


def pipe(host: RunningHost, key: str, raw: bytes, url: str | None = None
         ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, PIPE, "--url", url or f"{host.base_url}/api/tickets.email"],
        input=raw, capture_output=True, timeout=60, env={**os.environ, "HELPDESK_API_KEY": key})


def post(host: RunningHost, key: str, msg: EmailMessage | bytes) -> dict:
    with host.client() as client:
        r = client.post("/api/tickets.email", content=bytes(msg),
                        headers={"X-API-Key": key, "content-type": "message/rfc822",
                                 "Accept": "application/json"})
    assert r.status_code == 201, r.text
    return r.json()


def thread(host: RunningHost, number: str) -> list[dict]:
    with host.signed_in() as agent:
        return agent.get(f"/api/tickets/{number}").json()["thread"]


def test_piped_mail_becomes_a_ticket_and_the_reply_to_our_ack_joins_it(
        host: RunningHost, mail_key: str, maildev: MailDev):
    sender = unique_email("mail")
    first = message(sender, "Outlook keeps crashing", "It crashes when I open the calendar.")
    done = pipe(host, mail_key, bytes(first))
    assert done.returncode == 0, done.stderr
    [ack] = maildev.wait_to(sender)
    number = ack["subject"].split("[#")[1].split("]")[0]

    again = pipe(host, mail_key, bytes(first))  # the MTA delivered it twice
    assert again.returncode == 0
    assert len(host.tickets_of(sender)) == 1

    raw_ack = maildev.raw(ack["id"]).decode()
    ack_id = next(line.split(":", 1)[1].strip() for line in raw_ack.splitlines()
                  if line.lower().startswith("message-id:"))
    reply = message(sender, "Re: something else entirely",
                    "Here is the crash log.\n\nOn Mon, Nov 27, 2026 at 10:02 AM Help Desk "
                    "<helpdesk@example.com> wrote:\n> ##- Please type your "
                    "reply above this line -##\n> we have received your request",
                    In_Reply_To=ack_id, References=ack_id)
    result = post(host, mail_key, reply)
    assert result["outcome"] == "appended" and result["number"] == number
    assert result["matched_by"] == "in-reply-to"
    entries = [e for e in thread(host, number) if e["kind"] == "message"]
    assert len(entries) == 1
    assert entries[0]["body"] == "Here is the crash log."
    assert entries[0]["data"]["matched_by"] == "in-reply-to"
    assert entries[0]["data"]["quoted"] == (  # what was cut, kept for the agent to check
        "On Mon, Nov 27, 2026 at 10:02 AM Help Desk <helpdesk@example.com> wrote:\n"
        "> ##- Please type your reply above this line -##\n> we have received your request")
    assert post(host, mail_key, reply)["outcome"] == "duplicate"
    assert len([e for e in thread(host, number) if e["kind"] == "message"]) == 1


def test_a_subject_token_joins_only_from_the_requester(host: RunningHost, mail_key: str,
                                                        requester_key: DkimKey):
    requester = unique_email("tok")
    created = post(host, mail_key, message(requester, "Printer", "Broken."))
    number = created["number"]
    stranger = post(host, mail_key, requester_key.sign(message(
        unique_email("stranger"), f"Re: [#{number}]", "I want to see this ticket")))
    assert stranger["outcome"] == "created" and stranger["number"] != number
    own = post(host, mail_key, requester_key.sign(
        message(requester, f"Re: [#{number}] Printer", "Still broken")))
    assert own["outcome"] == "appended" and own["matched_by"] == "subject-token"


def test_a_reply_to_a_pending_ticket_reopens_it(host: RunningHost, mail_key: str,
                                                 requester_key: DkimKey):
    requester = unique_email("pend")
    number = post(host, mail_key, message(requester, "VPN", "No VPN."))["number"]
    with host.signed_in() as agent:
        r = agent.post(f"/api/tickets/{number}/request-info", json={"question": "Which OS?"})
        assert r.json()["ticket"]["status"] == "pending"
    post(host, mail_key, requester_key.sign(message(requester, f"Re: [#{number}] VPN",
                                                    "Windows 11")))
    with host.signed_in() as agent:
        assert agent.get(f"/api/tickets/{number}").json()["ticket"]["status"] == "open"


def test_a_reply_to_a_closed_ticket_starts_a_follow_up_that_names_it(
        host: RunningHost, mail_key: str, requester_key: DkimKey):
    requester = unique_email("closed")
    number = post(host, mail_key, message(requester, "Scanner", "No scans."))["number"]
    with host.signed_in() as agent:
        assert agent.post(f"/api/tickets/{number}/resolve",
                          json={"resolution": "Driver reinstalled."}).status_code == 200
        assert agent.post(f"/api/tickets/{number}/close", json={}).status_code == 200
    follow = post(host, mail_key, requester_key.sign(
        message(requester, f"Re: [#{number}] Scanner", "Again.")))
    assert follow["outcome"] == "created" and follow["number"] != number
    [created] = [e for e in thread(host, follow["number"]) if e["kind"] == "created"]
    assert created["data"]["follow_up_of"] == number
    with host.signed_in() as agent:
        assert agent.get(f"/api/tickets/{number}").json()["ticket"]["status"] == "closed"


def test_an_html_mail_keeps_a_text_version_and_its_sanitised_html(host: RunningHost,
                                                                   mail_key: str):
    msg = message(unique_email("html"), "Formatted", "plain part")
    msg.clear_content()
    msg.set_content("<p>Hello <b>team</b></p><script>alert(1)</script>", subtype="html")
    number = post(host, mail_key, msg)["number"]
    with host.signed_in() as agent:
        view = agent.get(f"/api/tickets/{number}").json()
    assert view["ticket"]["description"] == "Hello team"
    blob_name = view["thread"][0]["data"]["html_blob"]
    from azure.storage.blob import BlobClient
    html = BlobClient.from_connection_string(host.storage, "attachments", blob_name
                                             ).download_blob().readall().decode()
    assert "<b>team</b>" in html and "script" not in html


def test_auto_replies_make_no_ticket_and_get_no_answer(host: RunningHost, mail_key: str,
                                                       maildev: MailDev):
    sender = unique_email("ooo")
    for headers in ({"Auto_Submitted": "auto-replied"}, {"Precedence": "bulk"},
                    {"X_Auto_Response_Suppress": "All"}):
        result = post(host, mail_key, message(sender, "Out of office", "Back Monday",
                                              **headers))
        assert result["outcome"] == "ignored"
    ours = post(host, mail_key, message("helpdesk@example.com", "loop", "from ourselves"))
    assert ours["outcome"] == "ignored"
    assert host.tickets_of(sender) == [] and maildev.to(sender) == []


def test_a_bounce_is_noted_on_its_ticket(host: RunningHost, mail_key: str, maildev: MailDev):
    requester = unique_email("gone")
    number = post(host, mail_key, message(requester, "Hello", "Hi"))["number"]
    [ack] = maildev.wait_to(requester)
    raw_ack = maildev.raw(ack["id"])
    dsn = (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: helpdesk@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{number}@mx.example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {requester}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\n"
    ).encode() + raw_ack + b"\r\n--B--\r\n"
    with host.client() as client:
        r = client.post("/api/tickets.email", content=dsn,
                        headers={"X-API-Key": mail_key, "content-type": "message/rfc822",
                                 "Accept": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["outcome"] == "bounce-noted" and r.json()["number"] == number
    notes = [e for e in thread(host, number) if e["kind"] == "note"]
    assert len(notes) == 1 and requester in notes[0]["body"] and "5.1.1" in notes[0]["body"]
    assert len(maildev.to(requester)) == 1  # no answer to the bounce


def test_the_pipe_tells_the_mail_server_what_to_do(host: RunningHost, mail_key: str):
    msg = bytes(message(unique_email("pipe"), "x", "y"))
    assert pipe(host, "hd_bad_key", msg).returncode == 77
    assert pipe(host, mail_key, b"not a message at all").returncode == 65
    down = "http://127.0.0.1:9/api/tickets.email"
    assert pipe(host, mail_key, msg, url=down).returncode == 75
