"""Intake and agent actions when storage fails between their steps, and the repair
(tools.repair) that settles what no retry came back for. Faults are injected with the
SDK's request and response hooks on a real Azurite."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from shared.core.errors import Conflict, StorageUnavailable
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.core.models import AttachmentUpload, EntryKind
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.storage.events import EventQueue
from shared.storage.indexing import index_keys
from shared.tickets import actionbodies, intake, repair, workflow
from shared.tickets.idempotency import CLAIM_TIMEOUT
from shared.tickets.views import version_tag
from tests.conftest import LocalServices, app_env, unique_email


class Faults:
    """Request hook: refuse matching requests (nothing reaches storage). As the response
    hook, `lose` drops the answer of matching requests after storage carried them out."""

    def __init__(self) -> None:
        self.refuse: list[list[Any]] = []
        self.lose: list[list[Any]] = []
        self.fired = 0

    def answer(self, response: Any) -> None:
        for rule in self.lose:
            if rule[1] and rule[0](response.http_request):
                rule[1] -= 1
                self.fired += 1
                raise ServiceResponseError("injected: the answer was lost")

    def fail(self, match, times: int = 2, *, skip: int = 0) -> None:
        self.refuse.append([match, times, skip])

    def __call__(self, request: Any) -> None:
        for rule in self.refuse:
            if rule[1] and rule[0](request.http_request):
                if rule[2]:
                    rule[2] -= 1
                    continue
                rule[1] -= 1
                self.fired += 1
                raise ServiceRequestError("injected: storage unreachable")


class Clock:
    def __init__(self, desk: Helpdesk) -> None:
        self.offset = timedelta()
        self.real = desk.clock

    def __call__(self):
        return self.real() + self.offset


@dataclasses.dataclass
class Faulty:
    desk: Helpdesk
    faults: Faults
    clock: Clock


@pytest.fixture
async def faulty(test_services: LocalServices) -> AsyncIterator[Faulty]:
    faults = Faults()
    started = await Helpdesk.start(Settings.from_env(app_env(test_services)),
                                   request_hook=faults, response_hook=faults.answer)
    clock = Clock(started)
    tag = uuid.uuid4().hex[:8]
    queues = [started.clients.queue(f"if-{name}-{tag}") for name in ("events", "escalations")]
    for queue in queues:
        await queue.create_queue()
    desk = dataclasses.replace(started, events=EventQueue(queues[0]),
                               escalations=EventQueue(queues[1]), clock=clock)
    yield Faulty(desk, faults, clock)
    for queue in queues:
        await queue.delete_queue()
    await started.close()


def body(email: str) -> dict[str, str]:
    return {"name": "F", "email": email, "subject": "Faulty", "description": "d"}


def batch(request: Any) -> bool:
    return request.url.endswith("$batch") and request.method == "POST"


def index_write(request: Any) -> bool:
    """A write of an active queue row (an upsert or a delete)."""
    return "/ticketindex(" in request.url and request.method in ("PUT", "MERGE", "PATCH",
                                                                 "DELETE")


async def by_requester(desk: Helpdesk, email: str) -> list[str]:
    return [r["number"] for r in await desk.tickets.requester_rows(email, limit=5)]


def event_send(request: Any) -> bool:
    return request.method == "POST" and "/if-events-" in request.url


async def queued(desk: Helpdesk) -> list[str]:
    queue = desk.events._queue  # the test's own queue
    return [m.content async for m in queue.receive_messages(max_messages=32)]


async def test_a_lost_event_answers_503_and_the_retry_queues_it_once(faulty: Faulty):
    desk, email = faulty.desk, unique_email("lost-event")
    faulty.faults.fail(event_send)
    with pytest.raises(StorageUnavailable) as refused:
        await intake.submit_ticket(body(email), [], desk=desk, idempotency_key=email)
    assert refused.value.extra["retry_after"] > 0
    again = await intake.submit_ticket(body(email), [], desk=desk, idempotency_key=email)
    assert await by_requester(desk, email) == [again.number]
    assert len(await queued(desk)) == 1
    # Done now: a third try replays without queuing anything again.
    await intake.submit_ticket(body(email), [], desk=desk, idempotency_key=email)
    assert await queued(desk) == []


async def test_an_unknown_ticket_write_is_taken_over_by_the_retry_once_stale(faulty: Faulty):
    desk, email = faulty.desk, unique_email("unknown")
    upload = AttachmentUpload(filename="a.txt", data=b"hello")
    # The ticket write fails and so does the read that would tell whether it landed.
    faulty.faults.fail(batch)
    faulty.faults.fail(lambda r: r.method == "GET" and "/tickets()" in r.url)
    with pytest.raises(StorageUnavailable):
        await intake.submit_ticket(body(email), [upload], desk=desk, idempotency_key=email)
    assert faulty.faults.fired >= 2
    faulty.faults.refuse.clear()  # storage is back
    with pytest.raises(Conflict) as busy:  # its request might still be running
        await intake.submit_ticket(body(email), [upload], desk=desk, idempotency_key=email)
    assert 1 <= busy.value.extra["retry_after"] <= 10
    faulty.clock.offset = CLAIM_TIMEOUT + timedelta(seconds=1)
    created = await intake.submit_ticket(body(email), [upload], desk=desk,
                                         idempotency_key=email)
    assert await by_requester(desk, email) == [created.number]
    # The first attempt's blob is nobody's: the repair removes it, and only it.
    faulty.clock.offset += repair.GRACE + timedelta(seconds=1)
    report = await repair.repair(desk, grace=repair.GRACE)
    assert len(report.blobs_removed) >= 1
    stored = await desk.tickets.get(created.number)
    assert stored is not None
    assert await desk.attachments.read(stored.blob_names[stored.attachments[0].id]) == b"hello"


async def test_a_write_whose_answer_was_lost_is_recognised_not_repeated(faulty: Faulty):
    desk, email = faulty.desk, unique_email("answer-lost")
    # The ticket write lands, its answer is lost and the SDK sends it again (which
    # finds the number taken): the ticket is recognised as this submission's own.
    faulty.faults.lose.append([batch, 1])
    created = await intake.submit_ticket(body(email), [], desk=desk)
    assert faulty.faults.fired == 1
    assert await by_requester(desk, email) == [created.number]


async def test_an_action_cut_off_is_applied_once_and_the_repair_fixes_its_index(
        faulty: Faulty):
    desk, email = faulty.desk, unique_email("action")
    number = (await intake.submit_ticket(body(email), [], desk=desk)).number
    etag = (await desk.tickets.get(number)).etag  # type: ignore[union-attr]
    assign = actionbodies.parse_body(Action.ASSIGN, {"team": "senior-support"})
    # The assignment lands; then storage stops answering before the index and the event.
    faulty.faults.fail(index_write)  # the ticket's transaction passes, the index's write fails
    faulty.faults.fail(event_send, times=2)
    view = await workflow.act(number, Action.ASSIGN, assign, actor="a1",
                              roles=frozenset({"agent"}), if_match=etag, desk=desk)
    # The client retried (it never saw the answer) with the same If-Match: refused.
    with pytest.raises(Exception) as stale:
        await workflow.act(number, Action.ASSIGN, assign, actor="a1",
                           roles=frozenset({"agent"}), if_match=etag, desk=desk)
    assert getattr(stale.value, "status", None) == 412
    stored = await desk.tickets.get(number)
    assert stored is not None
    assert sum(1 for e in stored.thread if e.kind == EntryKind.ASSIGNED) == 1
    assert view.etag == version_tag(stored.version)
    assert faulty.faults.fired >= 2
    faulty.faults.refuse.clear()  # storage is back
    faulty.clock.offset = repair.GRACE + timedelta(seconds=1)
    report = await repair.repair(desk)
    assert number in report.index_repaired
    # The assignment's event, lost with the index, is queued again by the repair.
    assigned = [e.seq for e in stored.thread if e.kind == EntryKind.ASSIGNED]
    assert f"{number}:{assigned[0]}" in report.events_queued
    sent = [TicketEvent.model_validate_json(m) for m in await queued(desk)]
    assert [(e.kind, e.indexed) for e in sent if e.ticket == number and e.seq == assigned[0]] \
        == [(EntryKind.ASSIGNED.value, True)]
    team = await desk.tickets.active_rows([("team", "eq", "senior-support")])
    assert number in [r["number"] for r in team]
    rows = await desk.tickets.index_rows(stored.ticket)
    assert set(rows) == set(index_keys(stored.ticket))
    [live] = [row for row in rows.values() if "updated_at" in row]
    assert live["updated_at"] == stored.ticket.updated_at and live["team"] == "senior-support"
    again = await repair.repair(desk)
    assert number not in again.index_repaired
