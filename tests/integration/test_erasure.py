"""Erasure jobs against an Azurite of their own: a worker killed in the middle of an
erasure leaves a job that its redelivered message finishes (and a third delivery changes
nothing); retention erases a closed ticket past its age and leaves a recent one."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from shared.admin import erasure
from shared.core.errors import PayloadTooLarge
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.core.models import AttachmentUpload
from shared.core.settings import Settings
from shared.core.webhooks import Delivery
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_event
from shared.portal import export
from shared.storage.clients import EVENTS_QUEUE
from shared.tickets import actionbodies, intake, workflow
from tests.conftest import LocalServices, app_env
from tests.e2e.conftest import own_storage
from tests.e2e.test_requester_data import found_in_storage

AGENT = frozenset({"agent"})


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


@pytest.fixture
async def own_desk(test_services: LocalServices, tmp_path: Path) -> AsyncIterator[Helpdesk]:
    with own_storage(test_services, tmp_path) as storage:
        started = await Helpdesk.start(Settings.from_env(app_env(storage)))
        yield started
        await started.close()


async def drain_events(desk: Helpdesk) -> None:
    """Handle every queued ticket event, as the queue function would."""
    queue = desk.clients.queue(EVENTS_QUEUE)
    while batch := [m async for m in queue.receive_messages(max_messages=32)]:
        for message in batch:
            await handle_event(TicketEvent.model_validate_json(message.content), desk=desk)
            await queue.delete_message(message)


async def new_ticket(desk: Helpdesk, email: str, name: str, *, files: bool = False) -> str:
    uploads = [AttachmentUpload(filename="me.txt", content_type="text/plain",
                                data=f"{name} {email}".encode())] if files else []
    created = await intake.submit_ticket(
        {"name": name, "email": email, "subject": f"Laptop of {name}",
         "description": f"Write to {email}"}, uploads, desk=desk)
    return created.number


async def act(desk: Helpdesk, number: str, action: Action, body: dict) -> None:
    await workflow.act(number, action, actionbodies.parse_body(action, body), actor="a1",
                       roles=AGENT, if_match=None, desk=desk)


async def test_a_killed_erasure_is_finished_by_its_redelivered_message(own_desk: Helpdesk,
                                                                        monkeypatch):
    desk = dataclasses.replace(own_desk, settings=own_desk.settings.model_copy(
        update={"erasure_mode": "redact"}))
    tag = uuid.uuid4().hex[:8]
    email, name = f"Kim.Crash.{tag}@Example.org", f"Kim Crash{tag}"
    numbers = [await new_ticket(desk, email, name, files=True),
               await new_ticket(desk, email, name), await new_ticket(desk, email, name)]
    await act(desk, numbers[1], Action.NOTE, {"body": f"Internal: {email} is {name}."})
    await act(desk, numbers[1], Action.RESOLVE, {"resolution": f"Told {name}."})
    await drain_events(desk)
    needles = [email, email.lower(), email.upper(), name]
    assert found_in_storage(desk.settings.storage.connection_string or "", needles)

    before = {n: await desk.tickets.get(n) for n in numbers}
    # A portal link request that failed five times, and another address's.
    poison = desk.clients.queue("portal-links-poison")
    await poison.create_queue()
    await poison.send_message(f'{{"id": "{"a" * 32}", "number": "1", "email": "{email.lower()}"}}')
    await poison.send_message(f'{{"id": "{"b" * 32}", "number": "1", "email": "other@example.org"}}')
    job = await erasure.request_erasure({"email": email, "confirm": email}, requested_by="admin1",
                                        desk=desk)
    real = desk.tickets.rewrite
    calls = 0

    async def killed_on_the_second(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:  # its words and index rows are rewritten, its partition is not
            raise RuntimeError("the worker was killed")
        return await real(*args, **kwargs)

    monkeypatch.setattr(desk.tickets, "rewrite", killed_on_the_second)
    with pytest.raises(RuntimeError, match="killed"):
        await erasure.run(job.id, desk=desk)
    half = await erasure.job_status(job.id, desk=desk)
    assert (half.state, half.tickets, half.tickets_done) == ("running", 3, 1)
    # A late ticket-events handler that read the ticket erased first before it was erased
    # writes its rows back as they were.
    row = await desk.erasures.get(job.id)
    assert row is not None
    first = before[row["numbers"][0]]
    assert first is not None
    await desk.tickets.write_index(first.ticket, had=[])

    redelivered = await erasure.run(job.id, desk=desk)  # the message comes back
    assert redelivered is not None and redelivered.state == "done"
    assert redelivered.steps_done == ["tickets", "index-check", "search-logs",
                                      "webhook-deliveries", "rate-limits", "poison-queues"]
    assert redelivered.erased["index-check"] >= 2, redelivered  # the live row and the requester row
    again = await erasure.run(job.id, desk=desk)  # and once more: nothing changes
    assert again == redelivered
    assert found_in_storage(desk.settings.storage.connection_string or "", needles) == []
    assert redelivered.erased["poison-queues"] == 1
    left = [m.content for m in await poison.peek_messages(max_messages=32)]
    assert len(left) == 1 and "other@example.org" in left[0]  # another person's stays
    for number in numbers:
        stored = await desk.tickets.get(number)
        assert stored is not None
        assert stored.ticket.requester_email == job.replacement
        assert stored.ticket.requester_name == "Erased requester"
    redacted = await desk.tickets.get(numbers[1])
    assert redacted is not None
    notes = [e.body for e in redacted.thread if e.kind == "note"]
    assert notes == [f"Internal: {job.replacement} is Erased requester."]
    assert redacted.ticket.description == f"Write to {job.replacement}"  # redact keeps the text
    assert (await desk.tickets.requester_rows(job.replacement, limit=10)) != []
    assert await desk.tickets.requester_rows(email, limit=10) == []


async def test_retention_erases_a_ticket_closed_long_ago_and_keeps_a_recent_one(own_desk: Helpdesk):
    clock = Clock(own_desk.clock() - timedelta(days=400))
    desk = dataclasses.replace(own_desk, clock=clock, settings=own_desk.settings.model_copy(
        update={"retention_months": 6}))
    tag = uuid.uuid4().hex[:8]
    old_email, new_email = f"old.{tag}@example.org", f"new.{tag}@example.org"
    old = await new_ticket(desk, old_email, f"Olga Old{tag}")
    await act(desk, old, Action.RESOLVE, {"resolution": "Done."})
    await act(desk, old, Action.CLOSE, {})
    clock.now += timedelta(days=300)
    recent = await new_ticket(desk, new_email, f"Nina New{tag}")
    await act(desk, recent, Action.RESOLVE, {"resolution": "Done."})
    await act(desk, recent, Action.CLOSE, {})
    open_one = await new_ticket(desk, old_email, f"Olga Old{tag}")
    await drain_events(desk)
    clock.now += timedelta(days=30)  # the old ticket closed 330 days ago, the recent 30
    # A webhook delivery of each ticket kept for replay (its body holds the subject).
    for number in (old, recent):
        await desk.webhooks.add_delivery(Delivery(
            endpoint=f"hook{tag}", event_id=f"{number}-1-ticket.created",
            event_type="ticket.created", ticket=number, body='{"subject": "..."}',
            created_at=clock.now, state="parked"))

    job = await erasure.retention(desk=desk)
    assert job is not None and job.kind == "retention" and job.tickets == 1
    done = await erasure.run(job.id, desk=desk)
    assert done is not None and done.state == "done"
    # Not the address-wide erasers.
    assert done.steps_done == ["tickets", "index-check", "search-logs", "webhook-deliveries"]
    assert done.erased["webhook-deliveries"] == 1
    assert await desk.webhooks.delivery(f"hook{tag}", f"{old}-1-ticket.created") is None
    assert await desk.webhooks.delivery(f"hook{tag}", f"{recent}-1-ticket.created") is not None
    erased, kept, still_open = [await desk.tickets.get(n) for n in (old, recent, open_one)]
    assert erased is not None and erased.ticket.requester_email.endswith("@erased.invalid")
    assert erased.ticket.description == "[removed]" and erased.ticket.status == "closed"
    assert kept is not None and kept.ticket.requester_email == new_email
    assert still_open is not None and still_open.ticket.requester_email == old_email
    assert await erasure.retention(desk=desk) is None  # nothing more to erase


async def test_a_job_row_keeps_thousands_of_tickets(desk: Helpdesk):
    """More tickets than one string property holds (32K characters) are kept in parts."""
    job_id = uuid.uuid4().hex
    numbers = [f"{n:08d}" for n in range(10_000_000, 10_005_000)]
    await desk.erasures.save(job_id, {"kind": "requester", "numbers": numbers, "steps": ["tickets"],
                                      "cursor": 3})
    stored = await desk.erasures.get(job_id)
    assert stored is not None
    assert (stored["numbers"], stored["steps"], stored["cursor"]) == (numbers, ["tickets"], 3)
    await desk.erasures.save(job_id, {"kind": "requester", "numbers": numbers[:2]})
    again = await desk.erasures.get(job_id)
    assert again is not None and again["numbers"] == numbers[:2] and "steps" not in again


async def test_an_export_past_its_bound_is_refused_not_cut_short(desk: Helpdesk, monkeypatch):
    email = f"big.{uuid.uuid4().hex[:8]}@example.org"
    await new_ticket(desk, email, "Bea Big", files=True)
    assert (await export.export(email, desk=desk))[:2] == b"PK"
    monkeypatch.setattr(export, "MAX_BYTES", 10)
    with pytest.raises(PayloadTooLarge):
        await export.export(email, desk=desk)
