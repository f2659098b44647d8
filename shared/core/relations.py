"""Merging a duplicate into another ticket and linking tickets: the rules. Pure: no I/O.

A merge and a link each touch two tickets, so two partitions: `shared/tickets/relations.py`
writes them as several guarded writes. This module decides what each write is (the
changed ticket and its one thread entry) and what is refused.

A merge leaves the duplicate's thread, attachments and history where they are: the
target gains a `merged` entry naming the duplicate (the agents' page shows the
duplicate's thread there, collapsed) and the duplicate's requester and Cc addresses as
its own Cc, so their mail joins it; the duplicate is closed with `merged_into`. Merged
(and half-merged) tickets take no further action but notes.

Links are kept on both tickets' heads: `{"ticket": other, "kind": what other is to this
one}`; `related` on both sides, `parent` on one and `child` on the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from shared.core.actions import ActionBody
from shared.core.errors import Conflict, ValidationFailed
from shared.core.lifecycle import Status, is_closed, is_done
from shared.core.models import EntryKind, LinkKind, ThreadEntry, Ticket, TicketLink
from shared.core.numbering import is_valid

REVERSE = {LinkKind.RELATED: LinkKind.RELATED, LinkKind.PARENT: LinkKind.CHILD,
           LinkKind.CHILD: LinkKind.PARENT}
# A head is one table entity (1 MiB, 255 properties, 32K characters a property): its links
# and its list of merged duplicates are bounded well inside that.
MAX_LINKS = 50
MAX_MERGED = 200
# How far up a parent chain the cycle check looks (each step is one point read).
MAX_DEPTH = 20


def _number(value: str) -> str:
    if not is_valid(value):
        raise ValueError("not a ticket number (8 digits, the last a check digit)")
    return value


TicketNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20),
                         AfterValidator(_number)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]


class MergeBody(ActionBody):
    into: TicketNumber = Field(description="the ticket the duplicate is merged into")
    comment: Comment = Field("", description="why (internal, on both tickets)")


class LinkBody(ActionBody):
    ticket: TicketNumber = Field(description="the other ticket")
    kind: LinkKind = Field(description="what the other ticket is to this one")


# -- merging ---------------------------------------------------------------------------

def merge_refusal(duplicate: Ticket, target: Ticket | None, into: str) -> None:
    """Raise why `duplicate` may not be merged into `target` (None: it does not exist)."""
    if duplicate.number == into:
        raise ValidationFailed("A ticket cannot be merged into itself.",
                               errors=[{"field": "into", "message": "the ticket itself"}])
    if target is None:
        raise ValidationFailed(f"No ticket {into}.",
                               errors=[{"field": "into", "message": f"no ticket {into}"}])
    if duplicate.merged_into:
        raise Conflict(f"Ticket {duplicate.number} was merged into {duplicate.merged_into} "
                       "already.", extra={"merged_into": duplicate.merged_into})
    if duplicate.merging_into and duplicate.merging_into != into:
        raise Conflict(f"Ticket {duplicate.number} is being merged into "
                       f"{duplicate.merging_into}.", extra={"merging_into": duplicate.merging_into})
    if is_closed(duplicate.status):
        raise Conflict(f"Ticket {duplicate.number} is closed; reopen it to merge it.",
                       extra={"current_status": duplicate.status.value})
    merged = target.merged_into or target.merging_into
    if merged:
        # Also the cycle: A into B when B was merged into A.
        raise Conflict(f"Ticket {into} was merged into {merged}; merge into {merged} instead.",
                       extra={"merged_into": merged})
    if is_closed(target.status):
        raise Conflict(f"Ticket {into} is closed; reopen it to merge into it.",
                       extra={"target_status": target.status.value})
    if len(target.merged_from) >= MAX_MERGED:
        raise Conflict(f"Ticket {into} has {MAX_MERGED} duplicates merged into it already.")


def is_merged(ticket: Ticket) -> bool:
    """Merged into another ticket, or being merged: only notes are taken."""
    return bool(ticket.merged_into or ticket.merging_into)


def _entry(ticket: Ticket, kind: EntryKind, *, actor: str, now: datetime, public: bool,
           body: str = "", data: dict[str, Any]) -> ThreadEntry:
    return ThreadEntry(seq=ticket.last_seq + 1, kind=kind, at=now, actor=actor, public=public,
                       body=body, data=data)


def _touched(ticket: Ticket, now: datetime, **changes: Any) -> Ticket:
    return ticket.model_copy(update={"updated_at": now, "last_seq": ticket.last_seq + 1,
                                     **changes})


def start_merge(duplicate: Ticket, into: str, *, actor: str, comment: str, now: datetime
                ) -> tuple[Ticket, ThreadEntry]:
    """Step 1: the intent, on the duplicate (it takes only notes from now on)."""
    entry = _entry(duplicate, EntryKind.MERGING, actor=actor, now=now, public=False,
                   body=comment, data={"into": into})
    return _touched(duplicate, now, merging_into=into), entry


def participants(duplicate: Ticket, target: Ticket) -> list[str]:
    """The duplicate's requester and Cc addresses the target does not have yet."""
    have = {target.requester_email.lower(), *(a.lower() for a in target.cc)}
    found: list[str] = []
    for address in (duplicate.requester_email, *duplicate.cc):
        address = address.strip().lower()
        if address and address not in have and address not in found:
            found.append(address)
    return found


def take_in(target: Ticket, duplicate: Ticket, *, actor: str, comment: str, now: datetime
            ) -> tuple[Ticket, ThreadEntry]:
    """Step 2: the target names the duplicate and copies its people."""
    added = participants(duplicate, target)
    entry = _entry(target, EntryKind.MERGED, actor=actor, now=now, public=False, body=comment,
                   data={"duplicate": duplicate.number, "subject": duplicate.subject,
                         "requester": duplicate.requester_email, "cc_added": added})
    return _touched(target, now, cc=[*target.cc, *added],
                    merged_from=[*target.merged_from, duplicate.number]), entry


def finish_merge(duplicate: Ticket, target: Ticket, *, actor: str, now: datetime
                 ) -> tuple[Ticket, ThreadEntry]:
    """Step 3: the duplicate closes with its pointer. The entry is public: the requester
    is told where their request went (once, shared/notifications/notify.py)."""
    entry = _entry(duplicate, EntryKind.MERGED_INTO, actor=actor, now=now, public=True,
                   body=f"#{target.number}: {target.subject}",
                   data={"into": target.number, "from": duplicate.status.value,
                         "to": Status.CLOSED.value})
    return _touched(duplicate, now, status=Status.CLOSED, closed_at=now, merged_into=target.number,
                    merging_into=None), entry


def cancel_merge(duplicate: Ticket, *, reason: str, now: datetime) -> tuple[Ticket, ThreadEntry]:
    """The target stopped accepting before it took the duplicate in: the intent goes."""
    entry = _entry(duplicate, EntryKind.MERGE_CANCELLED, actor="helpdesk", now=now,
                   public=False, body=reason, data={"into": duplicate.merging_into})
    return _touched(duplicate, now, merging_into=None), entry


def merge_intent(thread: list[ThreadEntry], into: str) -> ThreadEntry | None:
    """The entry that began the merge into `into` (its actor and comment carry on)."""
    return next((e for e in reversed(thread)
                 if e.kind is EntryKind.MERGING and e.data.get("into") == into), None)


# -- links -----------------------------------------------------------------------------

def link_of(ticket: Ticket, other: str) -> TicketLink | None:
    return next((link for link in ticket.links if link.ticket == other), None)


def link_refusal(ticket: Ticket, other: Ticket | None, number: str, kind: LinkKind) -> None:
    """Raise why `ticket` may not be linked to `other` as `kind` (cycles are checked
    apart, `cycle_refusal`, since they need the chain of parents)."""
    if ticket.number == number:
        raise ValidationFailed("A ticket cannot be linked to itself.",
                               errors=[{"field": "ticket", "message": "the ticket itself"}])
    if other is None:
        raise ValidationFailed(f"No ticket {number}.",
                               errors=[{"field": "ticket", "message": f"no ticket {number}"}])
    for side in (ticket, other):
        if is_merged(side):
            into = side.merged_into or side.merging_into
            raise Conflict(f"Ticket {side.number} was merged into {into}; link {into} instead.",
                           extra={"merged_into": into})
    for side in (ticket, other):
        if len(side.links) >= MAX_LINKS:
            raise Conflict(f"Ticket {side.number} has {MAX_LINKS} links already.")


def duplicate_refusal(existing: TicketLink, kind: LinkKind) -> Conflict:
    return Conflict(f"The tickets are linked already (as {existing.kind.value}); remove "
                    "that link first.", extra={"kind": existing.kind.value})


def parent_and_child(number: str, other: str, kind: LinkKind) -> tuple[str, str] | None:
    """(parent, child) of the link `other` is `kind` to `number`; None for related."""
    if kind is LinkKind.PARENT:
        return other, number
    if kind is LinkKind.CHILD:
        return number, other
    return None


def parents(ticket: Ticket) -> list[str]:
    return [link.ticket for link in ticket.links if link.kind is LinkKind.PARENT]


def children(ticket: Ticket) -> list[str]:
    return [link.ticket for link in ticket.links if link.kind is LinkKind.CHILD]


def cycle_refusal(parent: str, child: str) -> Conflict:
    return Conflict(f"Ticket {child} is above {parent} already (a parent of it, or of its "
                    "parents): the link would make a cycle.")


def add_link(ticket: Ticket, other: str, kind: LinkKind, *, actor: str, now: datetime
             ) -> tuple[Ticket, ThreadEntry]:
    entry = _entry(ticket, EntryKind.LINKED, actor=actor, now=now, public=False,
                   data={"ticket": other, "kind": kind.value})
    return _touched(ticket, now, links=[*ticket.links, TicketLink(ticket=other, kind=kind)]), entry


def remove_link(ticket: Ticket, other: str, *, actor: str, now: datetime
                ) -> tuple[Ticket, ThreadEntry]:
    old = link_of(ticket, other)
    entry = _entry(ticket, EntryKind.UNLINKED, actor=actor, now=now, public=False,
                   data={"ticket": other, "kind": old.kind.value if old else None})
    return _touched(ticket, now, links=[link for link in ticket.links if link.ticket != other]), \
        entry


def links_back(other: Ticket, number: str, kind: LinkKind) -> bool:
    """Whether `other` holds the other half of `number`'s link to it as `kind`: a link is
    shown, and counts, only when both halves are written."""
    found = link_of(other, number)
    return found is not None and found.kind is REVERSE[kind]


def open_children(kids: list[Ticket]) -> list[str]:
    """The children that are not done (a merged one is closed, so done)."""
    return [kid.number for kid in kids if not is_done(kid.status)]
