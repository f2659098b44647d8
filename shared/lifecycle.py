"""Ticket statuses and what they mean. Pure: no I/O.

Code asks questions of this table ("is this status active?") rather than comparing
status strings. The transitions between statuses (which action, by which role) join
this table with the lifecycle issue.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Category(StrEnum):
    """How a status counts: work to do, waiting on someone, or done."""

    ACTIVE = "active"
    WAITING = "waiting"
    DONE = "done"


STATUSES: dict[Status, Category] = {
    Status.NEW: Category.ACTIVE,
    Status.OPEN: Category.ACTIVE,
    Status.PENDING: Category.WAITING,
    Status.ESCALATED: Category.ACTIVE,
    Status.RESOLVED: Category.DONE,
    Status.CLOSED: Category.DONE,
}

INITIAL = Status.NEW


def is_active(status: str) -> bool:
    return STATUSES[Status(status)] is Category.ACTIVE
