"""The public web form: a plain HTML page that works without JavaScript."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

import azure.functions as func
from jinja2 import Environment, PackageLoader, select_autoescape

from functions.deps import helpdesk
from shared.core.errors import HelpdeskError
from shared.core.models import Priority, TicketCreated
from shared.core.settings import Settings

bp = func.Blueprint()


@cache
def _env() -> Environment:
    return Environment(loader=PackageLoader("functions", "templates"),
                       autoescape=select_autoescape(default=True))


# Every page: scripts and styles only from the app's own files, never inline, so a script
# that got into a page's text does not run; no framing, no plugins, forms post back here.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def html_response(body: str, status: int = 200, headers: dict[str, str] | None = None
                  ) -> func.HttpResponse:
    return func.HttpResponse(body, status_code=status, mimetype="text/html", charset="utf-8",
                             headers={**PAGE_HEADERS, **(headers or {})})



def form_page(settings: Settings, *, values: dict[str, Any] | None = None,
              error: HelpdeskError | None = None) -> func.HttpResponse:
    field_errors: dict[str, str] = {}
    for item in error.errors if error else []:
        field_errors.setdefault(item["field"].split(".")[0], item["message"])
    page = _env().get_template("form.html.j2").render(
        # A new key for each page shown: sending this page twice (a double click, a
        # refresh that posts again) makes one ticket (functions/intake.py).
        submission_id=uuid.uuid4().hex,
        helpdesk_name=settings.helpdesk_name,
        categories=settings.categories,
        default_category=settings.default_category,
        priorities=[p.value for p in Priority],
        values=values or {},
        error=error,
        field_errors=field_errors,
        max_attachment_mb=settings.limits.attachment_bytes // (1024 * 1024),
        max_attachments=settings.limits.attachments_per_ticket,
    )
    return html_response(page, status=error.status if error else 200)


def created_page(settings: Settings, created: TicketCreated) -> func.HttpResponse:
    page = _env().get_template("created.html.j2").render(
        helpdesk_name=settings.helpdesk_name, created=created)
    return html_response(page, status=201)


def received_page(settings: Settings) -> func.HttpResponse:
    page = _env().get_template("received.html.j2").render(helpdesk_name=settings.helpdesk_name)
    return html_response(page, status=200)


@bp.function_name("web_form")
@bp.route(route="form", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def web_form(req: func.HttpRequest) -> func.HttpResponse:
    desk = await helpdesk()
    return form_page(desk.settings)
