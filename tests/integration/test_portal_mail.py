"""Portal links in email, against Azurite and MailDev: every email to the requester
carries a working link, and "check a ticket" mails one only to the ticket's own address."""

from __future__ import annotations

import dataclasses
import re
import uuid
from email import message_from_bytes, policy

from shared.core.actions import ENTRY_KINDS
from shared.core.events import LinkRequest, TicketEvent
from shared.core.lifecycle import Action
from shared.core.links import read_code
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_event
from shared.portal import service
from shared.storage.clients import RATELIMIT_TABLE
from shared.storage.ratelimit import RateLimiter
from shared.tickets import actionbodies, intake, workflow
from tests.conftest import unique_email
from tests.support import MailDev

LINK = re.compile(r"View or answer your request: (\S+/api/portal/t/(\S+))")


def mail_text(maildev: MailDev, mail: dict) -> tuple[str, str]:
    raw = message_from_bytes(maildev.raw(mail["id"]), policy=policy.default)
    return raw.get_body(("plain",)).get_content(), raw.get_body(("html",)).get_content()


def link_in(desk: Helpdesk, text: str, number: str, email: str) -> str:
    match = LINK.search(text)
    assert match, text
    assert match.group(1).startswith(desk.settings.public_base_url.rstrip("/") + "/api/portal/t/")
    grant = read_code(match.group(2), secret=desk.settings.portal_secret or "", now=desk.clock())
    assert (grant.number, grant.email) == (number, email.lower())
    return match.group(1)


async def test_the_acknowledgement_and_every_update_carry_a_link_to_the_ticket(
        desk: Helpdesk, maildev: MailDev):
    email = unique_email("links")
    created = await intake.submit_ticket(
        {"name": "R", "email": email, "subject": "Printer", "description": "d"}, [], desk=desk)
    await handle_event(TicketEvent(ticket=created.number, seq=1, kind="created"), desk=desk)
    steps = [(Action.REQUEST_INFO, {"question": "Which one?"}),
             (Action.RESOLVE, {"resolution": "Fixed."}), (Action.CLOSE, {})]
    for action, body in steps:
        view = await workflow.act(created.number, action, actionbodies.parse_body(action, body),
                                  actor="a1", roles=frozenset({"agent"}), if_match=None,
                                  desk=desk)
        entry = [e for e in view.thread if e.kind == ENTRY_KINDS[action]][-1]
        await handle_event(TicketEvent(ticket=created.number, seq=entry.seq,
                                       kind=entry.kind.value), desk=desk)
    mails = maildev.wait_to(email, 1 + len(steps))
    for mail in mails:
        text, html = mail_text(maildev, mail)
        link = link_in(desk, text, created.number, email)
        assert f'href="{link}"' in html


async def test_check_a_ticket_mails_a_link_only_to_the_tickets_own_address(
        desk: Helpdesk, maildev: MailDev):
    email, stranger = unique_email("owner"), unique_email("stranger")
    created = await intake.submit_ticket(
        {"name": "R", "email": email, "subject": "Lost", "description": "d"}, [], desk=desk)

    def request(number: str, address: str) -> LinkRequest:
        return LinkRequest(id=uuid.uuid4().hex, number=number, email=address)

    assert not await service.send_link(request(created.number, stranger), desk=desk)
    assert not await service.send_link(request("12345671", email), desk=desk)
    asked = request(created.number, email.upper())
    assert await service.send_link(asked, desk=desk)
    assert await service.send_link(asked, desk=desk)  # a redelivery sends nothing more
    [mail] = maildev.wait_to(email)
    assert mail["subject"] == f"[#{created.number}] Your link to Lost"
    link_in(desk, mail_text(maildev, mail)[0], created.number, email)
    assert maildev.to(stranger) == []


async def test_links_per_address_are_limited(desk: Helpdesk, maildev: MailDev):
    limited = dataclasses.replace(desk, link_limit=RateLimiter(
        desk.clients.table(RATELIMIT_TABLE), prefix="mail", per_window=2))
    email = unique_email("flood")
    created = await intake.submit_ticket(
        {"name": "R", "email": email, "subject": "Flood", "description": "d"}, [], desk=desk)
    sent = [await service.send_link(LinkRequest(id=uuid.uuid4().hex, number=created.number,
                                                   email=email), desk=limited)
            for _ in range(4)]
    assert sent == [True, True, False, False]
    maildev.wait_to(email, 2)
