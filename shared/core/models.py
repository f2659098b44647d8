"""Pydantic models, one per role: what a requester submits, how a ticket is kept, what an
agent sees. The storage entity is never the API shape (see `shared/storage/entities.py`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from shared.core.filenames import safe_filename
from shared.core.lifecycle import Status


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    API = "api"


class EntryKind(StrEnum):
    """What a thread entry is. Messages and notes are people talking; the rest are events."""

    CREATED = "created"
    MESSAGE = "message"            # from the requester
    REPLY = "reply"                # an agent's public answer
    NOTE = "note"                  # internal
    ASSIGNED = "assigned"
    CHANGED = "changed"            # priority or category changed by an agent
    INFO_REQUESTED = "info_requested"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    REMINDER = "reminder"
    SLA = "sla"                    # the SLA clock started, paused, resumed, warned, breached
    EMAIL_SENT = "email_sent"
    RATED = "rated"                # the requester said whether the resolution solved it
    # Merging a duplicate (shared/tickets/relations.py): the intent on the duplicate, the
    # duplicate taken in by the target, the duplicate closed with its pointer; or given up.
    MERGING = "merging"
    MERGED = "merged"
    MERGED_INTO = "merged_into"
    MERGE_CANCELLED = "merge_cancelled"
    LINKED = "linked"              # a link to another ticket added (each side has one)
    UNLINKED = "unlinked"
    COLLABORATORS = "collaborators"  # an address copied on the ticket was added or removed


class TicketSubmission(BaseModel):
    """What the public web form (or a JSON client) sends. Limits are checked by the service,
    since they are settings; the shapes here are fixed."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1)
    email: EmailStr
    subject: str = Field(min_length=1)
    description: str = Field(min_length=1)
    priority: Priority = Priority.NORMAL
    category: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict, description="the category's own "
                                   "fields: field id → value (shared/core/fields.py)")


class PhoneSubmission(TicketSubmission):
    """A ticket an agent takes by phone: the caller may have no email, but then a number."""

    email: EmailStr | None = None  # type: ignore[assignment]
    phone: str | None = Field(None, max_length=40, pattern=r"^[0-9+()./ -]{3,40}$")

    @model_validator(mode="after")
    def _reachable(self) -> PhoneSubmission:
        if not self.email and not self.phone:
            raise ValueError("give the caller's email or phone number (or both)")
        return self


class AttachmentUpload(BaseModel):
    """One uploaded file, before it is stored."""

    filename: str
    content_type: str = "application/octet-stream"
    data: bytes

    @field_validator("filename")
    @classmethod
    def _safe(cls, value: str) -> str:
        # Every channel builds its uploads here, so none keeps a path or control characters.
        return safe_filename(value)


class AttachmentInfo(BaseModel):
    """An attachment as stored and as shown: metadata, never the bytes."""

    id: str
    filename: str
    size: int
    content_type: str
    sha256: str
    entry: int = Field(description="sequence number of the thread entry it belongs to")


class ThreadEntry(BaseModel):
    """One entry of a ticket's append-only history."""

    seq: int
    kind: EntryKind
    at: datetime
    actor: str
    public: bool
    body: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class LinkKind(StrEnum):
    """What the other ticket of a link is to this one."""

    RELATED = "related"
    PARENT = "parent"
    CHILD = "child"


class TicketLink(BaseModel):
    """One link as a ticket keeps it: `ticket` is the other one, `kind` what it is to this."""

    ticket: str
    kind: LinkKind


class LinkView(TicketLink):
    """A link as an agent sees it: the other ticket's subject and status beside it."""

    subject: str
    status: Status
    merged_into: str | None = None


class Ticket(BaseModel):
    """A ticket as the domain knows it (the head of its thread)."""

    number: str
    subject: str
    description: str
    requester_name: str
    requester_email: str
    priority: Priority
    category: str
    status: Status
    channel: Channel
    team: str | None = None
    assignee: str | None = None
    created_at: datetime
    updated_at: datetime
    last_seq: int = Field(description="sequence number of the newest thread entry")
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    resolution: str | None = None
    due_at: datetime | None = Field(None, description="when the next SLA target falls due")
    cc: list[str] = Field(default_factory=list, description="addresses copied on the request")
    tags: list[str] = Field(default_factory=list)
    sla: dict[str, Any] | None = Field(None, description="the SLA clock (shared/sla/clocks.py)")
    overdue: bool = False
    sla_check_at: datetime | None = Field(None, description="when the SLA sweep must look "
                                          "at the ticket next (a warning or a breach)")
    sla_plan: str | None = Field(None, description="SLA plan chosen by a rule; else by priority")
    reminded_at: datetime | None = Field(None, description="when the requester was reminded "
                                         "while the ticket waited on them")
    phone: str | None = None
    satisfied: bool | None = Field(None, description="the requester's latest answer to "
                                   "\"did this solve your problem?\" (portal)")
    satisfaction_comment: str | None = None
    rated_at: datetime | None = None
    merged_into: str | None = Field(None, description="the ticket this duplicate was merged "
                                    "into (it is closed and points there)")
    merging_into: str | None = Field(None, description="a merge into this ticket was begun "
                                     "and is not finished yet")
    merged_from: list[str] = Field(default_factory=list,
                                   description="the duplicates merged into this ticket")
    links: list[TicketLink] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict, description="the category's own "
                                   "fields' values, by field id (shared/core/fields.py)")


class TicketCreated(BaseModel):
    """The answer to a successful submission."""

    number: str
    status: Status
    subject: str
    priority: Priority
    category: str
    created_at: datetime
    attachments: list[AttachmentInfo] = Field(default_factory=list)


class AgentTicketView(BaseModel):
    """A ticket as an agent reads it: the head, its whole thread and its attachments."""

    ticket: Ticket
    thread: list[ThreadEntry]
    attachments: list[AttachmentInfo]
    etag: str = Field(exclude=True)
    allowed_actions: list[str] = Field(default_factory=list,
                                       description="what the caller may do to it now")
    sla_due: dict[str, datetime | None] = Field(
        default_factory=dict, description="each SLA target's due time; null once met or "
        "while the clock is paused")
    links: list[LinkView] = Field(default_factory=list, description="the linked tickets, "
                                  "each with its subject and status")
