"""Erasing a requester: their name and address replaced everywhere the desk keeps them,
their messages' text removed or redacted, their files removed; and the retention that
erases closed tickets past a configured age the same way.

An erasure is a job, recorded before anything is erased (`request_erasure`), then run
from the `erasures` queue (`run`) eraser by eraser, with a checkpoint after each ticket
and each eraser: a crash, a redelivered message or a run out of time (it queues its own
continuation) finishes it. The erasers, their registry `ERASERS` and the replacement
identity are in `shared/admin/erasers.py`.

The job's row holds the address only while it runs; once done it keeps the opaque id and
counts, and `record_erasure` is the one place that reports it (to the audit log).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, TypeAdapter, ValidationError

from shared.admin.erasers import (
    BUDGET_SECONDS,
    ERASERS,
    OutOfTime,
    Run,
    is_erased,
    replacement_address,
)
from shared.core.audit import Actor, AuditEntry
from shared.core.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

RETENTION_BATCH = 500  # tickets one retention job takes (the next day's run takes more)
RESUME_AFTER = timedelta(minutes=30)  # a job not done by then is sent to the queue again


class RequesterRequest(BaseModel):
    """Whose data: the address, in the body (never in a URL, which logs keep)."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class ErasureRequest(RequesterRequest):
    confirm: str = Field(description="the same address again: an erasure cannot be undone")


class ErasureJob(BaseModel):
    """A job as an admin sees it: never the address."""

    id: str
    kind: Literal["requester", "retention"]
    state: Literal["pending", "running", "done"]
    mode: Literal["remove", "redact"]
    replacement: str = Field("", description="the address that stands for the erased one")
    tickets: int = Field(0, description="tickets found to erase")
    tickets_done: int = 0
    steps_done: list[str] = Field(default_factory=list)
    erased: dict[str, int] = Field(default_factory=dict, description="what each eraser erased")
    requested_at: datetime
    finished_at: datetime | None = None


# -- requesting, running, reporting ----------------------------------------------------


_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailStr)


def parse_address(value: Any, field: str = "email") -> str:
    try:
        return _ADDRESS.validate_python(value).strip().lower()
    except ValidationError:
        raise ValidationFailed("An email address is needed.",
                               errors=[{"field": field, "message": "an email address"}]) from None


def _view(job: dict[str, Any]) -> ErasureJob:
    return ErasureJob(id=job["id"], kind=job["kind"], state=job["state"], mode=job["mode"],
                      replacement=job.get("replacement", ""), tickets=len(job.get("numbers") or []),
                      tickets_done=int(job.get("cursor") or 0), steps_done=list(job.get("steps") or []),
                      erased=dict(job.get("erased") or {}), requested_at=job["requested_at"],
                      finished_at=job.get("finished_at"))


async def request_erasure(body: dict[str, Any], *, requested_by: str, desk: Helpdesk) -> ErasureJob:
    """Record the job (the address kept only until it is done), then queue it."""
    address = parse_address(body.get("email"))
    confirm = body.get("confirm")
    if not isinstance(confirm, str) or confirm.strip().lower() != address:
        raise ValidationFailed("Type the address again in `confirm` to erase it.",
                               errors=[{"field": "confirm", "message": "the same address again"}])
    if is_erased(address):
        raise ValidationFailed("That address is already an erased one.",
                               errors=[{"field": "email", "message": "already erased"}])
    job: dict[str, Any] = {"id": uuid.uuid4().hex, "kind": "requester", "state": "pending",
           "mode": desk.settings.erasure_mode, "address": address,
           "replacement": replacement_address(address, key=desk.settings.portal_secret),
           "requested_by": requested_by, "requested_at": desk.clock(), "cursor": 0}
    await desk.erasures.save(job["id"], job)
    await desk.erasure_runs.publish(job["id"])
    return _view(job)


async def job_status(job_id: str, *, desk: Helpdesk) -> ErasureJob:
    job = await desk.erasures.get(job_id) if re.fullmatch(r"[0-9a-f]{32}", job_id) else None
    if job is None:
        raise NotFound("No such erasure.")
    return _view({**job, "id": job_id})


async def _collect(run: Run) -> None:
    """The requester's tickets (theirs, and those that copy them) and the names they gave."""
    desk = run.desk
    address = run.job["address"]
    numbers: dict[str, None] = {}
    rows = await desk.tickets.requester_rows(address, limit=100_000)
    numbers.update((r["number"], None) for r in rows)
    numbers.update((n, None) for n in await desk.tickets.numbers_copying(address))
    heads = await desk.tickets.heads(list(numbers))
    names = sorted({t.requester_name for t in heads.values()
                    if t.requester_email.strip().lower() == address and t.requester_name})
    run.job |= {"numbers": list(numbers), "names": names, "state": "running"}
    await run.checkpoint()


async def run(job_id: str, *, desk: Helpdesk, budget: float = BUDGET_SECONDS) -> ErasureJob | None:
    """Run (or continue) a job; None if there is no such job. A job out of time queues
    its own continuation; a crash leaves the checkpoint for the redelivered message."""
    job = await desk.erasures.get(job_id)
    if job is None:
        log.warning("erasure %s: no such job", job_id)
        return None
    job["id"] = job_id
    if job["state"] == "done":
        return _view(job)
    current = Run(job={**job, "budget": budget}, desk=desk)
    if job["kind"] == "requester" and job.get("numbers") is None:
        await _collect(current)
    steps = list(current.job.get("steps") or [])
    erased = dict(current.job.get("erased") or {})
    for eraser in ERASERS:
        if eraser.name in steps or (eraser.scope == "address" and job["kind"] != "requester"):
            continue
        try:
            erased[eraser.name] = await eraser.erase(current)
        except OutOfTime:
            await desk.erasure_runs.publish(job_id)
            return _view(current.job)
        steps.append(eraser.name)
        current.job |= {"steps": steps, "erased": erased}
        await current.checkpoint()
    finished = {k: v for k, v in current.job.items()
                if k not in ("address", "names", "budget")}
    finished |= {"state": "done", "finished_at": desk.clock()}
    view = _view(finished)
    # Recorded before the job is marked done: a failure here leaves it to the next
    # delivery (at worst recorded twice, never not at all).
    await record_erasure(view, requested_by=str(job.get("requested_by") or "retention"),
                         desk=desk)
    await desk.erasures.save(job_id, finished)
    return view


async def record_erasure(job: ErasureJob, *, requested_by: str, desk: Helpdesk) -> None:
    """The erasure's entry in the audit log: the job's opaque id, who asked (an admin, or
    the retention timer), what was done, and the address that stands for the requester
    now; never the erased address or name. (The admin's request itself is in the log as
    well, from the HTTP layer: `POST /api/requesters/erase`, its body's field names.)"""
    log.info("erasure %s done: kind %s, by %s, mode %s, %d tickets, stands for %s",
             job.id, job.kind, requested_by, job.mode, job.tickets, job.replacement)
    entry = AuditEntry(at=desk.clock(), actor=Actor(kind="principal", id=requested_by),
                       method="JOB", route="erasure", target=job.id, status=200,
                       summary=f"{job.kind} erased: {job.tickets} tickets, mode {job.mode}; "
                               f"stands for {job.replacement}")
    await desk.audit.begin(entry)


# -- retention --------------------------------------------------------------------------


def months_before(at: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (the day clamped to the month's end)."""
    total = at.year * 12 + at.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    for day in range(at.day, 27, -1):
        try:
            return at.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return at.replace(year=year, month=month, day=min(at.day, 28))


async def retention(*, desk: Helpdesk) -> ErasureJob | None:
    """The daily timer: jobs not finished are sent to the queue again; with retention on,
    a job erases the closed tickets closed more than `retention_months` ago (up to
    `RETENTION_BATCH` a day, those already erased left out)."""
    now = desk.clock()
    for job_id in await desk.erasures.unfinished(requested_before=now - RESUME_AFTER):
        await desk.erasure_runs.publish(job_id)
    months = desk.settings.retention_months
    if months <= 0:
        return None
    cutoff = months_before(now, months)
    rows = await desk.tickets.closed_rows(
        [("closed_at", "lt", cutoff)], end_day=cutoff.strftime("%Y%m%d") + "~",
        select=["number", "requester_email"])
    numbers = [r["number"] for r in rows
               if not is_erased(str(r.get("requester_email") or ""))][:RETENTION_BATCH]
    if not numbers:
        return None
    job: dict[str, Any] = {"id": uuid.uuid4().hex, "kind": "retention", "state": "running",
           "mode": desk.settings.erasure_mode, "numbers": numbers, "cursor": 0,
           "requested_by": "retention", "requested_at": now}
    await desk.erasures.save(job["id"], job)
    await desk.erasure_runs.publish(job["id"])
    return _view(job)


def parse_message(body: bytes | str) -> str:
    """The job id a queue message names."""
    value = json.loads(body)
    job_id = str(value["id"]) if isinstance(value, dict) else ""
    if not re.fullmatch(r"[0-9a-f]{32}", job_id):
        raise ValueError("not an erasure message")
    return job_id
