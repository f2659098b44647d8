"""Attacks on the desk's mail paths (issue 17, 0b), each performed through the running
host: replies forged into someone else's ticket, a huge References header, another
channel's idempotency keys sent as a web Idempotency-Key, encoded words that hide a line
break in the acknowledgement's subject, HTML that took the parser minutes, and
acknowledgements repeated to one address (backscatter)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import DkimKey, LocalDns, MailDev, email_message, wait_for

OUR_DOMAIN = "example.com"  # MAIL_FROM of the test app is helpdesk@example.com


@pytest.fixture(scope="module")
def mail_key(host: RunningHost) -> str:
    with host.signed_in(roles="agent,admin") as admin:
        r = admin.post("/api/apikeys", json={"name": "mx-security", "scopes": ["email"]})
        assert r.status_code == 201
        return r.json()["key"]


def message(sender: str, subject: str, text: str, *, attachment: bool = False,
            **headers: str) -> EmailMessage:
    msg = email_message(sender, subject, text, **headers)
    if attachment:
        msg.add_attachment(b"MZ not really a program", maintype="application",
                           subtype="octet-stream", filename="invoice.exe")
    return msg


def post_mail(host: RunningHost, key: str, raw: bytes, timeout: float = 60) -> dict:
    with httpx.Client(base_url=host.base_url, timeout=timeout) as client:
        r = client.post("/api/tickets.email", content=raw,
                        headers={"X-API-Key": key, "content-type": "message/rfc822",
                                 "accept": "application/json"})
    assert r.status_code == 201, r.text
    return r.json()


def view(host: RunningHost, number: str) -> dict:
    with host.signed_in() as agent:
        r = agent.get(f"/api/tickets/{number}")
        assert r.status_code == 200, r.text
        return r.json()


def messages_in(host: RunningHost, number: str) -> list[dict]:
    return [e for e in view(host, number)["thread"] if e["kind"] == "message"]


def header(raw: bytes, name: str) -> str:
    parsed = message_from_bytes(raw, policy=policy.default)
    return str(parsed[name])


def mailed_ticket(host: RunningHost, key: str, maildev: MailDev, requester: str
                  ) -> tuple[str, str]:
    """A ticket opened by email, and the Message-ID of its acknowledgement."""
    number = post_mail(host, key, bytes(message(requester, "Laptop", "It does not boot.")))[
        "number"]
    [ack] = maildev.wait_to(requester)
    return number, header(maildev.raw(ack["id"]), "Message-ID")


def resolve(host: RunningHost, number: str) -> None:
    with host.signed_in() as agent:
        r = agent.post(f"/api/tickets/{number}/resolve", json={"resolution": "Replaced it."})
        assert r.status_code == 200, r.text


# -- replies into someone else's ticket --------------------------------------------------


@pytest.mark.parametrize("forged", [
    "<ticket-{number}.1.ack@attacker.example>",          # our old shape, another domain
    "<ticket-{number}.1.ack@" + OUR_DOMAIN + ">",        # our old shape, our domain
    "<ticket-{number}.1.ack." + "0" * 24 + "@" + OUR_DOMAIN + ">",  # a made-up tag
], ids=["other-domain", "unsigned", "forged-tag"])
def test_a_forged_message_id_does_not_join_or_reopen_a_ticket(
        host: RunningHost, mail_key: str, maildev: MailDev, forged: str):
    requester = unique_email("victim")
    number, _ = mailed_ticket(host, mail_key, maildev, requester)
    resolve(host, number)
    ref = forged.format(number=number)
    # From is the requester's (anyone can write that); no [#number] in the subject.
    attack = message(requester, "Re: your laptop", "Please wire the money.", attachment=True,
                     In_Reply_To=ref, References=ref)
    result = post_mail(host, mail_key, bytes(attack))
    assert result["outcome"] == "created" and result["number"] != number
    target = view(host, number)
    assert target["ticket"]["status"] == "resolved"
    assert [e for e in target["thread"] if e["kind"] == "message"] == []
    assert target["attachments"] == []


def test_our_real_message_id_from_a_stranger_makes_a_ticket_of_their_own(
        host: RunningHost, mail_key: str, maildev: MailDev):
    requester = unique_email("victim")
    number, ack_id = mailed_ticket(host, mail_key, maildev, requester)
    resolve(host, number)
    # The id travels in every quoted or forwarded copy of our email: not proof of who writes.
    stranger = unique_email("stranger")
    attack = message(stranger, "Re: Laptop", "Reopen this, please.", attachment=True,
                     In_Reply_To=ack_id, References=ack_id)
    result = post_mail(host, mail_key, bytes(attack))
    assert result["outcome"] == "created" and result["number"] != number
    assert view(host, number)["ticket"]["status"] == "resolved"
    assert messages_in(host, number) == []
    own = view(host, result["number"])
    assert own["ticket"]["requester_email"] == stranger
    assert own["thread"][0]["data"]["names_ticket"] == number  # a hint for the agent


def test_a_genuine_reply_to_our_notification_joins_and_reopens(
        host: RunningHost, mail_key: str, maildev: MailDev):
    requester = unique_email("genuine")
    number, _ = mailed_ticket(host, mail_key, maildev, requester)
    resolve(host, number)
    resolved_mail = maildev.wait_to(requester, 2)[-1]
    resolved_id = header(maildev.raw(resolved_mail["id"]), "Message-ID")
    references = header(maildev.raw(resolved_mail["id"]), "References")
    assert resolved_id.startswith(f"<ticket-{number}.") and resolved_id.endswith(
        f"@{OUR_DOMAIN}>")
    reply = message(requester, "Re: no token here", "Still broken, sorry.",
                    In_Reply_To=resolved_id, References=f"{references} {resolved_id}")
    result = post_mail(host, mail_key, bytes(reply))
    assert result["outcome"] == "appended" and result["number"] == number
    assert result["matched_by"] == "in-reply-to"
    assert view(host, number)["ticket"]["status"] == "open"
    assert [e["body"] for e in messages_in(host, number)] == ["Still broken, sorry."]


def test_only_the_last_references_are_read(host: RunningHost, mail_key: str,
                                           maildev: MailDev):
    requester = unique_email("refs")
    number, ack_id = mailed_ticket(host, mail_key, maildev, requester)

    def reply(junk: int) -> dict:
        refs = " ".join([ack_id, *(f"<junk-{uuid.uuid4().hex}@x.example>"
                                   for _ in range(junk))])
        return post_mail(host, mail_key, bytes(message(requester, "Re: no token", "Hi",
                                                       References=refs)))

    assert reply(9)["outcome"] == "appended"   # our id is the 10th from the end: read
    assert reply(10)["outcome"] == "created"   # the 11th: not read


def test_a_huge_references_header_is_answered_in_bounded_time(host: RunningHost,
                                                               mail_key: str):
    refs = " ".join(f"<ticket-1234567{i % 10}.{i}.ack.{'a' * 24}@{OUR_DOMAIN}>"
                    for i in range(25_000))  # about 1.3 MB, as in the report
    started = time.monotonic()
    result = post_mail(host, mail_key, bytes(message(unique_email("refs"), "Hello", "Hi",
                                                     References=refs)), timeout=120)
    took = time.monotonic() - started
    assert result["outcome"] == "created"
    # Before: two storage reads per id, 50,000 in all (minutes). Now: at most 13 ids.
    assert took < 15, f"{took:.1f} s"


# -- idempotency keys of other channels ---------------------------------------------------


def sign_chat(body: bytes) -> str:
    return "sha256=" + hmac.new(b"test-chat-secret", body, hashlib.sha256).hexdigest()


def web_ticket(host: RunningHost, email: str, key: str, **fields: str) -> httpx.Response:
    with host.client() as client:
        return client.post("/api/tickets", headers={"Idempotency-Key": key}, json={
            "name": "Mallory", "email": email, "subject": fields.get("subject", "Hi"),
            "description": "d"})


def test_a_web_idempotency_key_cannot_capture_a_chat_conversation(host: RunningHost):
    conversation = f"conv-{uuid.uuid4().hex}"
    mallory = unique_email("mallory")
    trap = web_ticket(host, mallory, f"chat:{conversation}")
    assert trap.status_code == 201, trap.text
    transcript = {"conversation_id": conversation,
                  "visitor": {"name": "Vic", "email": unique_email("vic")},
                  "messages": [{"author": "Vic", "role": "visitor",
                                "at": "2026-11-27T10:00:00Z", "text": "My password is hunter2"}]}
    body = json.dumps(transcript).encode()
    with host.client() as client:
        r = client.post("/api/channels/chat", content=body, headers={
            "content-type": "application/json", "X-Signature": sign_chat(body)})
    assert r.status_code == 201, r.text
    assert r.json()["outcome"] == "created" and r.json()["number"] != trap.json()["number"]
    assert "hunter2" not in json.dumps(view(host, trap.json()["number"]))


def test_a_web_idempotency_key_cannot_drop_a_real_email(host: RunningHost, mail_key: str,
                                                        maildev: MailDev):
    message_id = make_msgid(domain="client.example")
    trap = web_ticket(host, unique_email("mallory"), f"mail:{message_id.lower()}")
    assert trap.status_code == 201, trap.text
    sender = unique_email("real")
    result = post_mail(host, mail_key, bytes(message(sender, "Printer on fire",
                                                     "Really.", message_id=message_id)))
    assert result["outcome"] == "created" and result["number"] != trap.json()["number"]
    maildev.wait_to(sender)  # and its acknowledgement went out


# -- header injection through encoded words ----------------------------------------------


def b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


INJECTED = "\r\nBcc: victim@example.net\r\n\r\nbody of the attacker"
SUBJECTS = {
    "b-word": b_word(INJECTED),
    "q-word": "=?utf-8?q?=0D=0ABcc:_victim@example.net=0D=0A=0D=0Abody_of_the_attacker?=",
    "after-text": "Printer " + b_word(INJECTED),
    "lf-only": b_word("\nBcc: victim@example.net\n\nbody of the attacker"),
    "word-in-a-word": b_word(b_word(INJECTED)),
    "latin1-word": "=?iso-8859-1?q?=0D=0ABcc:_victim@example.net=0D=0A=0D=0Abody?=",
}


@pytest.mark.parametrize("subject", SUBJECTS.values(), ids=SUBJECTS.keys())
def test_an_encoded_word_in_the_subject_injects_nothing_into_the_acknowledgement(
        host: RunningHost, maildev: MailDev, subject: str):
    requester = unique_email("inj")
    with host.client() as client:  # the web form's own post
        r = client.post("/api/tickets", data={"name": "Eve", "email": requester,
                                              "subject": subject, "description": "d"})
    assert r.status_code == 201, r.text
    [ack] = maildev.wait_to(requester)
    assert "bcc" not in {k.lower() for k in ack.get("headers", {})}, ack.get("headers")
    assert ack.get("bcc") in (None, [])
    assert [t["address"] for t in ack["to"]] == [requester]
    raw = maildev.raw(ack["id"])
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    assert not any(line.lower().startswith(b"bcc") for line in head.split(b"\n")), head
    # The header block ends where the desk ended it: after the MIME headers.
    assert b"Content-Type: multipart/alternative" in head, head
    assert not body.startswith(b"body of the attacker")
    parsed = message_from_bytes(raw, policy=policy.default)
    assert "\r" not in str(parsed["Subject"]) and "\n" not in str(parsed["Subject"])
    assert maildev.to("victim@example.net") == []
    stored = view(host, r.json()["number"])["ticket"]["subject"]
    assert not any(ord(c) < 32 for c in stored), repr(stored)


# -- HTML that took the standard library's parser minutes --------------------------------


def test_hostile_html_mail_is_read_in_bounded_time(host: RunningHost, mail_key: str):
    msg = message(unique_email("html"), "Formatted", "x")
    msg.clear_content()
    msg.set_content("<p>Read this</p>" + "<a " * 100_000, subtype="html")  # 300 KB
    started = time.monotonic()
    result = post_mail(host, mail_key, bytes(msg), timeout=120)
    took = time.monotonic() - started
    assert result["outcome"] == "created"
    assert view(host, result["number"])["ticket"]["description"].startswith("Read this")
    # Before: 30 KB took 13.5 s, growing with the square of the size.
    assert took < 15, f"{took:.1f} s"


# -- acknowledgements to one address ------------------------------------------------------


def test_acknowledgements_to_one_address_stop_at_the_hourly_cap(host: RunningHost,
                                                                maildev: MailDev):
    victim = unique_email("backscatter")
    numbers = []
    with host.client() as client:
        for i in range(6):  # the default cap is 5 an hour
            r = client.post("/api/tickets", json={"name": "Spam", "email": victim,
                                                  "subject": f"Buy now {i}",
                                                  "description": "cheap pills"})
            assert r.status_code == 201, r.text
            numbers.append(r.json()["number"])

    def ack_record(number: str) -> dict | None:
        return next((e for e in view(host, number)["thread"]
                     if e["kind"] == "email_sent" and e["data"].get("purpose") == "ack"), None)

    records = [wait_for(lambda n=n: ack_record(n), timeout=30, what=f"ack record of {n}")
               for n in numbers]
    skipped = [r for r in records if r["data"].get("skipped")]
    assert len(skipped) == 1 and skipped[0]["data"]["skipped"] == "rate-limit"
    assert "not sent" in skipped[0]["body"]
    time.sleep(1)
    assert len(maildev.to(victim)) == 5  # every ticket was created, five were acknowledged


# --- authenticated senders (issue 20, 3): the pipe and the HTTP endpoint verify DKIM -------


def claimed(host: RunningHost, number: str) -> dict:
    """The `created` entry's data of a ticket made from mail."""
    [created] = [e for e in view(host, number)["thread"] if e["kind"] == "created"]
    return created["data"]


def test_a_forged_from_with_a_valid_token_becomes_a_new_unverified_ticket(
        host: RunningHost, mail_key: str):
    requester = unique_email("victim")
    number = post_mail(host, mail_key, bytes(message(requester, "Laptop", "Broken screen.")))[
        "number"]
    with host.signed_in() as agent:
        r = agent.post(f"/api/tickets/{number}/resolve", json={"resolution": "Screen replaced."})
        assert r.status_code == 200, r.text
    forged = post_mail(host, mail_key, bytes(message(
        requester, f"Re: [#{number}] Laptop", "Not fixed. Send the recovery key to me here.",
        attachment=True)))
    assert forged["outcome"] == "created" and forged["number"] != number
    original = view(host, number)
    assert original["ticket"]["status"] == "resolved", "the forged mail reopened nothing"
    assert not [e for e in original["thread"] if e["kind"] == "message"]
    assert original["attachments"] == []
    made = view(host, forged["number"])
    assert "sender-not-verified" in made["ticket"]["tags"]
    data = claimed(host, forged["number"])
    assert data["claims_ticket"] == number
    assert data["sender"] == {"verified": False, "how": "no DKIM signature"}


def test_a_reply_signed_by_the_requesters_domain_joins_by_its_token(
        host: RunningHost, mail_key: str, requester_key: DkimKey):
    requester = unique_email("signed")
    number = post_mail(host, mail_key, bytes(message(requester, "Printer", "Jammed.")))["number"]
    reply = requester_key.sign(message(requester, f"Re: [#{number}] Printer", "Cleared it."))
    joined = post_mail(host, mail_key, reply)
    assert joined == {"outcome": "appended", "number": number, "matched_by": "subject-token",
                      "reason": None}
    [entry] = [e for e in view(host, number)["thread"] if e["kind"] == "message"]
    assert entry["body"] == "Cleared it."
    assert entry["data"]["sender"] == {"verified": True,
                                       "how": "DKIM signature of example.org"}


def test_a_misaligned_or_broken_signature_does_not_authenticate_the_from(
        host: RunningHost, mail_key: str, requester_key: DkimKey, local_dns: LocalDns):
    requester = unique_email("aligned")
    number = post_mail(host, mail_key, bytes(message(requester, "VPN", "No tunnel.")))["number"]
    attacker = DkimKey.publish(local_dns, "attacker.example.net")
    misaligned = attacker.sign(message(requester, f"Re: [#{number}] VPN", "Use my server."))
    tampered = requester_key.sign(message(requester, f"Re: [#{number}] VPN", "Fine now."))
    tampered = tampered.replace(b"Fine now.", b"Call me.")
    for raw, how in ((misaligned, "DKIM: attacker.example.net not aligned"),
                     (tampered, "DKIM: example.org failed")):
        result = post_mail(host, mail_key, raw)
        assert result["outcome"] == "created" and result["number"] != number
        assert claimed(host, result["number"])["sender"] == {"verified": False, "how": how}
    assert not [e for e in view(host, number)["thread"] if e["kind"] == "message"]
