"""The public web form: a plain HTML page that works without JavaScript."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

import azure.functions as func
from jinja2 import Environment, PackageLoader, select_autoescape

from functions.deps import helpdesk
from shared.core.directory import CategoryDef
from shared.core.errors import HelpdeskError
from shared.core.fields import visible
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



def form_page(settings: Settings, categories: list[CategoryDef], *,
              values: dict[str, Any] | None = None,
              error: HelpdeskError | None = None) -> func.HttpResponse:
    """The form; each category's requester fields in a fieldset of their own, the chosen
    one's shown (a script shows another's when the category changes; without it the
    form's "Continue" asks for the page again)."""
    field_errors: dict[str, str] = {}
    for item in error.errors if error else []:
        name = item["field"]
        field_errors.setdefault(name if name.startswith("fields.") else name.split(".")[0],
                                item["message"])
    values = values or {}
    known = [c.id for c in categories]
    chosen = values.get("category") if values.get("category") in known \
        else settings.default_category
    given = values.get("fields")
    page = _env().get_template("form.html.j2").render(
        # A new key for each page shown: sending this page twice (a double click, a
        # refresh that posts again) makes one ticket (functions/intake.py).
        submission_id=uuid.uuid4().hex,
        helpdesk_name=settings.helpdesk_name,
        categories=categories,
        chosen_category=chosen,
        category_fields={c.id: visible(c.fields, "requester") for c in categories},
        field_values=given if isinstance(given, dict) else {},
        priorities=[p.value for p in Priority],
        values=values,
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
    category = req.params.get("category")
    return form_page(desk.settings, await desk.directory.list(CategoryDef),
                     values={"category": category} if category else None)
