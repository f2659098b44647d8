"""A requester's export: everything the desk holds about one address, as a ZIP.

For each ticket the address made (the `ticketrequesters` index): the ticket as the
requester sees it in the portal (its public thread only: never internal notes, events or
sent-mail records), its rating, and the files of its public entries. `MAX_BYTES` bounds
the files in one export: past it the export is refused with 413 rather than cut short,
since an export that silently leaves files out is not everything.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.core.errors import PayloadTooLarge
from shared.portal.service import portal_view, public_attachment

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

MAX_BYTES = 50 * 1024 * 1024  # the files of one export, before compression
MAX_TICKETS = 2000

README = """This is what {desk} holds about {email}, exported on {at:%Y-%m-%d %H:%M} UTC.

requester.json           the address, and how many requests it made
ratings.json             every rating you gave a resolution
tickets/<number>.json    each request as you see it: its messages and our answers
tickets/<number>/...     the files attached to them
"""


def _safe(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._ -]", "_", name).strip(" .") or "file"
    return cleaned[:100]


async def export(email: str, *, desk: Helpdesk) -> bytes:
    """The ZIP of `email`'s requests (the address already checked by the caller)."""
    address = email.strip().lower()
    rows = await desk.tickets.requester_rows(address, limit=MAX_TICKETS)
    buffer = io.BytesIO()
    total = 0
    ratings: list[dict[str, Any]] = []
    numbers: list[str] = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for row in rows:
            stored = await desk.tickets.get(row["number"])
            if stored is None or stored.ticket.requester_email.strip().lower() != address:
                continue
            view = await portal_view(stored, desk=desk, viewer=address)
            t = stored.ticket
            numbers.append(t.number)
            entries = []
            for entry in view.entries:
                files = []
                for info in entry.attachments:
                    public_attachment(stored, info.id)  # only the public entries' files
                    total += info.size
                    if total > MAX_BYTES:
                        raise PayloadTooLarge(
                            f"The files of these requests pass {MAX_BYTES // (1024 * 1024)} MB, "
                            "more than one export holds; ask the desk for them.")
                    path = f"tickets/{t.number}/{info.id[:8]}-{_safe(info.filename)}"
                    archive.writestr(path, await desk.attachments.read(stored.blob_names[info.id]))
                    files.append({"filename": info.filename, "size": info.size,
                                  "content_type": info.content_type, "path": path})
                entries.append({"at": entry.at, "kind": entry.kind.value, "who": entry.who,
                                "label": entry.label, "text": entry.body, "files": files,
                                **({"solved": entry.solved} if entry.solved is not None else {})})
            rating = None
            if t.satisfied is not None:
                rating = {"solved": t.satisfied, "comment": t.satisfaction_comment or "",
                          "at": _iso(t.rated_at)}
                ratings.append({"ticket": t.number, **rating})
            ticket = {"number": t.number, "subject": t.subject, "description": t.description,
                      "name": t.requester_name, "email": t.requester_email,
                      "status": t.status.value, "status_words": view.status_words,
                      "priority": t.priority.value, "category": t.category,
                      "channel": t.channel.value, "created_at": _iso(t.created_at),
                      "resolved_at": _iso(t.resolved_at), "closed_at": _iso(t.closed_at),
                      "resolution": t.resolution, "copied": t.cc, "rating": rating,
                      "thread": entries}
            archive.writestr(f"tickets/{t.number}.json", _json(ticket))
        archive.writestr("requester.json", _json({"email": address, "tickets": numbers,
                                                  "exported_at": _iso(desk.clock())}))
        archive.writestr("ratings.json", _json(ratings))
        archive.writestr("README.txt", README.format(desk=desk.settings.helpdesk_name,
                                                     email=address, at=desk.clock()))
    return buffer.getvalue()


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
