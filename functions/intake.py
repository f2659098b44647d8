"""Intake over HTTP: `POST /api/tickets` from the web form and JSON clients."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from functions import web
from functions.deps import helpdesk
from functions.http import agent, handles_errors, json_body, json_response, wants_html
from shared.admin.apikeys import client_address
from shared.automation.engine import RejectedAsSpam
from shared.core import telemetry
from shared.core.directory import CategoryDef
from shared.core.errors import (
    BadRequest,
    HelpdeskError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from shared.core.models import AttachmentUpload, Channel, TicketCreated
from shared.helpdesk import Helpdesk
from shared.tickets.intake import submit_ticket

bp = func.Blueprint()
log = logging.getLogger(__name__)

# A field people never see (hidden by CSS) and bots fill in.
HONEYPOT = "website"
# The web form's own idempotency key, a hidden field with a new value for each page shown.
FORM_KEY = "submission_id"
_FORM_KEY_VALUE = re.compile(r"^[0-9a-f]{32}$")

FIELDS = ("name", "email", "subject", "description", "priority", "category", "phone",
          "channel", HONEYPOT, FORM_KEY)
FIELD_PREFIX = "field."
# The no-JavaScript form's "Continue" after choosing a category: the form again, with that
# category's fields, nothing stored (with JavaScript they appear at once).
STEP = "step"


def _json_fields(req: func.HttpRequest) -> tuple[dict[str, Any], list[AttachmentUpload]]:
    body = json_body(req) or {}
    raw_files = body.pop("attachments", None) or []
    if not isinstance(raw_files, list):
        raise BadRequest("`attachments` must be a list of {filename, content_type, data}.")
    uploads = []
    for i, item in enumerate(raw_files):
        try:
            uploads.append(AttachmentUpload(
                filename=str(item["filename"]),
                content_type=str(item.get("content_type") or "application/octet-stream"),
                data=base64.b64decode(item["data"], validate=True),
            ))
        except (KeyError, TypeError, AttributeError, binascii.Error, ValueError):
            raise BadRequest(
                f"attachments[{i}] needs `filename` and base64 `data`.",
                errors=[{"field": f"attachments.{i}", "message": "filename and base64 data"}],
            ) from None
    return body, uploads


def _form_fields(req: func.HttpRequest) -> tuple[dict[str, Any], list[AttachmentUpload]]:
    try:
        form, files = req.form, req.files
    except ValueError as exc:
        raise BadRequest(f"The form data could not be read: {exc}") from None
    raw: dict[str, Any] = {name: form.get(name) for name in FIELDS
                           if form.get(name) is not None}
    # The category's own fields are `field.<id>`; a multi-choice field's checkboxes
    # repeat the name (shared/core/fields.py).
    chosen = {name[len(FIELD_PREFIX):]: values if len(values) > 1 else values[0]
              for name in form if name.startswith(FIELD_PREFIX)
              if (values := form.getlist(name))}
    if chosen:
        raw["fields"] = chosen
    uploads = []
    for storage in files.getlist("attachments"):
        data = storage.read()
        if not storage.filename and not data:
            continue  # a file input left empty by the browser
        uploads.append(AttachmentUpload(
            filename=storage.filename or "",
            content_type=storage.mimetype or "application/octet-stream",
            data=data,
        ))
    return raw, uploads


def read_submission(req: func.HttpRequest, max_bytes: int
                    ) -> tuple[dict[str, Any], list[AttachmentUpload]]:
    if len(req.get_body()) > max_bytes:
        raise PayloadTooLarge(f"The request may be at most {max_bytes} bytes.")
    mimetype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return _json_fields(req)
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _form_fields(req)
    raise UnsupportedMediaType(
        "Send application/json, application/x-www-form-urlencoded or multipart/form-data."
    )


@bp.function_name("intake_create")
@bp.route(route="tickets", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.traced("intake_create")
async def intake_create(req: func.HttpRequest) -> func.HttpResponse:
    if wants_html(req):
        return await _create_from_browser(req)
    return await _create_json(req)


@dataclass
class Submission:
    raw: dict[str, Any]
    uploads: list[AttachmentUpload]
    channel: Channel
    actor: str | None
    spam: bool
    key: str | None = None


async def _read(req: func.HttpRequest, desk: Helpdesk) -> Submission:
    """Body, channel and who is submitting; counts public submissions per address."""
    raw, uploads = read_submission(req, desk.settings.limits.request_bytes)
    spam = bool(raw.pop(HONEYPOT, None))
    form_key = raw.pop(FORM_KEY, None)
    key = f"form-{form_key}" if isinstance(form_key, str) and _FORM_KEY_VALUE.match(form_key) else None
    channel_name = raw.pop("channel", None) or "web"
    if channel_name == Channel.PHONE.value:
        taker = await agent(req)  # only an agent takes a ticket on a caller's behalf
        return Submission(raw, uploads, Channel.PHONE, taker.user_id, spam=False)
    if channel_name != Channel.WEB.value:
        raise ValidationFailed("Unknown channel.", errors=[
            {"field": "channel", "message": "web (default) or phone"}])
    await desk.ratelimit.hit(client_address(req.headers.get("x-forwarded-for")), desk.clock())
    return Submission(raw, uploads, Channel.WEB, None, spam, key)


async def _submit(req: func.HttpRequest, desk: Helpdesk, sub: Submission) -> TicketCreated:
    return await submit_ticket(
        sub.raw, sub.uploads, desk=desk, channel=sub.channel, actor=sub.actor,
        idempotency_key=req.headers.get("idempotency-key") or sub.key,
        entry_data={"created_by": sub.actor} if sub.actor else None,
    )


@handles_errors
async def _create_json(req: func.HttpRequest) -> func.HttpResponse:
    desk = await helpdesk()
    sub = await _read(req, desk)
    if sub.spam:
        raise ValidationFailed("Rejected.", errors=[{"field": HONEYPOT, "message": "leave empty"}])
    created = await _submit(req, desk, sub)
    return json_response(created, status=201,
                         headers={"Location": f"/api/tickets/{created.number}"})


def _is_step(req: func.HttpRequest) -> bool:
    mimetype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return False
    try:
        return req.form.get(STEP) == "fields"
    except ValueError:
        return False


async def _create_from_browser(req: func.HttpRequest) -> func.HttpResponse:
    """The no-JavaScript web form: a readable page for success and for each error."""
    desk = await helpdesk()
    raw: dict[str, Any] = {}
    categories = await desk.directory.list(CategoryDef)
    try:
        if _is_step(req):
            raw, _ = read_submission(req, desk.settings.limits.request_bytes)
            return web.form_page(desk.settings, categories, values=raw)
        sub = await _read(req, desk)
        raw = sub.raw
        if sub.spam:
            # Answer a bot as if it had worked, so it learns nothing; nothing is stored.
            log.info("web form: honeypot filled in; submission dropped")
            return web.received_page(desk.settings)
        created = await _submit(req, desk, sub)
    except RejectedAsSpam:
        log.info("web form: submission rejected by a spam rule")
        return web.received_page(desk.settings)
    except HelpdeskError as error:
        return web.form_page(desk.settings, categories, values=raw, error=error)
    except Exception:
        log.exception("unhandled error in the web form's submission")
        return web.form_page(desk.settings, categories, values=raw,
                             error=HelpdeskError("Something went wrong on our side."))
    return web.created_page(desk.settings, created)
