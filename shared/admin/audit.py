"""The audit log as admins read it: a page of entries, the CSV download, and retention.

Entries are written by the HTTP adapter (functions/auditing.py) around every request
that needs one; this module only reads them and deletes the days past the retention.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from shared.core.audit import (
    CSV_COLUMNS,
    AuditEntry,
    AuditQuery,
    csv_row,
    decode_continuation,
    encode_continuation,
)
from shared.core.csvcells import safe_cell

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    continuation: str | None = Field(None, description="pass back to get the next page")


async def page(query: AuditQuery, *, desk: Helpdesk) -> AuditPage:
    """One page of entries matching `query`, newest first."""
    first, last = query.days(desk.clock().date(), desk.settings.audit_retention_days)
    after = decode_continuation(query.continuation) if query.continuation else None
    entries, more = await desk.audit.page(query, first=first, last=last, after=after)
    return AuditPage(entries=entries, continuation=encode_continuation(more) if more else None)


async def csv_lines(query: AuditQuery, *, desk: Helpdesk) -> AsyncIterator[str]:
    """Every entry matching `query` (its limit is the page size read), newest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    paged = query.model_copy(update={"limit": 200, "continuation": None})
    while True:
        found = await page(paged, desk=desk)
        for entry in found.entries:
            writer.writerow([safe_cell(v) for v in csv_row(entry)])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if not found.continuation:
            return
        paged = paged.model_copy(update={"continuation": found.continuation})


async def prune(*, desk: Helpdesk, now: datetime) -> int:
    """Delete the days older than the retention (`HELPDESK_AUDIT_RETENTION_DAYS`): the
    day `retention` days ago is the oldest kept. Returns how many entries went."""
    keep_from = now.date() - timedelta(days=desk.settings.audit_retention_days)
    return await desk.audit.prune(keep_from=keep_from)
