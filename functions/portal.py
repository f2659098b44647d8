"""The requester portal: server-rendered pages that work without JavaScript.

An emailed link carries a one-time code (shared/core/links.py), and opening it installs
nothing: `GET /portal/t/{code}` shows a page whose button POSTs the code (in the body,
so it is not logged again) to `/portal/open`, which spends it and puts a session token
in an HttpOnly cookie scoped to `/api/portal`. A link that was spent, or has expired,
offers to email a new one to the requester. A GET never sets the cookie: a mail
scanner or a link preview that fetches the link opens nothing, and what request logs
keep of the path is spent once the requester used it.

The cookie is `SameSite=Lax`, not `Strict`: the session starts from a page reached from a
mail client or a webmail page (another site), and Lax is what lets the following
navigation carry it. Lax still withholds it from another site's POSTs; on top of that
every form carries a field derived from the session (`form_token`), and a POST whose
`Origin`/`Sec-Fetch-Site` name another site is refused (the code's confirmation too, so
that another site cannot sign a browser into a ticket of its choosing).
"""

from __future__ import annotations

import hmac
import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

import azure.functions as func

from functions import web
from functions.deps import helpdesk
from shared.admin.apikeys import client_address
from shared.core.errors import BadRequest, HelpdeskError, PayloadTooLarge, ValidationFailed
from shared.core.events import LinkRequest
from shared.core.links import (
    BadLink,
    PortalGrant,
    form_token,
    read_code,
    read_session,
    read_stop,
    secret_of,
    session_for,
)
from shared.core.models import AttachmentUpload
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.portal import service
from shared.portal.export import export
from shared.storage.clients import PORTAL_LINKS_QUEUE
from shared.storage.ratelimit import TooManyRequests

bp = func.Blueprint()
log = logging.getLogger(__name__)

COOKIE = "helpdesk_portal"
COOKIE_PATH = "/api/portal"
TICKET_PAGE = "/api/portal/ticket"
NOTICES = {"reply": "Your message was added to the request.",
           "rating": "Thank you for telling us. Your answer helps us get better.",
           "collaborator-add": "They are now copied on the request: they get our answers "
                               "by email and can follow it here.",
           "collaborator-remove": "They are no longer copied on the request."}


class LinkRefused(Exception):
    """No usable link: a page saying why, with the way to a new one (`renew`: the code of
    a genuine link that expired or was spent, for "email me a new link")."""

    def __init__(self, status: int, title: str, detail: str, renew: str = "") -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.renew = status, title, detail, renew


def _render(settings: Settings, template: str, *, status: int = 200,
            headers: dict[str, str] | None = None, **context: Any) -> func.HttpResponse:
    page = web._env().get_template(f"portal/{template}.html.j2").render(
        helpdesk_name=settings.helpdesk_name, **context)
    return web.html_response(page, status=status, headers=headers)


def _refused(settings: Settings, refusal: LinkRefused) -> func.HttpResponse:
    return _render(settings, "refused", status=refusal.status, title=refusal.title,
                   detail=refusal.detail, renew=refusal.renew)


INVALID = LinkRefused(403, "This link is not valid",
                      "The link may have been cut short or changed on the way. Ask for a "
                      "new one with your email and the ticket number.")


def _code(code: str, settings: Settings, now: Any) -> PortalGrant:
    """What an emailed link's code names, or `LinkRefused` (expired: with renewal)."""
    try:
        return read_code(code, secret=secret_of(settings), now=now)
    except BadLink as bad:
        if bad.expired:
            raise LinkRefused(410, "This link has expired",
                              "Links to a request work for a limited time. We can email "
                              "a new one to the address the request came from.",
                              renew=code) from None
        raise INVALID from None


def _spent(code: str) -> LinkRefused:
    return LinkRefused(410, "This link has been used already",
                       "Each link opens the request once, in one browser, so that a copy "
                       "of it (in a forwarded email, a log, a shared computer) opens "
                       "nothing. We can email a new one to the address the request came "
                       "from.", renew=code)


def _session(req: func.HttpRequest, settings: Settings, now: Any) -> tuple[str, PortalGrant]:
    """The cookie's session token and what it grants, or `LinkRefused`."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(req.headers.get("cookie", ""))
    except CookieError:
        pass
    morsel = jar.get(COOKIE)
    if morsel is None or not morsel.value:
        raise LinkRefused(401, "Open your request from its link",
                          "This browser has no open request. Use the link in one of our "
                          "emails, or ask for a new one.")
    try:
        return morsel.value, read_session(morsel.value, secret=secret_of(settings), now=now)
    except BadLink as bad:
        if bad.expired:
            raise LinkRefused(410, "Your visit to this request has ended",
                              "This browser keeps a request open for a limited time. Ask "
                              "for a new link with your email and the ticket number.") from None
        raise INVALID from None


def _same_session(req: func.HttpRequest, grant: PortalGrant, settings: Settings,
                  now: Any) -> bool:
    """This browser already holds a session for the ticket the link names."""
    try:
        _, session = _session(req, settings, now)
    except LinkRefused:
        return False
    return (session.number, session.email) == (grant.number, grant.email)


def _secure_cookie(settings: Settings) -> bool:
    url = urlsplit(settings.public_base_url)
    return not (url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost", "::1"))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _cross_site(req: func.HttpRequest, settings: Settings) -> bool:
    """A form post that another site's page made the browser send."""
    site = req.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        return True
    # Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even from our own
    # page; the form field and Sec-Fetch-Site then decide.
    origin = req.headers.get("origin")
    return bool(origin and origin != "null" and origin.lower()
                not in {_origin(settings.public_base_url), _origin(req.url)})


def _forged(req: func.HttpRequest, token: str, settings: Settings, field: str | None) -> bool:
    """A form post that did not come from our own page of this session."""
    if _cross_site(req, settings):
        return True
    expected = form_token(token, secret=secret_of(settings))
    return not field or not hmac.compare_digest(field.encode(), expected.encode())


def _read_form(req: func.HttpRequest, settings: Settings
               ) -> tuple[dict[str, str], list[AttachmentUpload]]:
    if len(req.get_body()) > settings.limits.request_bytes:
        raise PayloadTooLarge(f"The files are too large: at most "
                              f"{settings.limits.attachment_bytes // (1024 * 1024)} MB each.")
    try:
        form, files = req.form, req.files
    except ValueError as exc:
        raise BadRequest(f"The form could not be read: {exc}") from None
    fields = {name: str(form.get(name) or "")
              for name in ("body", "comment", "solved", "csrf", "email")}
    uploads = []
    for storage in files.getlist("attachments"):
        data = storage.read()
        if not storage.filename and not data:
            continue  # a file input left empty
        uploads.append(AttachmentUpload(filename=storage.filename or "",
                                        content_type=storage.mimetype
                                        or "application/octet-stream", data=data))
    return fields, uploads


async def _ticket_page(desk: Helpdesk, grant: PortalGrant, token: str, *, status: int = 200,
                       error: HelpdeskError | None = None, values: dict[str, str] | None = None,
                       notice: str | None = None, headers: dict[str, str] | None = None
                       ) -> func.HttpResponse:
    stored = await service.open_ticket(grant, desk=desk)
    view = await service.portal_view(stored, desk=desk, viewer=grant.email)
    limits = desk.settings.limits
    return _render(desk.settings, "ticket", status=status, headers=headers, view=view,
                   ticket=view.ticket,
                   csrf=form_token(token, secret=secret_of(desk.settings)), error=error,
                   values=values or {}, notice=notice,
                   max_attachments=limits.attachments_per_ticket,
                   max_attachment_mb=limits.attachment_bytes // (1024 * 1024))


# -- "check a ticket" ---------------------------------------------------------------


@bp.function_name("portal_check_form")
@bp.route(route="portal", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_check_form(req: func.HttpRequest) -> func.HttpResponse:
    desk = await helpdesk()
    return _render(desk.settings, "check", sent=False)


@bp.function_name("portal_check_send")
@bp.route(route="portal", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_check_send(req: func.HttpRequest) -> func.HttpResponse:
    """Always the same answer: whether the pair exists is decided off the request path."""
    desk = await helpdesk()
    try:
        await desk.ratelimit.hit(client_address(req.headers.get("x-forwarded-for")),
                                 desk.clock())
        form = req.form
        await service.request_link(str(form.get("number") or ""),
                                      str(form.get("email") or ""), desk=desk)
    except TooManyRequests as error:
        return _render(desk.settings, "check", status=429, sent=False, error=error.detail,
                       headers={"Retry-After": str(error.extra.get("retry_after", 3600))})
    except ValueError:
        return _render(desk.settings, "check", status=400, sent=False,
                       error="The form could not be read; please try again.")
    return _render(desk.settings, "check", sent=True, days=desk.settings.portal_link_days)


@bp.function_name("portal_send_link")
@bp.queue_trigger(arg_name="msg", queue_name=PORTAL_LINKS_QUEUE,
                  connection="AzureWebJobsStorage")
async def portal_send_link(msg: func.QueueMessage) -> None:
    await service.send_link(LinkRequest.model_validate_json(msg.get_body()),
                               desk=await helpdesk())


# -- the link and the ticket page ---------------------------------------------------


@bp.function_name("portal_open_link")
@bp.route(route="portal/t/{token}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_open_link(req: func.HttpRequest) -> func.HttpResponse:
    """The emailed link: a page whose button spends the code; never a session by itself."""
    desk = await helpdesk()
    code = req.route_params.get("token", "")
    now = desk.clock()
    try:
        grant = _code(code, desk.settings, now)
        if _same_session(req, grant, desk.settings, now):
            # Opened again in the browser it opened before: straight to the request.
            return web.html_response("", status=303, headers={"Location": TICKET_PAGE})
        if await service.code_spent(grant, desk=desk):
            raise _spent(code)
    except LinkRefused as refusal:
        return _refused(desk.settings, refusal)
    return _render(desk.settings, "open", number=grant.number, code=code)


@bp.function_name("portal_open")
@bp.route(route="portal/open", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_open(req: func.HttpRequest) -> func.HttpResponse:
    """The link page's button: spend the code, install the session, go to the request."""
    desk = await helpdesk()
    now = desk.clock()
    try:
        if _cross_site(req, desk.settings):
            log.warning("portal link confirmation refused: sent from another site")
            raise LinkRefused(403, "Open the link from your email",
                              "For your safety a request opens only from the page its "
                              "link shows. Open the link in our email again.")
        try:
            code = str(req.form.get("code") or "")
        except ValueError:
            raise INVALID from None
        grant = _code(code, desk.settings, now)
        if not await service.spend_code(grant, desk=desk):
            if _same_session(req, grant, desk.settings, now):
                return web.html_response("", status=303, headers={"Location": TICKET_PAGE})
            raise _spent(code)
    except LinkRefused as refusal:
        return _refused(desk.settings, refusal)
    session, max_age = session_for(grant, settings=desk.settings, now=now)
    cookie = (f"{COOKIE}={session}; Path={COOKIE_PATH}; HttpOnly; SameSite=Lax; "
              f"Max-Age={max_age}")
    if _secure_cookie(desk.settings):
        cookie += "; Secure"
    return web.html_response("", status=303, headers={"Location": TICKET_PAGE,
                                                       "Set-Cookie": cookie})


@bp.function_name("portal_renew_link")
@bp.route(route="portal/renew", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_renew_link(req: func.HttpRequest) -> func.HttpResponse:
    """"Email me a new link" from a spent or expired one: sent to the requester's address,
    never to whoever holds the old link, so it needs no more than a genuine code."""
    desk = await helpdesk()
    try:
        code = str(req.form.get("code") or "")
        try:
            grant = read_code(code, secret=secret_of(desk.settings), now=desk.clock())
        except BadLink as bad:
            if bad.grant is None:
                return _refused(desk.settings, INVALID)
            grant = bad.grant
        await desk.ratelimit.hit(client_address(req.headers.get("x-forwarded-for")),
                                 desk.clock())
        await service.renew_link(grant, desk=desk)
    except TooManyRequests as error:
        return _render(desk.settings, "check", status=429, sent=False, error=error.detail,
                       headers={"Retry-After": str(error.extra.get("retry_after", 3600))})
    except ValueError:
        return _refused(desk.settings, INVALID)
    return _render(desk.settings, "check", sent=True, renewed=True,
                   days=desk.settings.portal_link_days)


@bp.function_name("portal_ticket")
@bp.route(route="portal/ticket", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_ticket(req: func.HttpRequest) -> func.HttpResponse:
    desk = await helpdesk()
    try:
        token, grant = _session(req, desk.settings, desk.clock())
        return await _ticket_page(desk, grant, token,
                                  notice=NOTICES.get(req.params.get("done", "")))
    except LinkRefused as refusal:
        return _refused(desk.settings, refusal)
    except HelpdeskError as error:
        return _refused(desk.settings, LinkRefused(error.status, "This request cannot be "
                                                   "shown", error.detail))


@bp.function_name("portal_attachment")
@bp.route(route="portal/ticket/attachments/{id}", methods=["GET"],
          auth_level=func.AuthLevel.ANONYMOUS)
async def portal_attachment(req: func.HttpRequest) -> func.HttpResponse:
    desk = await helpdesk()
    try:
        _, grant = _session(req, desk.settings, desk.clock())
        stored = await service.open_ticket(grant, desk=desk)
        info = service.public_attachment(stored, req.route_params.get("id", ""))
        data = await desk.attachments.read(stored.blob_names[info.id])
    except LinkRefused as refusal:
        return _refused(desk.settings, refusal)
    except HelpdeskError as error:
        return _refused(desk.settings, LinkRefused(error.status, "No such file", error.detail))
    ascii_name = info.filename.encode("ascii", "replace").decode().replace('"', "_")
    return func.HttpResponse(data, status_code=200, headers={
        "Content-Type": info.content_type,
        "Content-Disposition": (f'attachment; filename="{ascii_name}"; '
                                f"filename*=UTF-8''{quote(info.filename, safe='')}"),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store",
    })


@bp.function_name("portal_export")
@bp.route(route="portal/export", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_export(req: func.HttpRequest) -> func.HttpResponse:
    """The signed-in requester's own export: the address is the session's (proven by the
    emailed link), never one the request names; a request that names one is refused."""
    desk = await helpdesk()
    try:
        _, grant = _session(req, desk.settings, desk.clock())
        if req.params:
            raise BadRequest("The export is of your own address only; it takes no parameters.")
        await service.open_ticket(grant, desk=desk)
        data = await export(grant.email, desk=desk)
    except LinkRefused as refusal:
        return _refused(desk.settings, refusal)
    except HelpdeskError as error:
        return _refused(desk.settings, LinkRefused(error.status, "No export", error.detail))
    return func.HttpResponse(data, status_code=200, headers={
        "Content-Type": "application/zip",
        "Content-Disposition": 'attachment; filename="my-requests.zip"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    })


# -- answering and rating -----------------------------------------------------------


async def _post(req: func.HttpRequest, what: str) -> func.HttpResponse:
    """The two form posts: session, forgery check, the action, 303 back to the page."""
    desk = await helpdesk()
    try:
        token, grant = _session(req, desk.settings, desk.clock())
    except LinkRefused as refusal:
        return _refused(desk.settings, refusal)
    fields: dict[str, str] = {}
    uploads: list[AttachmentUpload] = []
    unreadable: HelpdeskError | None = None
    try:
        fields, uploads = _read_form(req, desk.settings)
    except HelpdeskError as error:
        unreadable = error
    # A form too large to read changes nothing, so it may get its readable error; any
    # other is judged before anything else is done with it.
    if unreadable is None and _forged(req, token, desk.settings, fields.get("csrf")):
        log.warning("portal %s refused: not from this session's page", what)
        return _refused(desk.settings, LinkRefused(
            403, "This form was not sent from your request's page",
            "For your safety we only accept changes made on the page itself. "
            "Open the request again and send it from there."))
    try:
        if unreadable is not None:
            raise unreadable
        if what == "collaborator-add":
            await service.add_collaborator(grant, fields["email"], desk=desk)
        elif what == "collaborator-remove":
            await service.remove_collaborator(grant, fields["email"], desk=desk)
            if fields["email"].strip().lower() == grant.email:
                # They left: the session opens nothing more.
                return _render(desk.settings, "unsubscribe", state="done",
                               number=grant.number, email=grant.email, token="")
        elif what == "reply":
            if not fields["body"].strip():
                raise ValidationFailed("Write a message before sending.",
                                       errors=[{"field": "body", "message": "required"}])
            await service.reply(grant, fields["body"], uploads, desk=desk)
        else:
            if fields["solved"] not in ("yes", "no"):
                raise ValidationFailed("Choose yes or no.",
                                       errors=[{"field": "solved", "message": "yes or no"}])
            await service.rate(grant, solved=fields["solved"] == "yes",
                                  comment=fields["comment"], desk=desk)
    except HelpdeskError as error:
        retry = ({"Retry-After": str(error.extra.get("retry_after", 3600))}
                 if isinstance(error, TooManyRequests) else None)
        try:
            return await _ticket_page(desk, grant, token, status=error.status, error=error,
                                      values={**fields, "form": what}, headers=retry)
        except HelpdeskError as again:
            return _refused(desk.settings, LinkRefused(again.status, "This request cannot "
                                                       "be shown", again.detail))
    return web.html_response("", status=303, headers={"Location": f"{TICKET_PAGE}?done={what}"})


@bp.function_name("portal_reply")
@bp.route(route="portal/ticket/reply", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_reply(req: func.HttpRequest) -> func.HttpResponse:
    return await _post(req, "reply")


@bp.function_name("portal_rate")
@bp.route(route="portal/ticket/rating", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def portal_rate(req: func.HttpRequest) -> func.HttpResponse:
    return await _post(req, "rating")


@bp.function_name("portal_collaborator_add")
@bp.route(route="portal/ticket/collaborators", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
async def portal_collaborator_add(req: func.HttpRequest) -> func.HttpResponse:
    """The requester copies a colleague (form: email, csrf)."""
    return await _post(req, "collaborator-add")


@bp.function_name("portal_collaborator_remove")
@bp.route(route="portal/ticket/collaborators/remove", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
async def portal_collaborator_remove(req: func.HttpRequest) -> func.HttpResponse:
    """A collaborator leaves, or the requester removes one they added (form: email, csrf)."""
    return await _post(req, "collaborator-remove")


# -- "stop copying me" (RFC 8058 one-click) -------------------------------------------


def _stop_grant(token: str, settings: Settings, now: Any) -> PortalGrant:
    try:
        return read_stop(token, secret=secret_of(settings), now=now)
    except BadLink as bad:
        if bad.expired:
            raise LinkRefused(410, "This link has expired",
                              "Ask the person who made the request, or us, to stop copying "
                              "you.") from None
        raise INVALID from None


@bp.function_name("portal_unsubscribe_page")
@bp.route(route="portal/unsubscribe/{token}", methods=["GET"],
          auth_level=func.AuthLevel.ANONYMOUS)
async def portal_unsubscribe_page(req: func.HttpRequest) -> func.HttpResponse:
    """The link in a collaborator's email: a page asking to confirm. A GET changes
    nothing, so link scanners and previews unsubscribe nobody."""
    desk = await helpdesk()
    token = req.route_params.get("token", "")
    try:
        grant = _stop_grant(token, desk.settings, desk.clock())
    except LinkRefused as refusal:
        return _refused(desk.settings, refusal)
    stored = await desk.tickets.get(grant.number)
    copied = stored is not None and grant.email in stored.ticket.cc
    return _render(desk.settings, "unsubscribe", state="confirm" if copied else "not-copied",
                   number=grant.number, email=grant.email, token=token)


@bp.function_name("portal_unsubscribe")
@bp.route(route="portal/unsubscribe/{token}", methods=["POST"],
          auth_level=func.AuthLevel.ANONYMOUS)
async def portal_unsubscribe(req: func.HttpRequest) -> func.HttpResponse:
    """The confirmation, or a mail client's one-click POST (`List-Unsubscribe=One-Click`,
    RFC 8058, sent without cookies): the token alone is the authority."""
    desk = await helpdesk()
    token = req.route_params.get("token", "")
    try:
        grant = _stop_grant(token, desk.settings, desk.clock())
    except LinkRefused as refusal:
        return _refused(desk.settings, refusal)
    if not await service.stop_copying(grant, desk=desk):
        return _refused(desk.settings, LinkRefused(404, "This request no longer exists",
                                                   "Nobody is copied on it any more."))
    return _render(desk.settings, "unsubscribe", state="done", number=grant.number,
                   email=grant.email, token="")
