"""Ticket heads as table entities: the status is typed in the model and stored as the
plain string it always was, so entities written before it was typed read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.core.lifecycle import Status
from shared.core.models import Channel, Priority, Ticket, TicketCreated
from shared.storage.entities import ticket_entity, ticket_from_entity
from shared.storage.indexing import summary

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def ticket(**changes) -> Ticket:
    return Ticket(**{**dict(
        number="10000009", subject="Printer jams", description="The third floor printer",
        requester_name="Ada", requester_email="ada@example.org", priority=Priority.NORMAL,
        category="hardware", status="open", channel=Channel.WEB, created_at=T0,
        updated_at=T0, last_seq=1), **changes})


def test_the_status_is_validated_and_read_as_the_enum():
    assert ticket().status is Status.OPEN
    with pytest.raises(ValidationError):
        ticket(status="archived")


@pytest.mark.parametrize("status", list(Status))
def test_the_stored_status_is_the_plain_string_and_reads_back(status: Status):
    entity = ticket_entity(ticket(status=status), index_keys=[], version=1)
    assert type(entity["status"]) is str and entity["status"] == status.value
    assert type(summary(ticket(status=status))["status"]) is str
    back = ticket_from_entity({**entity, "PartitionKey": "10000009"})
    assert back.status is status


def test_an_entity_written_before_the_status_was_typed_still_reads():
    old = {"PartitionKey": "10000009", "RowKey": "ticket", "subject": "s", "description": "d",
           "requester_name": "n", "requester_email": "e@example.org", "priority": "low",
           "category": "general", "status": "pending", "channel": "email",
           "created_at": T0, "updated_at": T0, "last_seq": 3}
    assert ticket_from_entity(old).status is Status.PENDING


def test_the_api_shapes_carry_the_status_as_its_string():
    t = ticket(status=Status.ESCALATED)
    assert t.model_dump(mode="json")["status"] == "escalated"
    assert json.loads(t.model_dump_json())["status"] == "escalated"
    created = TicketCreated(number="10000009", status=Status.NEW, subject="s",
                            priority=Priority.LOW, category="general", created_at=T0)
    assert created.model_dump(mode="json")["status"] == "new"
