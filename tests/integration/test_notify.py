"""The acknowledgement email through a real SMTP sink (MailDev)."""

from __future__ import annotations

from email import message_from_bytes, policy

from shared.core.events import TicketEvent
from shared.core.models import EntryKind
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_event
from shared.tickets import intake
from tests.conftest import unique_email
from tests.support import MailDev, wait_for


async def test_acknowledgement_is_sent_once_and_recorded_in_the_thread(desk: Helpdesk,
                                                                      maildev: MailDev):
    email = unique_email("ack")
    created = await intake.submit_ticket(
        {"name": "Grace <Hopper>", "email": email, "subject": "VPN down",
         "description": "Since 9:00 <b>nothing</b> works."}, [], desk=desk)
    event = TicketEvent(ticket=created.number, seq=1, kind="created")

    await handle_event(event, desk=desk)
    await handle_event(event, desk=desk)  # the queue delivered it twice

    [mail] = maildev.wait_to(email)
    assert mail["subject"] == f"[#{created.number}] VPN down"
    raw = message_from_bytes(maildev.raw(mail["id"]), policy=policy.default)
    text = raw.get_body(("plain",)).get_content()
    html = raw.get_body(("html",)).get_content()
    assert created.number in text and "Since 9:00 <b>nothing</b> works." in text
    assert "&lt;b&gt;nothing&lt;/b&gt;" in html and "<b>nothing</b>" not in html
    assert raw["Auto-Submitted"] == "auto-generated"

    stored = await desk.tickets.get(created.number)
    assert stored is not None
    sent = [e for e in stored.thread if e.kind == EntryKind.EMAIL_SENT]
    assert len(sent) == 1
    assert sent[0].data["message_id"] == raw["Message-ID"]
    assert sent[0].data["to"] == email


async def test_two_deliveries_at_once_send_one_email(desk: Helpdesk, maildev: MailDev):
    import asyncio

    from shared.notifications.notify import MailInProgress

    email = unique_email("race")
    created = await intake.submit_ticket(
        {"name": "R", "email": email, "subject": "Race", "description": "d"}, [], desk=desk)
    event = TicketEvent(ticket=created.number, seq=1, kind="created")
    results = await asyncio.gather(*(handle_event(event, desk=desk) for _ in range(4)),
                                   return_exceptions=True)
    # One sends; the others either found it sent or were told to retry later.
    assert all(r is None or isinstance(r, MailInProgress) for r in results), results
    for _ in range(2):  # the queue's retries of those that were told to wait
        await handle_event(event, desk=desk)
    maildev.wait_to(email)
    await asyncio.sleep(1)
    assert len(maildev.to(email)) == 1


async def test_a_reply_delivered_twice_sends_each_participant_one_copy(desk: Helpdesk,
                                                                       maildev: MailDev):
    """The requester's copy shows the collaborators on Cc and goes to the requester alone;
    each collaborator's copy is its own email, recorded under its own key, so a
    redelivered event sends none of them again."""
    from shared.tickets import actionbodies, collaborators, workflow

    requester, first, second = (unique_email("nreq"), unique_email("ncc1"),
                                unique_email("ncc2"))
    created = await intake.submit_ticket(
        {"name": "Nia", "email": requester, "subject": "Copies", "description": "d"}, [],
        desk=desk)
    for address in (first, second):
        await collaborators.add(created.number, address, actor="agent1", via="agent",
                                if_match=None, desk=desk)
    view = await workflow.act(created.number, workflow.Action.REPLY,
                              actionbodies.parse_body(workflow.Action.REPLY, {"body": "Answer"}),
                              actor="agent1", roles=frozenset({"agent"}), if_match=None,
                              desk=desk)
    [reply] = [e for e in view.thread if e.kind == EntryKind.REPLY]
    event = TicketEvent(ticket=created.number, seq=reply.seq, kind="reply")
    await handle_event(event, desk=desk)
    await handle_event(event, desk=desk)

    def envelope(message: dict) -> list[str]:
        return [t["address"] for t in message["envelope"]["to"]]

    def copies() -> list[dict]:  # every copy shows the requester as its To
        return [m for m in maildev.messages()
                if m["subject"].startswith(f"Re: [#{created.number}]")]

    sent = wait_for(lambda: len(found := copies()) >= 3 and found, what="three copies")
    assert [m["subject"] for m in maildev.to(requester)] == [f"Re: [#{created.number}] Copies"]
    by_recipient = sorted(envelope(m)[0] for m in sent)
    assert by_recipient == sorted([requester, first, second])
    for message in sent:
        raw = message_from_bytes(maildev.raw(message["id"]), policy=policy.default)
        assert str(raw["To"]) == requester and str(raw["Cc"]) == f"{first}, {second}"
        assert bool(raw["List-Unsubscribe"]) == (envelope(message)[0] != requester)
    stored = await desk.tickets.get(created.number)
    assert stored is not None
    records = [e.data["to"] for e in stored.thread if e.kind == EntryKind.EMAIL_SENT
               and e.seq == event.seq]
    assert sorted(records) == sorted([requester, first, second])
