"""The acknowledgement email through a real SMTP sink (MailDev)."""

from __future__ import annotations

from email import message_from_bytes, policy

from shared.core.events import TicketEvent
from shared.core.models import EntryKind
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_event
from shared.tickets import intake
from tests.conftest import unique_email
from tests.support import MailDev


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
