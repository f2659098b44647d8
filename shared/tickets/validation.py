"""What a submission must be before intake takes it: its shape (pydantic), the configured
limits (counted as a browser and Table Storage count them), known categories, text safe
for email headers, and attachments within their limits. Every bad field is named at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from shared.core.errors import PayloadTooLarge, ValidationFailed, field_errors
from shared.core.fields import Audience, FieldDef, check_submission
from shared.core.models import AttachmentUpload, Channel, PhoneSubmission, TicketSubmission
from shared.core.settings import Settings
from shared.mail.inbound.headers import header_text


def utf16_units(text: str) -> int:
    """A text's length as a browser's `maxlength` and Table Storage count it: in UTF-16
    code units, so a character outside the BMP (an emoji) counts twice. Counted in code
    points, 20,000 emoji would pass the description limit and overflow the table's
    32K-unit property."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# Who submits on each channel (which fields they may set) and whose required fields are
# enforced: a requester's on the web form and the API; an agent's when they take a call;
# an integration's key (osTicket's API) may set agent-only fields but is held only to the
# requester's; nothing for email and chat, which cannot carry fields.
AUDIENCES: dict[Channel, tuple[Audience, Audience | None]] = {
    Channel.WEB: ("requester", "requester"),
    Channel.PHONE: ("agent", "agent"),
    Channel.API: ("agent", "requester"),
    Channel.EMAIL: ("requester", None),
    Channel.CHAT: ("requester", None),
}


def validate_submission(raw: Mapping[str, Any], settings: Settings,
                        categories: list[str] | tuple[str, ...] | None = None,
                        *, channel: Channel = Channel.WEB,
                        definitions: Mapping[str, list[FieldDef]] | None = None,
                        audience: tuple[Audience, Audience | None] | None = None
                        ) -> TicketSubmission:
    """Shape (pydantic), configured limits, known categories and the category's fields
    (`definitions`: each category's, by id), every bad field at once. `audience`: who
    submits and whose required fields count, when not the channel's (`AUDIENCES`)."""
    who, require = audience or AUDIENCES[channel]
    categories = settings.categories if categories is None else categories
    model = PhoneSubmission if channel is Channel.PHONE else TicketSubmission
    errors: list[dict[str, str]] = []
    submission: TicketSubmission | None
    try:
        submission = model.model_validate(dict(raw))
    except ValidationError as exc:
        errors = field_errors(exc)
        submission = None
    limits = settings.limits
    for name, limit in (("name", limits.name_chars), ("subject", limits.subject_chars),
                        ("description", limits.description_chars)):
        value = raw.get(name)
        if isinstance(value, str) and utf16_units(value.strip()) > limit:
            errors.append({"field": name, "message": f"at most {limit} characters"})
    category = raw.get("category")
    if category not in (None, "") and category not in categories:
        errors.append({
            "field": "category",
            "message": f"unknown category; one of: {', '.join(categories)}",
        })
    if submission is not None:
        errors += header_safe(submission)
        chosen = submission.category or settings.default_category
        if chosen in categories or not raw.get("fields"):
            values, bad = check_submission((definitions or {}).get(chosen, []),
                                           raw.get("fields"), category=chosen,
                                           audience=who, require=require)
            errors += bad
            submission.fields = values
    elif isinstance(raw.get("fields"), Mapping) or raw.get("fields") is None:
        # The rest is broken too: still name each bad field of the category at once.
        chosen = str(raw.get("category") or settings.default_category)
        errors += check_submission((definitions or {}).get(chosen, []), raw.get("fields"),
                                   category=chosen, audience=who, require=require)[1]
    if errors or submission is None:
        raise ValidationFailed("The ticket has invalid fields.", errors=errors)
    if not submission.category:
        submission.category = settings.default_category
    return submission


def header_safe(submission: TicketSubmission) -> list[dict[str, str]]:
    """Name and subject reach email headers (the acknowledgement's subject): stored as a
    mail client would show them, with encoded words decoded and control characters gone
    (shared.mail.inbound.headers.header_text), so none can hide a line break. An address
    cannot be encoded at all: one with encoded-word syntax is refused."""
    errors = []
    for name in ("name", "subject"):
        value = header_text(getattr(submission, name))
        if not value:
            errors.append({"field": name, "message": "nothing left once control characters "
                                                     "are removed"})
        setattr(submission, name, value)
    if submission.email is not None and "=?" in str(submission.email):
        errors.append({"field": "email", "message": "not an address mail can be sent to"})
    return errors


def check_attachments(uploads: list[AttachmentUpload], settings: Settings) -> None:
    limits = settings.limits
    if len(uploads) > limits.attachments_per_ticket:
        raise PayloadTooLarge(
            f"At most {limits.attachments_per_ticket} attachments per ticket.",
            errors=[{"field": "attachments",
                     "message": f"{len(uploads)} files; at most {limits.attachments_per_ticket}"}],
        )
    too_big = [u for u in uploads if len(u.data) > limits.attachment_bytes]
    if too_big:
        raise PayloadTooLarge(
            f"Each attachment may be at most {limits.attachment_bytes} bytes.",
            errors=[{"field": "attachments",
                     "message": f"{u.filename}: {len(u.data)} bytes"} for u in too_big],
        )
    unnamed = [i for i, u in enumerate(uploads) if not u.filename.strip()]
    if unnamed:
        raise ValidationFailed(
            "Every attachment needs a file name.",
            errors=[{"field": f"attachments.{i}", "message": "missing file name"}
                    for i in unnamed],
        )
