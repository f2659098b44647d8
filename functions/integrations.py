"""Channels for other systems: osTicket's ticket API, the email pipe, chat transcripts.

These answer in the formats their callers expect: osTicket's API gets the ticket number
alone as text on success and a plain-text reason with the right 4xx on failure (osTicket
itself answers 500 to validation errors).

The email pipe answers 201 for every message the desk accepted: a new ticket, a reply
appended, a redelivery recognised, machine mail deliberately dropped, a bounce noted.
osTicket's own pipe scripts (setup/scripts/automail.php and automail.pl) count only 201
as delivered and make the mail server retry anything else for days, then bounce the
sender's mail. As osTicket does, the body is the ticket's number as plain text (empty
when the message made or joined no ticket); `X-Helpdesk-Outcome` names what happened,
and a client that sends `Accept: application/json` gets the details as JSON.
"""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from functions import auditing
from functions.deps import helpdesk
from functions.http import api_key, handles_errors, json_body, json_response
from shared.channels.chat import ChatTranscript, receive_chat, verify_signature
from shared.channels.email import receive_email
from shared.channels.osticket import translate
from shared.core import telemetry
from shared.core.errors import (
    BadRequest,
    HelpdeskError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    field_errors,
)
from shared.core.models import Channel
from shared.tickets.intake import submit_ticket

bp = func.Blueprint()
log = logging.getLogger(__name__)


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(text + "\n", status_code=status, headers=headers,
                             mimetype="text/plain", charset="utf-8")


def _text_error(error: HelpdeskError) -> func.HttpResponse:
    lines = [error.detail] + [f"{e['field']}: {e['message']}" for e in error.errors]
    headers = {"Retry-After": str(error.extra["retry_after"])} \
        if "retry_after" in error.extra else None
    return _text(error.status, "\n".join(lines), headers)


@bp.function_name("integrations_osticket")
@bp.route(route="tickets.json", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.traced("integrations_osticket")
@auditing.recorded
async def integrations_osticket(req: func.HttpRequest) -> func.HttpResponse:
    try:
        desk = await helpdesk()
        await api_key(req, "tickets")
        mimetype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if mimetype != "application/json":
            raise UnsupportedMediaType("Send the ticket as application/json.")
        if len(req.get_body()) > desk.settings.limits.request_bytes:
            raise PayloadTooLarge(
                f"The request may be at most {desk.settings.limits.request_bytes} bytes.")
        request = translate(json_body(req) or {}, topics=desk.settings.osticket_topics)
        created = await submit_ticket(
            request.raw, request.uploads, desk=desk, channel=Channel.API,
            autorespond=request.autorespond, entry_data={"osticket": request.details},
            idempotency_key=req.headers.get("idempotency-key"))
    except HelpdeskError as error:
        return _text_error(error)
    except Exception:
        log.exception("unhandled error in the osTicket API")
        return _text(500, "Something went wrong on our side.")
    return _text(201, created.number, {"Location": f"/api/tickets/{created.number}"})



@bp.function_name("integrations_email")
@bp.route(route="tickets.email", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.traced("integrations_email")
@handles_errors
async def integrations_email(req: func.HttpRequest) -> func.HttpResponse:
    desk = await helpdesk()
    await api_key(req, "email")
    raw = req.get_body()
    if not raw.strip():
        raise BadRequest("The body must be a raw RFC 822 message.")
    if len(raw) > desk.settings.limits.request_bytes:
        raise PayloadTooLarge(f"A message may be at most {desk.settings.limits.request_bytes} bytes.")
    result = await receive_email(raw, desk=desk)
    headers: dict[str, str] = {"X-Helpdesk-Outcome": result.outcome}
    if result.number:
        headers["Location"] = f"/api/tickets/{result.number}"
    if _wants_json(req.headers.get("accept", "")):
        return json_response(result, status=201, headers=headers)
    return func.HttpResponse(f"{result.number}\n" if result.number else "", status_code=201,
                             headers=headers, mimetype="text/plain", charset="utf-8")


def _wants_json(accept: str) -> bool:
    """Whether the client asked for JSON; osTicket's scripts send `*/*` or nothing."""
    for media_range in accept.lower().split(","):
        media, _, params = media_range.partition(";")
        if media.strip() == "application/json" and \
                params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            return True
    return False


@bp.function_name("integrations_chat")
@bp.route(route="channels/chat", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@telemetry.traced("integrations_chat")
@handles_errors
async def integrations_chat(req: func.HttpRequest) -> func.HttpResponse:
    desk = await helpdesk()
    body = req.get_body()
    verify_signature(body, req.headers.get("x-signature"), desk.settings.chat_secret)
    try:
        chat = ChatTranscript.model_validate_json(body)
    except ValidationError as exc:
        raise ValidationFailed("The transcript has invalid fields.",
                               errors=field_errors(exc)) from None
    result = await receive_chat(chat, desk=desk)
    return json_response(result, status=201 if result.outcome == "created" else 200,
                         headers={"Location": f"/api/tickets/{result.number}"})
