"""A merge that stopped after its first write, against a real Azurite: the same request
again or the repair finishes it, and a target closed in between makes it give up."""

from __future__ import annotations

from datetime import timedelta

from shared.core.lifecycle import Action
from shared.core.models import EntryKind
from shared.core.relations import MergeBody, start_merge
from shared.helpdesk import Helpdesk
from shared.tickets import actionbodies, intake, relations, repair, workflow
from tests.conftest import unique_email


async def new_ticket(desk: Helpdesk, email: str | None = None) -> str:
    created = await intake.submit_ticket(
        {"name": "R", "email": email or unique_email(), "subject": "s", "description": "d"},
        [], desk=desk)
    return created.number


async def stopped_after_intent(desk: Helpdesk, duplicate: str, target: str) -> None:
    """What a request that lost storage right after step 1 leaves."""
    stored = await desk.tickets.get(duplicate)
    assert stored is not None
    ticket, entry = start_merge(stored.ticket, target, actor="a1", comment="same",
                                now=desk.clock())
    await desk.tickets.update(ticket, entry, [], etag=stored.etag, version=stored.version + 1)


def kinds(stored, kind: EntryKind) -> list:
    return [e for e in stored.thread if e.kind is kind]


async def test_the_repair_finishes_a_merge_that_stopped_after_its_intent(desk: Helpdesk):
    requester = unique_email("half")
    duplicate, target = await new_ticket(desk, requester), await new_ticket(desk)
    await stopped_after_intent(desk, duplicate, target)
    # Meanwhile the duplicate takes no action but notes.
    view = await workflow.act(duplicate, Action.NOTE, actionbodies.parse_body(
        Action.NOTE, {"body": "waiting"}), actor="a2", roles=frozenset({"agent"}),
        if_match=None, desk=desk)
    assert view.ticket.merging_into == target

    report = await repair.repair(desk, grace=timedelta(0))
    assert duplicate in report.merges_finished
    done = await desk.tickets.get(duplicate)
    taken = await desk.tickets.get(target)
    assert done is not None and taken is not None
    assert done.ticket.merged_into == target and done.ticket.status == "closed"
    assert not done.ticket.merging_into
    [merged] = kinds(taken, EntryKind.MERGED)
    assert merged.actor == "a1" and merged.body == "same"  # the intent's, carried on
    assert requester in taken.ticket.cc

    again = await repair.repair(desk, grace=timedelta(0))
    assert duplicate not in again.merges_finished
    assert len(kinds(await desk.tickets.get(target), EntryKind.MERGED)) == 1


async def test_the_same_merge_again_finishes_it(desk: Helpdesk):
    duplicate, target = await new_ticket(desk), await new_ticket(desk)
    await stopped_after_intent(desk, duplicate, target)
    # The retry carries the If-Match of before its first try: it finishes, it is not 412.
    view = await relations.merge(duplicate, MergeBody(into=target), actor="a1",
                                 if_match='W/"v1"', desk=desk)
    assert view.ticket.merged_into == target
    assert len(kinds(await desk.tickets.get(target), EntryKind.MERGED)) == 1


async def test_a_target_closed_in_between_makes_the_merge_give_up(desk: Helpdesk):
    duplicate, target = await new_ticket(desk), await new_ticket(desk)
    await stopped_after_intent(desk, duplicate, target)
    await workflow.act(target, Action.CLOSE, actionbodies.parse_body(Action.CLOSE, {}),
                       actor="s1", roles=frozenset({"supervisor"}), if_match=None, desk=desk)
    report = await repair.repair(desk, grace=timedelta(0))
    assert duplicate in report.merges_finished
    given_up = await desk.tickets.get(duplicate)
    assert given_up is not None
    assert not given_up.ticket.merging_into and not given_up.ticket.merged_into
    assert given_up.ticket.status == "new"
    assert len(kinds(given_up, EntryKind.MERGE_CANCELLED)) == 1
    assert kinds(await desk.tickets.get(target), EntryKind.MERGED) == []
