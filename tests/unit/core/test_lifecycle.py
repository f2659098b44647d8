"""The lifecycle table, as a property: whatever agents and requesters do, tickets stay in
declared statuses and every accepted action writes exactly one entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.actions import BODIES, apply_action
from shared.core.lifecycle import (
    AUTOMATIC,
    RULES,
    STATUSES,
    Action,
    Category,
    NotAllowed,
    Status,
    allowed_actions,
    category,
    clock_paused,
    decide,
    is_active,
    is_closed,
    is_done,
    is_waiting,
    may,
    requesters_turn,
    statuses,
)
from shared.core.models import Channel, Priority, Ticket

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

SAMPLE_BODIES = {
    Action.ASSIGN: {"agent": "a1", "team": "service-desk"},
    Action.CHANGE: {"priority": "high", "category": "hardware"},
    Action.REPLY: {"body": "Try turning it off and on."},
    Action.NOTE: {"body": "Internal: user is VIP."},
    Action.REQUEST_INFO: {"question": "Which floor?"},
    Action.ESCALATE: {"tier": "vendor-support", "reason": "Firmware bug",
                      "vendor_name": "Acme", "vendor_reference": "CASE-1"},
    Action.RESOLVE: {"resolution": "Replaced the toner."},
    Action.CLOSE: {},
    Action.REOPEN: {"comment": "Still broken"},
    Action.REQUESTER_REPLY: {"body": "It is the 3rd floor."},
    Action.REMIND: {},
    Action.RATE: {"solved": True, "comment": "Thanks"},
}
ROLE_SETS = [frozenset({"agent"}), frozenset({"supervisor"}), frozenset({"admin"}),
             frozenset({"requester"}), frozenset()]


def new_ticket() -> Ticket:
    return Ticket(number="12345674", subject="s", description="d", requester_name="R",
                  requester_email="r@example.org", priority=Priority.NORMAL,
                  category="general", status="new", channel=Channel.WEB,
                  created_at=T0, updated_at=T0, last_seq=1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Action)), st.sampled_from(ROLE_SETS)),
                max_size=40))
def test_random_action_sequences_stay_declared_and_write_one_entry_each(steps):
    ticket = new_ticket()
    entries = 0
    for i, (action, roles) in enumerate(steps):
        body = BODIES[action].model_validate(SAMPLE_BODIES[action])
        before = ticket
        try:
            ticket, entry = apply_action(ticket, action, body, actor="x", roles=roles,
                                         now=T0 + timedelta(minutes=i))
        except NotAllowed as exc:
            assert action not in allowed_actions(before.status, roles)
            assert exc.allowed == allowed_actions(before.status, roles)
            assert ticket is before
            continue
        entries += 1
        assert entry.seq == before.last_seq + 1 == ticket.last_seq
        assert Status(ticket.status) in STATUSES
        if ticket.status != before.status:
            assert entry.data["from"] == before.status and entry.data["to"] == ticket.status
        if before.status == Status.CLOSED:
            assert action in (Action.REOPEN, Action.NOTE, Action.RATE)
    assert ticket.last_seq == 1 + entries


def test_every_rule_names_declared_statuses():
    for rule in RULES:
        assert rule.source in STATUSES
        assert rule.target is None or rule.target in STATUSES


@pytest.mark.parametrize("status", list(Status))
def test_closed_tickets_only_reopen(status):
    if status is Status.CLOSED:
        assert set(allowed_actions(status, {"admin"})) == {Action.NOTE, Action.REOPEN}
        assert decide(Action.REOPEN, status, {"agent"}) is Status.OPEN


def test_requester_answers_bring_waiting_and_resolved_tickets_back():
    for status in (Status.PENDING, Status.RESOLVED):
        assert decide(Action.REQUESTER_REPLY, status, {"requester"}) is Status.OPEN
    assert decide(Action.REQUESTER_REPLY, Status.ESCALATED, {"requester"}) is Status.ESCALATED
    with pytest.raises(NotAllowed):
        decide(Action.REQUESTER_REPLY, Status.CLOSED, {"requester"})
    with pytest.raises(NotAllowed):
        decide(Action.REPLY, Status.OPEN, {"requester"})


def test_only_supervisors_close_unresolved_tickets():
    with pytest.raises(NotAllowed) as err:
        decide(Action.CLOSE, Status.OPEN, {"agent"})
    assert err.value.missing_role is not None and err.value.missing_role.value == "supervisor"
    assert decide(Action.CLOSE, Status.OPEN, {"supervisor"}) is Status.CLOSED
    assert decide(Action.CLOSE, Status.RESOLVED, {"agent"}) is Status.CLOSED


def test_first_reply_records_first_response_time_once():
    t = new_ticket()
    body = BODIES[Action.REPLY].model_validate({"body": "hi"})
    t, entry = apply_action(t, Action.REPLY, body, actor="a", roles=frozenset({"agent"}),
                            now=T0 + timedelta(hours=1))
    assert t.first_response_at == T0 + timedelta(hours=1) and t.status == "open"
    assert entry.public and entry.data["first_response"]
    t, _ = apply_action(t, Action.REPLY, body, actor="a", roles=frozenset({"agent"}),
                        now=T0 + timedelta(hours=2))
    assert t.first_response_at == T0 + timedelta(hours=1)


def test_escalation_changes_team_and_keeps_vendor_details():
    body = BODIES[Action.ESCALATE].model_validate(SAMPLE_BODIES[Action.ESCALATE])
    t, entry = apply_action(new_ticket(), Action.ESCALATE, body, actor="a",
                            roles=frozenset({"agent"}), now=T0)
    assert t.status == "escalated" and t.team == "vendor-support"
    assert entry.data["vendor_name"] == "Acme" and entry.data["vendor_reference"] == "CASE-1"
    assert not entry.public
    with pytest.raises(ValueError):
        BODIES[Action.ESCALATE].model_validate({"tier": "vendor-support", "reason": "x"})


def test_requesters_rate_only_done_tickets_and_a_reopen_clears_the_rating():
    for status in Status:
        if status in (Status.RESOLVED, Status.CLOSED):
            assert decide(Action.RATE, status, {"requester"}) is status
        else:
            with pytest.raises(NotAllowed):
                decide(Action.RATE, status, {"requester"})
    with pytest.raises(NotAllowed):
        decide(Action.RATE, Status.RESOLVED, {"admin"})  # the requester's word only
    requester = frozenset({"requester"})
    t = new_ticket().model_copy(update={"status": Status.RESOLVED})
    rate = BODIES[Action.RATE]
    t, first = apply_action(t, Action.RATE, rate.model_validate({"solved": False}),
                            actor="r", roles=requester, now=T0)
    t, second = apply_action(t, Action.RATE, rate.model_validate(
        {"solved": True, "comment": " Works now. "}), actor="r", roles=requester,
        now=T0 + timedelta(minutes=1))
    assert (t.satisfied, t.satisfaction_comment, t.rated_at) == (
        True, "Works now.", T0 + timedelta(minutes=1))
    assert first.kind == second.kind == "rated" and first.public
    assert (first.data["solved"], second.data["solved"]) == (False, True)
    t, _ = apply_action(t, Action.REQUESTER_REPLY,
                        BODIES[Action.REQUESTER_REPLY].model_validate({"body": "Broken again"}),
                        actor="r", roles=requester, now=T0 + timedelta(hours=1))
    assert t.status == "open" and t.satisfied is None and t.rated_at is None


# -- the questions code asks instead of comparing statuses --------------------------------

def test_the_categories_partition_the_statuses_and_answer_for_strings_too():
    assert statuses(Category.DONE) == (Status.RESOLVED, Status.CLOSED)
    assert statuses(Category.WAITING) == (Status.PENDING,)
    assert statuses(Category.ACTIVE) == (Status.NEW, Status.OPEN, Status.ESCALATED)
    assert set(statuses(*Category)) == set(Status)
    for status in Status:
        answers = (is_active(status), is_waiting(status), is_done(status))
        assert answers.count(True) == 1
        assert answers == (is_active(status.value), is_waiting(status.value),
                           is_done(status.value))
        assert category(status.value) is category(status)
        assert is_closed(status) == (status is Status.CLOSED)
    # An entry that changed no status has no `from`/`to`: in no category.
    assert not any(q(None) for q in (is_active, is_waiting, is_done, is_closed))


def test_the_requesters_turn_is_where_their_answer_brings_the_ticket_back():
    requester = {"requester"}
    for status in Status:
        reopens = (may(Action.REQUESTER_REPLY, status, requester) and status is not Status.OPEN
                   and decide(Action.REQUESTER_REPLY, status, requester) is Status.OPEN)
        assert requesters_turn(status) == reopens, status
    assert not requesters_turn(None)


def test_the_sla_clock_stands_still_while_waiting_on_the_requester_or_a_vendor():
    assert clock_paused(Status.PENDING, with_vendor=False)
    assert clock_paused("escalated", with_vendor=True)
    assert not clock_paused(Status.ESCALATED, with_vendor=False)
    # A vendor team on an open ticket (assigned, not escalated) does not stop the clock.
    assert not clock_paused(Status.OPEN, with_vendor=True)
    assert not clock_paused(Status.NEW, with_vendor=False)


def test_may_agrees_with_decide():
    for roles in ({"requester"}, {"agent"}, {"supervisor"}, AUTOMATIC):
        for status in Status:
            for action in Action:
                try:
                    decide(action, status, roles)
                    allowed = True
                except NotAllowed:
                    allowed = False
                assert may(action, status.value, roles) is allowed
    # What the desk's automatic changes become: a rule's assignment opens a new ticket,
    # an SLA breach escalates.
    assert decide(Action.ASSIGN, Status.NEW, AUTOMATIC) is Status.OPEN
    assert decide(Action.ESCALATE, Status.OPEN, AUTOMATIC) is Status.ESCALATED


def test_an_entry_value_that_is_not_a_status_is_in_no_category():
    """An email entry's `from` is its sender's address: asked about as a status, it is
    none (the event handler once failed on it and poisoned the ticket's events)."""
    for value in ("user@example.org", "", None, 3, "Resolved"):
        assert not (is_done(value) or is_active(value) or is_waiting(value)
                    or is_closed(value) or requesters_turn(value))
    assert is_done("resolved") and is_closed("closed") and requesters_turn("pending")
