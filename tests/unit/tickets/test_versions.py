"""Which writes make a new version of a ticket for agents, and how `If-Match` is read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.core.actions import moves_version
from shared.core.lifecycle import Action
from shared.core.models import Channel, Priority, Ticket
from shared.tickets.views import version_tag
from shared.tickets.workflow import Precondition

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TICKET = Ticket(number="10000009", subject="s", description="d", requester_name="R",
                requester_email="r@example.org", priority=Priority.NORMAL, category="general",
                status="open", channel=Channel.WEB, team="service-desk", created_at=T0,
                updated_at=T0, last_seq=2)


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.REMIND])
def test_every_action_a_person_takes_makes_a_new_version(action: Action):
    # Even one that changes no field of the head (a note): its entry is what others read.
    assert moves_version(action, TICKET, TICKET)


@pytest.mark.parametrize("changes", [
    {"overdue": True, "updated_at": datetime(2026, 1, 5, 10, tzinfo=UTC), "last_seq": 3},
    {"sla": {"warned": ["first_response"]}, "sla_check_at": T0, "due_at": T0},
    {"reminded_at": T0, "last_seq": 3},
])
def test_records_of_the_desk_alone_keep_the_version(changes: dict):
    after = TICKET.model_copy(update=changes)
    assert not moves_version(None, TICKET, after)
    assert not moves_version(Action.REMIND, TICKET, after)


@pytest.mark.parametrize("changes", [
    {"priority": Priority.HIGH}, {"status": "escalated", "team": "senior-support"},
    {"assignee": "a2"}, {"status": "resolved"},
])
def test_a_system_write_that_changes_what_agents_decide_on_is_a_new_version(changes: dict):
    assert moves_version(None, TICKET, TICKET.model_copy(update=changes))


def test_if_match_names_a_version_or_the_exact_head():
    assert version_tag(7) == 'W/"v7"'
    assert Precondition.parse('W/"v7"') == Precondition(version=7)
    assert Precondition.parse(' "v7" ') == Precondition(version=7)  # without W/, as some clients send it
    assert Precondition.parse(None) is None and Precondition.parse("*") is None
    assert Precondition.parse("") is None
    storage = 'W/"datetime\'2026-12-04T20%3A28%3A22.5482021Z\'"'
    assert Precondition.parse(storage) == Precondition(exact=storage)
    assert Precondition.parse('W/"v7x"') == Precondition(exact='W/"v7x"')
