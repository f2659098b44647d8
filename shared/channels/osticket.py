"""osTicket's ticket API (`POST /api/tickets.json`), translated to our intake.

The request is the one osTicket documents: `name`, `email`, `subject`, `message` (plain
text, or an RFC 2397 data URL such as `data:text/html,...`), `priority` (osTicket's ids
1–4 or names), `topicId` (mapped to a category by the `HELPDESK_OSTICKET_TOPICS`
setting), `source`, `alert`, `autorespond`, `ip`, `phone`, and `attachments` as a list
of `{"<file name>": "data:<type>;base64,..."}`. Any other top-level key is, as in
osTicket, a field of the help topic's form: it is passed on as one of the category's own
fields (shared/core/fields.py), and intake refuses, by name, a key that is none of them.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.channels import dataurl
from shared.core.errors import ValidationFailed
from shared.core.models import AttachmentUpload
from shared.mail.html import to_text

PRIORITIES = {"1": "low", "2": "normal", "3": "high", "4": "urgent",
              "low": "low", "normal": "normal", "high": "high", "emergency": "urgent",
              "urgent": "urgent"}
KNOWN = {"name", "email", "subject", "message", "priority", "topicId", "source", "alert",
         "autorespond", "ip", "phone", "attachments", "notes", "duedate"}


@dataclass
class OsTicketRequest:
    raw: dict[str, Any]
    uploads: list[AttachmentUpload]
    autorespond: bool
    details: dict[str, Any] = field(default_factory=dict)


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("0", "false", "no", "off", "")


def translate(body: dict[str, Any], *, topics: dict[str, str]) -> OsTicketRequest:
    errors: list[dict[str, str]] = []
    extra = {k: body[k] for k in body if k not in KNOWN}
    message = body.get("message")
    description: str | None = None
    html: str | None = None
    if isinstance(message, str) and message.startswith("data:"):
        try:
            parsed = dataurl.parse(message)
        except dataurl.DataUrlError as exc:
            errors.append({"field": "message", "message": str(exc)})
        else:
            if parsed.media_type == "text/html":
                html = parsed.text()
                description = to_text(html)
            else:
                description = parsed.text()
    elif isinstance(message, str):
        description = message
    elif message is not None:
        errors.append({"field": "message", "message": "a string"})
    raw: dict[str, Any] = {k: body[k] for k in ("name", "email", "subject") if k in body}
    if extra:
        raw["fields"] = extra
    if description is not None:
        raw["description"] = description
    if (priority := body.get("priority")) not in (None, ""):
        mapped = PRIORITIES.get(str(priority).strip().lower())
        if mapped is None:
            errors.append({"field": "priority", "message": "1-4 or low/normal/high/emergency"})
        else:
            raw["priority"] = mapped
    if (topic := body.get("topicId")) not in (None, ""):
        category = topics.get(str(topic))
        if category is None:
            errors.append({"field": "topicId",
                           "message": f"unknown help topic; known: {', '.join(topics)}"})
        else:
            raw["category"] = category
    uploads = _attachments(body.get("attachments"), errors)
    if errors:
        raise ValidationFailed("The ticket request has invalid fields.", errors=errors)
    details = {k: body[k] for k in ("source", "ip", "phone") if body.get(k)}
    if html is not None:
        details["html"] = True
    return OsTicketRequest(raw=raw, uploads=uploads,
                           autorespond=_flag(body.get("autorespond"), True), details=details)


def _attachments(value: Any, errors: list[dict[str, str]]) -> list[AttachmentUpload]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        errors.append({"field": "attachments", "message": "a list of {name: data URL}"})
        return []
    uploads = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or len(item) != 1:
            errors.append({"field": f"attachments.{i}", "message": "{file name: data URL}"})
            continue
        (filename, url), = item.items()
        try:
            parsed = dataurl.parse(str(url))
        except dataurl.DataUrlError as exc:
            errors.append({"field": f"attachments.{i}", "message": str(exc)})
            continue
        uploads.append(AttachmentUpload(filename=str(filename), content_type=parsed.media_type,
                                        data=parsed.data))
    return uploads
