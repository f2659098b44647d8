"""Every queue handler, failing at each step, ends with its effect done exactly once as a
user sees it: one email per Message-ID in MailDev, one escalation email, the ticket
counted once in the daily summaries.

The real handlers run against Azurite and MailDev; failures are injected where they
happen in production: storage requests refused (the SDK's request hook), the mail
server refusing a message (nothing sent) or losing its answer after taking it (sent).
"Before the message is deleted" is the same handler delivered again after it finished.
Each fault is followed by the queue's redelivery (the handler called again)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError

from shared.core.directory import Agent, CategoryDef
from shared.core.events import LinkRequest, TicketEvent
from shared.core.lifecycle import Action
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk, default_mailer
from shared.mail.mailer import MailError
from shared.notifications.notify import handle_escalation, handle_event, message_id
from shared.portal import service
from shared.storage.events import EventQueue
from shared.tickets import actionbodies, intake, workflow
from tests.conftest import LocalServices, app_env, unique_email
from tests.support import MailDev, wait_for

FAULTS: list[str] = []  # every fault injected in this module, for the closing count


class StorageFaults:
    """The SDK request hook: refuses the next `times` requests that `match`."""

    def __init__(self) -> None:
        self.rules: list[list[Any]] = []

    def fail(self, match: Callable[[Any], bool], times: int = 1, *, skip: int = 0) -> None:
        self.rules.append([match, skip, times])

    def __call__(self, request: Any) -> None:
        for rule in self.rules:
            match, skip, times = rule
            if times and match(request.http_request):
                if skip:
                    rule[1] -= 1
                    continue
                rule[2] -= 1
                FAULTS.append(f"{request.http_request.method} {request.http_request.url}")
                raise ServiceRequestError("storage refused the request (injected)")


class FlakyMailer:
    """The real SMTP mailer, with faults: `refuse` fails before sending (nothing
    delivered), `lose_answer` delivers and then reports a broken connection."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.refuse = 0
        self.lose_answer = 0

    async def send(self, message: EmailMessage) -> None:
        if self.refuse:
            self.refuse -= 1
            FAULTS.append(f"mail refused {message['Message-ID']}")
            raise MailError("injected: the mail server refused the connection")
        await self.real.send(message)
        if self.lose_answer:
            self.lose_answer -= 1
            FAULTS.append(f"mail answer lost {message['Message-ID']}")
            raise MailError("injected: connection lost after the data", maybe_sent=True)

    async def close(self) -> None:
        await self.real.close()


@dataclasses.dataclass
class Faulty:
    desk: Helpdesk
    storage: StorageFaults
    mailer: FlakyMailer


@pytest.fixture
async def faulty(test_services: LocalServices) -> AsyncIterator[Faulty]:
    settings = Settings.from_env(app_env(test_services))
    storage = StorageFaults()
    mailer = FlakyMailer(default_mailer(settings))
    started = await Helpdesk.start(settings, request_hook=storage, mailer=mailer)
    tag = uuid.uuid4().hex[:8]
    queues = [started.clients.queue(f"qf-{name}-{tag}") for name in ("events", "escalations")]
    for queue in queues:
        await queue.create_queue()
    yield Faulty(dataclasses.replace(started, events=EventQueue(queues[0]),
                                     escalations=EventQueue(queues[1])), storage, mailer)
    for queue in queues:
        await queue.delete_queue()
    await started.close()


def mail_record(request: Any) -> bool:
    """The write that records an email as sent (an upsert of its `mail-` row)."""
    return request.method in ("PUT", "PATCH") and "RowKey='mail-" in request.url


def partition_read(request: Any) -> bool:
    return request.method == "GET" and "/tickets()" in request.url


def metrics_write(request: Any) -> bool:
    return "RowKey='metrics'" in request.url or (
        request.method == "POST" and request.url.split("?")[0].endswith("/tickets")
        and b'"metrics"' in (request.body or b""))


async def deliver(handler: Callable[[], Any], *, tries: int = 6) -> int:
    """Run a handler as the queue does: again after each failure. Returns the failures."""
    for failures in range(tries):
        try:
            await handler()
            return failures
        except Exception:  # the queue only sees "failed": it delivers again
            await asyncio.sleep(0.05)
    raise AssertionError("still failing after the queue's retries: it would be poisoned")


def copies(maildev: MailDev, mid: str, address: str) -> int:
    return sum(1 for m in maildev.to(address)
               if (m.get("messageId") or "").strip("<>") == mid.strip("<>"))


async def settle(maildev: MailDev, address: str, mid: str) -> int:
    wait_for(lambda: copies(maildev, mid, address) >= 1, what=f"{mid} to {address}")
    await asyncio.sleep(1)  # a second copy would be here by now
    return copies(maildev, mid, address)


async def new_ticket(desk: Helpdesk, category: str = "general") -> tuple[str, str]:
    email = unique_email("qf")
    created = await intake.submit_ticket(
        {"name": "Q", "email": email, "subject": "Queue faults", "description": "d",
         "category": category}, [], desk=desk)
    return created.number, email


STEPS = ["storage fails before the email", "mail refused before sending",
         "mail sent, its answer lost", "mail sent, recording it fails",
         "handled, then delivered again"]


@pytest.mark.parametrize("step", STEPS)
async def test_acknowledgement_once(faulty: Faulty, maildev: MailDev, step: str):
    desk = faulty.desk
    number, email = await new_ticket(desk)
    event = TicketEvent(ticket=number, seq=1, kind="created", indexed=True)
    before = len(FAULTS)
    inject(faulty, step)
    failures = await deliver(lambda: handle_event(event, desk=desk))
    assert_fired(step, before)
    await deliver(lambda: handle_event(event, desk=desk))  # the message not deleted
    mid = message_id(number, 1, "ack", desk.settings)
    assert await settle(maildev, email, mid) == 1
    assert failures == (0 if step in ("mail sent, its answer lost",
                                      "mail sent, recording it fails",
                                      "handled, then delivered again") else 1)


def assert_fired(step: str, before: int) -> None:
    """The fault was really injected (a test whose fault never fires proves nothing)."""
    if step != "handled, then delivered again":
        assert len(FAULTS) > before, f"the fault {step!r} never fired"


def inject(faulty: Faulty, step: str) -> None:
    if step == "storage fails before the email":
        faulty.storage.fail(partition_read, times=2)  # both of the SDK's tries
    elif step == "mail refused before sending":
        faulty.mailer.refuse = 1
    elif step == "mail sent, its answer lost":
        faulty.mailer.lose_answer = 1
    elif step == "mail sent, recording it fails":
        faulty.storage.fail(mail_record, times=3)  # outlasts the SDK's retry, not ours


@pytest.mark.parametrize("step", STEPS)
async def test_escalation_email_once(faulty: Faulty, maildev: MailDev, step: str):
    desk = faulty.desk
    tag = uuid.uuid4().hex[:6]
    member = Agent(id=f"qf-{tag}", name="Senior", email=f"qf-{tag}@staff.example.com",
                   teams=["senior-support"])
    await desk.directory.put(member)
    number, _ = await new_ticket(desk)
    view = await workflow.act(number, Action.ESCALATE, actionbodies.parse_body(
        Action.ESCALATE, {"tier": "senior-support", "reason": "hard"}), actor="lead",
        roles=frozenset({"agent"}), if_match=None, desk=desk)
    seq = max(e.seq for e in view.thread if e.kind.value == "escalated")
    event = TicketEvent(ticket=number, seq=seq, kind="escalated", indexed=True)
    before = len(FAULTS)
    inject(faulty, step)
    await deliver(lambda: handle_escalation(event, desk=desk))
    assert_fired(step, before)
    await deliver(lambda: handle_escalation(event, desk=desk))
    mid = message_id(number, seq, "escalation", desk.settings)
    assert await settle(maildev, member.email, mid) == 1


@pytest.mark.parametrize("step", STEPS)
async def test_portal_link_once(faulty: Faulty, maildev: MailDev, step: str):
    desk = faulty.desk
    number, email = await new_ticket(desk)
    request = LinkRequest(id=uuid.uuid4().hex, number=number, email=email)
    before = len(FAULTS)
    inject(faulty, step)
    await deliver(lambda: service.send_link(request, desk=desk))
    assert_fired(step, before)
    await deliver(lambda: service.send_link(request, desk=desk))
    mid = message_id(number, 0, f"link-{request.id}", desk.settings)
    assert await settle(maildev, email, mid) == 1


FOLD_STEPS = ["before the pending record", "after the pending record",
              "after adding to the day", "handled, then delivered again"]


@pytest.mark.parametrize("step", FOLD_STEPS)
async def test_ticket_counted_once(faulty: Faulty, step: str):
    """The reports fold (in the ticket-events handler, after the emails)."""
    desk = faulty.desk
    category = f"qf{uuid.uuid4().hex[:8]}"
    await desk.directory.put(CategoryDef(id=category, name="Queue faults"))
    number, _ = await new_ticket(desk, category)
    event = TicketEvent(ticket=number, seq=1, kind="created", indexed=True)
    await handle_event(event, desk=desk)  # the acknowledgement, and the first fold
    await workflow.act(number, Action.RESOLVE, actionbodies.parse_body(
        Action.RESOLVE, {"resolution": "done"}), actor="lead", roles=frozenset({"agent"}),
        if_match=None, desk=desk)
    stored = await desk.tickets.get(number)
    assert stored is not None
    resolved = TicketEvent(ticket=number, seq=stored.ticket.last_seq, kind="resolved",
                           indexed=True)
    if step == "before the pending record":
        faulty.storage.fail(metrics_write, times=2)
    elif step == "after the pending record":
        # The day's counters and marker: the one transaction the fold of this event sends.
        faulty.storage.fail(lambda r: r.url.endswith("$batch"), times=2)
    elif step == "after adding to the day":
        faulty.storage.fail(metrics_write, times=2, skip=1)
    before = len(FAULTS)
    await deliver(lambda: handle_event(resolved, desk=desk))
    assert_fired(step, before)
    await deliver(lambda: handle_event(resolved, desk=desk))
    day = datetime.now(UTC).date().isoformat()
    rows = {row: counters async for _d, row, counters in
            desk.reports.read_days(day, day, rows="category")}
    counters = rows[f"category|{category}"]
    assert counters.get("created") == 1 and counters.get("resolved") == 1, counters
