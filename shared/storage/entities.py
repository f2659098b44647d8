"""Converting domain models to table entities and back. The only place that knows
property names in storage."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.core import fields
from shared.core.lifecycle import Status
from shared.core.models import AttachmentInfo, Channel, EntryKind, Priority, ThreadEntry, Ticket

HEAD = "ticket"
ENTRY_PREFIX = "evt-"
ATTACHMENT_PREFIX = "att-"
MAIL_PREFIX = "mail-"
METRICS = "metrics"  # what the ticket added to the reports (shared/storage/reports.py)


def entry_key(seq: int) -> str:
    return f"{ENTRY_PREFIX}{seq:06d}"


def attachment_key(attachment_id: str) -> str:
    return f"{ATTACHMENT_PREFIX}{attachment_id}"


def mail_key(seq: int, purpose: str) -> str:
    return f"{MAIL_PREFIX}{seq:06d}-{purpose}"


def ticket_entity(ticket: Ticket, *, index_keys: list[str], version: int) -> dict[str, Any]:
    """The head entity at `version` (the agent-visible version, shared/storage/tickets.py).
    Unset optional fields are left out (a Replace then removes them)."""
    entity = {
        "PartitionKey": ticket.number,
        "RowKey": HEAD,
        "subject": ticket.subject,
        "description": ticket.description,
        "requester_name": ticket.requester_name,
        "requester_email": ticket.requester_email,
        "priority": ticket.priority.value,
        "category": ticket.category,
        "status": ticket.status.value,
        "channel": ticket.channel.value,
        "team": ticket.team or "",
        "assignee": ticket.assignee or "",
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "last_seq": ticket.last_seq,
        "index_keys": json.dumps(index_keys),
        "first_response_at": ticket.first_response_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "resolution": ticket.resolution,
        "due_at": ticket.due_at,
        "cc": json.dumps(ticket.cc) if ticket.cc else None,
        "phone": ticket.phone,
        "reminded_at": ticket.reminded_at,
        "tags": json.dumps(ticket.tags) if ticket.tags else None,
        "sla_plan": ticket.sla_plan,
        "sla": json.dumps(ticket.sla) if ticket.sla else None,
        "overdue": ticket.overdue or None,
        "sla_check_at": ticket.sla_check_at,
        "satisfied": ticket.satisfied,
        "satisfaction_comment": ticket.satisfaction_comment,
        "rated_at": ticket.rated_at,
        "merged_into": ticket.merged_into,
        "merging_into": ticket.merging_into,
        "merged_from": json.dumps(ticket.merged_from) if ticket.merged_from else None,
        "links": json.dumps([link.model_dump(mode="json") for link in ticket.links])
        if ticket.links else None,
        "fields": fields.dumps(ticket.fields) if ticket.fields else None,
        "version": version,
    }
    return {k: v for k, v in entity.items() if v is not None}


def version_of(entity: dict[str, Any]) -> int:
    """The head's agent-visible version; 0 for a ticket written before versions existed."""
    return int(entity.get("version") or 0)


def ticket_from_entity(entity: dict[str, Any]) -> Ticket:
    return Ticket(
        number=entity["PartitionKey"],
        subject=entity["subject"],
        description=entity["description"],
        requester_name=entity["requester_name"],
        requester_email=entity["requester_email"],
        priority=Priority(entity["priority"]),
        category=entity["category"],
        status=Status(entity["status"]),
        channel=Channel(entity["channel"]),
        team=entity.get("team") or None,
        assignee=entity.get("assignee") or None,
        created_at=_aware(entity["created_at"]),
        updated_at=_aware(entity["updated_at"]),
        last_seq=int(entity["last_seq"]),
        first_response_at=_aware_or_none(entity.get("first_response_at")),
        resolved_at=_aware_or_none(entity.get("resolved_at")),
        closed_at=_aware_or_none(entity.get("closed_at")),
        resolution=entity.get("resolution") or None,
        due_at=_aware_or_none(entity.get("due_at")),
        cc=json.loads(entity.get("cc") or "[]"),
        phone=entity.get("phone") or None,
        reminded_at=_aware_or_none(entity.get("reminded_at")),
        tags=json.loads(entity.get("tags") or "[]"),
        sla_plan=entity.get("sla_plan") or None,
        sla=json.loads(entity["sla"]) if entity.get("sla") else None,
        overdue=bool(entity.get("overdue")),
        sla_check_at=_aware_or_none(entity.get("sla_check_at")),
        satisfied=entity.get("satisfied"),
        satisfaction_comment=entity.get("satisfaction_comment") or None,
        rated_at=_aware_or_none(entity.get("rated_at")),
        merged_into=entity.get("merged_into") or None,
        merging_into=entity.get("merging_into") or None,
        merged_from=json.loads(entity.get("merged_from") or "[]"),
        links=json.loads(entity.get("links") or "[]"),
        fields=json.loads(entity.get("fields") or "{}"),
    )


def entry_entity(number: str, entry: ThreadEntry) -> dict[str, Any]:
    return {
        "PartitionKey": number,
        "RowKey": entry_key(entry.seq),
        "kind": entry.kind.value,
        "at": entry.at,
        "actor": entry.actor,
        "public": entry.public,
        "body": entry.body,
        "data": json.dumps(entry.data),
    }


def entry_from_entity(entity: dict[str, Any]) -> ThreadEntry:
    return ThreadEntry(
        seq=int(entity["RowKey"][len(ENTRY_PREFIX):]),
        kind=EntryKind(entity["kind"]),
        at=_aware(entity["at"]),
        actor=entity["actor"],
        public=bool(entity["public"]),
        body=entity.get("body", ""),
        data=json.loads(entity.get("data") or "{}"),
    )


def attachment_entity(number: str, info: AttachmentInfo, *, blob_name: str) -> dict[str, Any]:
    return {
        "PartitionKey": number,
        "RowKey": attachment_key(info.id),
        "filename": info.filename,
        "size": info.size,
        "content_type": info.content_type,
        "sha256": info.sha256,
        "entry": info.entry,
        "blob_name": blob_name,
    }


def attachment_from_entity(entity: dict[str, Any]) -> AttachmentInfo:
    return AttachmentInfo(
        id=entity["RowKey"][len(ATTACHMENT_PREFIX):],
        filename=entity["filename"],
        size=int(entity["size"]),
        content_type=entity["content_type"],
        sha256=entity["sha256"],
        entry=int(entity["entry"]),
    )


def mail_entry(entity: dict[str, Any]) -> ThreadEntry:
    """A sent email, shown in the thread as an event at the time it was sent."""
    return ThreadEntry(
        seq=int(entity["seq"]),
        kind=EntryKind.EMAIL_SENT,
        at=_aware(entity["sent_at"]),
        actor="system",
        public=False,
        body=entity.get("subject", ""),
        data={
            "to": entity.get("to", ""),
            "message_id": entity.get("message_id", ""),
            "purpose": entity.get("purpose", ""),
            # Not sent on purpose (the per-address hourly limit): says why.
            **({"skipped": entity["skipped"]} if entity.get("skipped") else {}),
        },
    )


def _aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def _aware(value: datetime) -> datetime:
    # The SDK returns TablesEntityDatetime (a datetime subclass, UTC); normalise it.
    from datetime import UTC

    return datetime.fromtimestamp(value.timestamp(), tz=UTC)
