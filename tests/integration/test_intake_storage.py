"""The intake service against a real Azurite: what is stored, and what is not."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from azure.core.exceptions import AzureError

from shared.core import numbering
from shared.core.errors import StorageUnavailable, ValidationFailed
from shared.core.events import TicketEvent
from shared.core.models import AttachmentUpload, EntryKind
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.storage.indexing import ACTIVE_TABLE, active_address, parse_address
from shared.tickets import intake
from tests.conftest import LocalServices, app_env, unique_email


def submission(email: str, **overrides):
    return {"name": "Ada Lovelace", "email": email, "subject": "Printer jammed",
            "description": "Page 3 is stuck.", "priority": "high", **overrides}


async def test_a_ticket_is_stored_with_its_created_entry_and_index_rows(desk: Helpdesk):
    email = unique_email()
    created = await intake.submit_ticket(submission(email), [], desk=desk)

    assert numbering.is_valid(created.number) and created.status == "new"
    stored = await desk.tickets.get(created.number)
    assert stored is not None
    assert stored.ticket.requester_email == email and stored.ticket.priority == "high"
    assert stored.ticket.category == "general"
    assert [e.kind for e in stored.thread] == [EntryKind.CREATED, EntryKind.SLA, EntryKind.SLA]
    assert [e.data["event"] for e in stored.thread[1:]] == ["sla_started", "sla_started"]
    assert stored.thread[0].body == "Page 3 is stuck."
    by_requester = await desk.tickets.requester_rows(email, limit=10)
    assert [r["number"] for r in by_requester] == [created.number]
    new_queue = await desk.tickets.active_rows([("status", "eq", "new")], select=["number"])
    assert created.number in [r["number"] for r in new_queue]


async def test_attachments_keep_bytes_name_type_and_hash(desk: Helpdesk):
    data = bytes(range(256)) * 100
    upload = AttachmentUpload(filename="screen shot #1.png", content_type="image/png", data=data)
    created = await intake.submit_ticket(submission(unique_email()), [upload], desk=desk)

    [info] = created.attachments
    assert (info.filename, info.size, info.content_type) == ("screen shot #1.png", len(data),
                                                             "image/png")
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    found = await desk.tickets.get_attachment(created.number, info.id)
    assert found is not None
    assert await desk.attachments.read(found[1]) == data


async def test_the_same_idempotency_key_returns_the_first_ticket(desk: Helpdesk):
    body = submission(unique_email())
    first, second = await asyncio.gather(
        intake.submit_ticket(body, [], desk=desk, idempotency_key="form-123-abc"),
        intake.submit_ticket(body, [], desk=desk, idempotency_key="form-123-abc"),
        return_exceptions=True,
    )
    # Two at once: one creates, the other either replays it or is told to retry.
    results = [r for r in (first, second) if not isinstance(r, Exception)]
    assert results
    again = await intake.submit_ticket(body, [], desk=desk, idempotency_key="form-123-abc")
    assert {r.number for r in results} == {again.number}
    assert len(await desk.tickets.requester_rows(body["email"], limit=10)) == 1


async def test_a_reused_key_with_another_body_is_refused(desk: Helpdesk):
    await intake.submit_ticket(submission(unique_email()), [], desk=desk, idempotency_key="k-2")
    with pytest.raises(ValidationFailed):
        await intake.submit_ticket(submission(unique_email()), [], desk=desk,
                                   idempotency_key="k-2")


async def test_a_drawn_number_that_exists_is_drawn_again(desk: Helpdesk, monkeypatch):
    first = await intake.submit_ticket(submission(unique_email()), [], desk=desk)
    draws = iter([first.number, first.number, numbering.new_number()])
    monkeypatch.setattr(numbering, "new_number", lambda: next(draws))
    second = await intake.submit_ticket(submission(unique_email()), [], desk=desk)
    assert second.number != first.number
    stored = await desk.tickets.get(first.number)
    assert stored is not None and stored.ticket.subject == "Printer jammed"


def fail_transactions(request) -> None:
    """Makes storage fail entity group transactions (and only those)."""
    if request.http_request.url.endswith("/$batch"):
        raise AzureError("storage failed (injected)")


async def test_when_the_ticket_write_fails_nothing_is_left_behind(test_services: LocalServices):
    desk = await Helpdesk.start(Settings.from_env(app_env(test_services)),
                                request_hook=fail_transactions)
    try:
        email = unique_email()
        upload = AttachmentUpload(filename="a.txt", data=b"hello")
        container = desk.clients.container("attachments")
        before = {b.name async for b in container.list_blobs()}
        with pytest.raises(StorageUnavailable):
            await intake.submit_ticket(submission(email), [upload], desk=desk,
                                       idempotency_key="will-fail-1")
        after = {b.name async for b in container.list_blobs()}
        assert after == before, "the uploaded blob was not removed"
        assert await desk.tickets.requester_rows(email, limit=5) == []
    finally:
        await desk.close()
    # The key was released: the same retry succeeds once storage is back.
    desk = await Helpdesk.start(Settings.from_env(app_env(test_services)))
    try:
        created = await intake.submit_ticket(submission(email), [upload], desk=desk,
                                             idempotency_key="will-fail-1")
        assert created.attachments[0].filename == "a.txt"
    finally:
        await desk.close()


async def test_a_lost_index_write_is_repaired_by_the_event(desk: Helpdesk):
    email = unique_email()
    created = await intake.submit_ticket(submission(email), [], desk=desk)
    stored = await desk.tickets.get(created.number)
    assert stored is not None
    table, partition, row = parse_address(active_address(stored.ticket))  # type: ignore[misc]
    assert table == ACTIVE_TABLE
    await desk.clients.table(table).delete_entity(partition, row)
    await desk.clients.table("ticketrequesters").delete_entity(
        *parse_address(stored.index_keys[1])[1:])  # type: ignore[index]

    def numbers(rows) -> list[str]:
        return [r["number"] for r in rows]

    assert created.number not in numbers(await desk.tickets.active_rows([]))
    assert await desk.tickets.requester_rows(email, limit=5) == []
    from shared.notifications.notify import handle_event

    await handle_event(TicketEvent(ticket=created.number, seq=1, kind="created"), desk=desk)
    assert numbers(await desk.tickets.requester_rows(email, limit=5)) == [created.number]
    assert created.number in numbers(await desk.tickets.active_rows([("status", "eq", "new")]))
