"""The API's OpenAPI 3.1 description, built from the pydantic models.

The operations are listed here once, each with its models and errors; a test checks this
list against the function app's registered HTTP functions, so it cannot drift. The one
function that acts on a ticket (`POST /api/tickets/{number}/{action}`) is described as
one path per action of the agents' lifecycle, each with its own body, so that a
generated client knows which body goes with which action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared.admin.apikeys import ApiKey, ApiKeyRequest, CreatedKey
from shared.admin.audit import AuditPage
from shared.admin.dryrun import RuleSample
from shared.admin.erasure import ErasureJob, ErasureRequest, RequesterRequest
from shared.automation.rules import Outcome, Rule
from shared.channels.chat import ChatResult, ChatTranscript
from shared.channels.email import EmailResult
from shared.core.actions import BODIES
from shared.core.audit import AuditQuery
from shared.core.directory import Agent, CategoryDef, Team
from shared.core.lifecycle import Action
from shared.core.mailboxes import Mailbox
from shared.core.models import AgentTicketView, PhoneSubmission, TicketCreated, TicketSubmission
from shared.core.relations import LinkBody, MergeBody
from shared.core.webhooks import EndpointSpec
from shared.kb.knowledge import Article, ArticleEdit, ArticleInput, Similar
from shared.reports.summaries import ReportQuery
from shared.tickets.bulk import BulkOutcome, BulkRequest
from shared.tickets.collaborators import CollaboratorBody
from shared.tickets.presence import Heartbeat, Presence
from shared.tickets.queues import QueueCounts, QueuePage, QueueQuery
from shared.tickets.search import SearchResult


class Problem(BaseModel):
    """RFC 7807 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    role: str | None = None
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    params: list[dict[str, Any]] = field(default_factory=list)
    media: str = "application/json"
    # The answer is `media` by default and `response` as JSON for `Accept: application/json`.
    json_on_request: bool = False


def _inline(value: Any, defs: dict[str, Any]) -> Any:
    """`value` with its `$ref`s to the model's own `$defs` replaced by what they name."""
    if isinstance(value, dict):
        ref = value.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in value.items()}
    if isinstance(value, list):
        return [_inline(v, defs) for v in value]
    return value


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    # A parameter's schema stands alone: the model's `$defs` (enums) are not components.
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    return [{"name": name, "in": "query", "required": False, "schema": _inline(prop, defs)}
            for name, prop in schema["properties"].items()]


def _query_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


NUMBER = [_path_param("number")]
# A queue's filters on choice fields are one parameter per field, `field.<its id>`.
QUEUE_PARAMS = [*(p for p in _query_params(QueueQuery) if p["name"] != "fields"),
                {"name": "field.<id>", "in": "query", "required": False,
                 "schema": {"type": "string", "maxLength": 100},
                 "description": "a choice field's value (a multi-choice field matches when it "
                                "holds it); up to 5 fields, e.g. field.os=Windows"}]
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"}}

# The actions agents take, each its own path in the description (one function serves them).
AGENT_ACTIONS: dict[Action, str] = {
    Action.ASSIGN: "Assign the ticket to an agent (their id, or \"me\" for the caller) and/or "
                   "a team",
    Action.CHANGE: "Change the ticket's priority, category and/or the category's fields "
                   "(`fields`: field id → value, null clears)",
    Action.REPLY: "Reply to the requester (emailed): body and/or a canned response, attachments",
    Action.NOTE: "Add an internal note (not shown to the requester)",
    Action.REQUEST_INFO: "Ask the requester a question; the ticket waits (pending)",
    Action.ESCALATE: "Escalate to a tier (Vendor Support needs vendor_name), with a reason",
    Action.RESOLVE: "Resolve, with the resolution notes",
    Action.CLOSE: "Close, with an optional comment",
    Action.REOPEN: "Reopen a resolved or closed ticket, with an optional comment",
}
AGENT_ERRORS = (401, 403)
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"}}

OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/api/tickets",
              "Submit a ticket (web form, JSON client); with channel=phone an agent takes a "
              "call (PhoneSubmission: email optional, phone)",
              request=TicketSubmission, response=TicketCreated, status=201,
              errors=(400, 401, 403, 409, 413, 415, 422, 429, 503)),
    Operation("post", "/api/tickets.json",
              "osTicket's ticket API (X-API-Key, scope tickets): 201 with the number as text",
              status=201, media="text/plain", errors=(400, 401, 403, 413, 415, 422, 503)),
    Operation("post", "/api/tickets.email",
              "A raw RFC 822 message from the mail gateway (X-API-Key, scope email). 201 for "
              "every message accepted (created, appended, duplicate, ignored, bounce-noted), as "
              "osTicket's pipe scripts expect: the ticket's number as text (empty when none), "
              "X-Helpdesk-Outcome saying which; with Accept: application/json, the details",
              response=EmailResult, status=201, errors=(400, 401, 403, 409, 413, 503),
              media="text/plain", json_on_request=True),
    Operation("post", "/api/channels/chat",
              "A chat transcript (X-Signature: sha256=HMAC of the body)",
              request=ChatTranscript, response=ChatResult, status=201,
              errors=(401, 403, 409, 422, 503)),
    Operation("post", "/api/apikeys", "Create an API key (shown once)", role="admin",
              request=ApiKeyRequest, response=CreatedKey, status=201,
              errors=(*AGENT_ERRORS, 400, 415, 422)),
    Operation("get", "/api/apikeys", "List API keys", role="admin", errors=AGENT_ERRORS),
    Operation("delete", "/api/apikeys/{id}", "Revoke an API key", role="admin", status=204,
              errors=(*AGENT_ERRORS, 404), params=[_path_param("id")]),
    Operation("get", "/api/tickets", "List a queue", role="agent", response=QueuePage,
              errors=(*AGENT_ERRORS, 400, 422), params=QUEUE_PARAMS),
    Operation("get", "/api/tickets/{number}", "A ticket with its thread", role="agent",
              response=AgentTicketView, errors=(*AGENT_ERRORS, 404), params=NUMBER),
    Operation("post", "/api/tickets/{number}/{action}",
              "Act on a ticket: " + ", ".join(a.value for a in Action
                                               if a not in (Action.REQUESTER_REPLY,
                                                            Action.REMIND, Action.RATE)),
              role="agent", response=AgentTicketView,
              errors=(*AGENT_ERRORS, 400, 404, 409, 412, 413, 415, 422, 503),
              params=[*NUMBER, _path_param("action"),
                      {"name": "If-Match", "in": "header", "required": False,
                       "schema": {"type": "string"}}]),
    Operation("post", "/api/tickets/bulk",
              "One action on up to 100 tickets (assign, change, note, resolve, close), each "
              "ticket written on its own under its own version: 200 with a result per number "
              "(ok, or refused with the status and title its action alone would have had); "
              "a 4xx only when the request itself is wrong, and then nothing is changed",
              role="agent", request=BulkRequest, response=BulkOutcome,
              errors=(*AGENT_ERRORS, 400, 415, 422, 503)),
    Operation("put", "/api/tickets/{number}/presence",
              "Heartbeat of an agent's open ticket page (every few seconds while visible): "
              "records the signed-in agent as here (typing or not) and answers the other "
              "agents heard from in the last 20 seconds",
              role="agent", request=Heartbeat, response=Presence,
              errors=(*AGENT_ERRORS, 400, 404, 415, 422, 503), params=NUMBER),
    Operation("delete", "/api/tickets/{number}/presence",
              "The agent left the ticket's page", role="agent", status=204,
              errors=(*AGENT_ERRORS, 404, 503), params=NUMBER),
    Operation("post", "/api/tickets/{number}/merge",
              "Merge this ticket (a duplicate; If-Match: its ETag) into `into`: the target "
              "gets a `merged` entry and the duplicate's requester and Cc as its Cc; the "
              "duplicate closes with `merged_into`, its mail goes to the target, its requester "
              "is emailed once. Answers the duplicate. Refused: into itself (422); into a closed "
              "or merged ticket, or a duplicate merged or closed already (409)",
              role="agent", request=MergeBody, response=AgentTicketView,
              errors=(*AGENT_ERRORS, 400, 404, 409, 412, 415, 422, 503),
              params=[*NUMBER, IF_MATCH]),
    Operation("post", "/api/tickets/{number}/links",
              "Link another ticket to this one (If-Match: this one's ETag): `kind` is what "
              "the other ticket is to this one (related, parent, child); written on both. "
              "409: linked already, a parent/child cycle, a merged ticket",
              role="agent", request=LinkBody, response=AgentTicketView,
              errors=(*AGENT_ERRORS, 400, 404, 409, 412, 415, 422, 503),
              params=[*NUMBER, IF_MATCH]),
    Operation("delete", "/api/tickets/{number}/links/{other}",
              "Remove the link between this ticket and `other`, on both (If-Match: this "
              "one's ETag)", role="agent", response=AgentTicketView,
              errors=(*AGENT_ERRORS, 404, 409, 412, 503),
              params=[*NUMBER, _path_param("other"), IF_MATCH]),
    Operation("post", "/api/tickets/{number}/collaborators",
              "Copy someone on the ticket (If-Match optional): they get the public emails "
              "on Cc and may answer; 422 for an invalid address, the requester's, the "
              "desk's own or past 20; adding one already copied changes nothing",
              role="agent", request=CollaboratorBody, response=AgentTicketView,
              errors=(*AGENT_ERRORS, 400, 404, 409, 412, 415, 422, 503),
              params=[*NUMBER, IF_MATCH]),
    Operation("delete", "/api/tickets/{number}/collaborators/{email}",
              "Stop copying an address on the ticket (If-Match optional); 404 if it is not "
              "copied", role="agent", response=AgentTicketView,
              errors=(*AGENT_ERRORS, 404, 409, 412, 503),
              params=[*NUMBER, _path_param("email"), IF_MATCH]),
    Operation("get", "/api/tickets/{number}/attachments/{id}", "Download an attachment",
              role="agent", errors=(*AGENT_ERRORS, 404), params=[*NUMBER, _path_param("id")],
              media="application/octet-stream"),
    Operation("get", "/api/directory/{kind}",
              "List teams, agents, categories, canned responses, rules, SLA plans or "
              "mailboxes (mailboxes: admins only)",
              role="agent", errors=(*AGENT_ERRORS, 404), params=[_path_param("kind")]),
    Operation("put", "/api/directory/{kind}/{id}",
              "Create or replace a team, agent, category, canned response, rule, SLA plan or "
              "mailbox (Mailbox: credentials named by app setting, never stored)",
              role="admin", errors=(*AGENT_ERRORS, 400, 404, 415, 422),
              params=[_path_param("kind"), _path_param("id")]),
    Operation("delete", "/api/directory/{kind}/{id}", "Remove a team, agent or category",
              role="admin", status=204, errors=(*AGENT_ERRORS, 404),
              params=[_path_param("kind"), _path_param("id")]),
    Operation("get", "/api/mailboxes",
              "Every fetched mailbox with its health: last success, last error and its time, "
              "fetched today, waiting, failing since, notes (quarantined messages)",
              role="admin", errors=AGENT_ERRORS),
    Operation("get", "/api/mailboxes/{id}/health", "One mailbox with its health",
              role="admin", errors=(*AGENT_ERRORS, 404), params=[_path_param("id")]),
    Operation("get", "/api/mailboxes/alerts",
              "The mailboxes failing for longer than the alert threshold (the agents' page's "
              "banner)", role="agent", errors=AGENT_ERRORS),
    Operation("get", "/api/poison/{queue}", "Messages that failed maxDequeueCount times",
              role="admin", errors=(*AGENT_ERRORS, 404), params=[_path_param("queue")]),
    Operation("post", "/api/poison/{queue}/replay",
              "Put poison messages (all, or `ids`) back on their queue", role="admin",
              errors=(*AGENT_ERRORS, 404, 415, 422), params=[_path_param("queue")]),
    Operation("get", "/api/webhooks",
              "Outbound webhook endpoints (docs/webhooks.md): URL without its query, events, "
              "filters, whether the signing secret is stored or an app setting",
              role="admin", errors=AGENT_ERRORS),
    Operation("post", "/api/webhooks",
              "Register a webhook endpoint (format json, or teams for a Teams channel's "
              "Workflows URL): https outside local, no literal private address; the answer "
              "carries `signing_secret`, shown this once (unless `secret_setting` names it)",
              role="admin", request=EndpointSpec, status=201,
              errors=(*AGENT_ERRORS, 400, 409, 415, 422)),
    Operation("put", "/api/webhooks/{id}",
              "Change an endpoint (the URL as shown keeps the stored one); the secret stays",
              role="admin", request=EndpointSpec,
              errors=(*AGENT_ERRORS, 400, 404, 415, 422), params=[_path_param("id")]),
    Operation("delete", "/api/webhooks/{id}",
              "Remove an endpoint with its deliveries and log", role="admin", status=204,
              errors=(*AGENT_ERRORS, 404), params=[_path_param("id")]),
    Operation("post", "/api/webhooks/{id}/secret",
              "A new signing secret, shown once (409 when the secret is an app setting)",
              role="admin", errors=(*AGENT_ERRORS, 404, 409), params=[_path_param("id")]),
    Operation("get", "/api/webhooks/{id}/deliveries",
              "The endpoint's delivery log (last 100 attempts: outcome, response code, "
              "duration, error) and its parked and retrying deliveries",
              role="admin", errors=(*AGENT_ERRORS, 404), params=[_path_param("id")]),
    Operation("post", "/api/webhooks/{id}/deliveries/{event}/replay",
              "Send a parked (or retrying) delivery again from its first attempt: 202; 409 "
              "when it was delivered or an attempt is under way",
              role="admin", status=202, errors=(*AGENT_ERRORS, 404, 409),
              params=[_path_param("id"), _path_param("event")]),
    Operation("post", "/api/rules/test",
              "Dry run: which rules fire on a sample ticket and what they do. The sample is "
              "what POST /api/tickets takes, with its defaults (name optional), plus the "
              "context the rules see: event, channel, team, status, tags, at",
              role="admin", request=RuleSample, response=Outcome,
              errors=(*AGENT_ERRORS, 400, 415, 422)),
    Operation("post", "/api/requesters/export",
              "Everything the desk holds about an address (the body's `email`), as a ZIP: its "
              "tickets with their public thread, files and ratings (413 past 50 MB of files)",
              role="admin", request=RequesterRequest, media="application/zip",
              errors=(*AGENT_ERRORS, 400, 413, 415, 422)),
    Operation("post", "/api/requesters/erase",
              "Erase a requester (`email`, and `confirm` the same address again): a job that "
              "replaces their name and address everywhere and removes or redacts their words "
              "and files; 202 with the job (Location: its status)", role="admin",
              request=ErasureRequest, response=ErasureJob, status=202,
              errors=(*AGENT_ERRORS, 400, 415, 422)),
    Operation("get", "/api/requesters/erasures/{id}", "An erasure job's progress (never the address)",
              role="admin", response=ErasureJob, errors=(*AGENT_ERRORS, 404),
              params=[_path_param("id")]),
    Operation("get", "/api/me", "The signed-in agent", role="agent", errors=AGENT_ERRORS),
    Operation("post", "/api/kb/articles",
              "Write a knowledge-base article, or promote a resolved ticket's notes (`from_ticket`)",
              role="agent", request=ArticleInput, response=Article, status=201,
              errors=(*AGENT_ERRORS, 400, 404, 409, 415, 422)),
    Operation("get", "/api/kb/articles/{id}", "An article (ETag for editing)", role="agent",
              response=Article, errors=(*AGENT_ERRORS, 404), params=[_path_param("id")]),
    Operation("put", "/api/kb/articles/{id}", "Edit an article (If-Match: its ETag)", role="agent",
              request=ArticleEdit, response=Article, errors=(*AGENT_ERRORS, 400, 404, 412, 415, 422),
              params=[_path_param("id")]),
    Operation("get", "/api/kb/search", "Articles for words, best first (public and internal)",
              role="agent", errors=(*AGENT_ERRORS, 422), params=[_query_param("q")]),
    Operation("get", "/api/kb/suggest", "Public articles for a subject being typed (the web form)",
              errors=(422,), params=[_query_param("q")]),
    Operation("get", "/api/tickets/{number}/similar",
              "The resolved tickets and the articles most like a ticket", role="agent",
              response=Similar, errors=(*AGENT_ERRORS, 404), params=NUMBER),
    Operation("get", "/api/help", "The public help articles, searchable (HTML)", media="text/html",
              errors=(422,), params=[_query_param("q")]),
    Operation("get", "/api/help/{id}", "A public help article (HTML)", media="text/html",
              errors=(404,), params=[_path_param("id")]),
    Operation("get", "/api/reports/summary",
              "Figures from the daily summaries: counts, first-response and resolution times "
              "(median, 90th percentile), SLA breach rate, reopen rate, backlog by age, time "
              "in each tier, satisfaction; by day or grouped by a dimension",
              role="supervisor", errors=(*AGENT_ERRORS, 422), params=_query_params(ReportQuery)),
    Operation("get", "/api/reports/tickets.csv",
              "One row per ticket created in the range (`from`, `to`), with its times and outcome",
              role="supervisor", media="text/csv", errors=(*AGENT_ERRORS, 422),
              params=[p for p in _query_params(ReportQuery) if p["name"] in ("from", "to")]),
    Operation("get", "/api/audit",
              "The audit log, newest first: who changed what (admins and supervisors, API "
              "keys) and who opened a ticket's files; filters from, to, actor, route, method, "
              "target; paged with continuation",
              role="admin", response=AuditPage, errors=(*AGENT_ERRORS, 400, 422),
              params=_query_params(AuditQuery)),
    Operation("get", "/api/audit.csv", "The audit log as CSV, with the same filters",
              role="admin", media="text/csv", errors=(*AGENT_ERRORS, 400, 422),
              params=[p for p in _query_params(AuditQuery)
                      if p["name"] not in ("limit", "continuation")]),
    Operation("get", "/api/form", "The public web form (HTML)", media="text/html"),
    Operation("get", "/api/static/{path}", "The pages' own stylesheets and scripts",
              media="text/css", errors=(404,), params=[_path_param("path")]),
    # The requester portal: HTML pages, whose errors are HTML pages too (401 no session,
    # 403 forged or tampered, 410 expired or spent link, 409/413/422/429 on the ticket page).
    Operation("get", "/api/portal", "Check a ticket: the form asking for email and number",
              media="text/html"),
    Operation("post", "/api/portal",
              "Check a ticket (form: email, number): the same page whatever the pair; the "
              "link is emailed if the number belongs to the address (429 page past the "
              "address's limit)", media="text/html"),
    Operation("get", "/api/portal/t/{token}",
              "An emailed link's one-time code: a page whose button confirms it (no session "
              "yet); 410 once spent or expired, with \"email me a new link\"",
              media="text/html", params=[_path_param("token")]),
    Operation("post", "/api/portal/open",
              "Spend a link's code (form: code): 303 to the ticket page with the session "
              "cookie set; 410 if it was spent before", status=303, media="text/html"),
    Operation("post", "/api/portal/renew",
              "Email a new link to the requester of a spent or expired link's ticket "
              "(form: code)", media="text/html"),
    Operation("get", "/api/portal/ticket",
              "The requester's view of the session's ticket: public thread, reply and rating "
              "forms", media="text/html"),
    Operation("get", "/api/portal/ticket/attachments/{id}",
              "Download an attachment of a public entry of the session's ticket",
              media="application/octet-stream", params=[_path_param("id")]),
    Operation("get", "/api/portal/export",
              "The session's requester's own export (the ZIP an admin gets for the address); "
              "takes no parameters (400 with any)", media="application/zip"),
    Operation("post", "/api/portal/ticket/reply",
              "The requester answers (multipart: body, attachments, csrf); 303 to the page",
              status=303, media="text/html"),
    Operation("post", "/api/portal/ticket/rating",
              "Did this solve your problem? (form: solved=yes|no, comment, csrf); 303 to the "
              "page", status=303, media="text/html"),
    Operation("post", "/api/portal/ticket/collaborators",
              "The requester copies a colleague (form: email, csrf); 303 to the page",
              status=303, media="text/html"),
    Operation("post", "/api/portal/ticket/collaborators/remove",
              "A collaborator leaves, or the requester removes one they added (form: email, "
              "csrf); 303 to the page (a collaborator who left gets a page saying so)",
              status=303, media="text/html"),
    Operation("get", "/api/portal/unsubscribe/{token}",
              "A collaborator's \"stop copying me\" link: a page whose button confirms it "
              "(a GET changes nothing)", media="text/html", params=[_path_param("token")]),
    Operation("post", "/api/portal/unsubscribe/{token}",
              "Stop copying the link's address on its ticket: the page's button, or a mail "
              "client's RFC 8058 one-click POST (List-Unsubscribe=One-Click)",
              media="text/html", params=[_path_param("token")]),
    Operation("get", "/api/health", "Liveness of the app and its storage", errors=(503,)),
    Operation("get", "/api/openapi.json", "This description"),
    # The agents' web page (issue 6, part 1).
    Operation("get", "/api/agent",
              "The agents' web page (HTML); a signed-out browser is sent to the sign-in",
              role="agent", media="text/html"),
    Operation("get", "/api/queues/counts",
              "Tickets in each sidebar queue, each count capped at 1000 (`statuses=true` "
              "adds one count per status)", role="agent", response=QueueCounts,
              errors=AGENT_ERRORS, params=[{"name": "statuses", "in": "query",
                                            "required": False,
                                            "schema": {"type": "boolean"}}]),
    Operation("get", "/api/search",
              "Search tickets by number, requester email, or words of subject, requester "
              "name and description", role="agent", response=SearchResult,
              errors=(*AGENT_ERRORS, 422), params=[{"name": "q", "in": "query",
                                                    "required": True,
                                                    "schema": {"type": "string"}}]),
)

MODELS: list[type[BaseModel]] = [
    TicketSubmission, PhoneSubmission, TicketCreated, AgentTicketView, QueuePage, Team, Agent,
    CategoryDef, Problem, ApiKey, ApiKeyRequest, CreatedKey, ChatTranscript, ChatResult,
    EmailResult, RuleSample, Outcome, Rule, Article, ArticleEdit, ArticleInput, Similar, QueueCounts,
    SearchResult, Mailbox, BulkRequest, BulkOutcome, Heartbeat, Presence, MergeBody, LinkBody,
    CollaboratorBody, AuditPage, RequesterRequest, ErasureRequest, ErasureJob, EndpointSpec,
    *BODIES.values()]


def _responses() -> set[type[BaseModel]]:
    return {op.response for op in OPERATIONS if op.response} | {Problem}


def spec() -> dict[str, Any]:
    # What a model accepts and what it returns may differ (a field excluded from output,
    # such as AgentTicketView's etag): requests are described in validation mode,
    # responses in serialization mode, and pydantic names the two apart where they differ.
    requests = {op.request for op in OPERATIONS if op.request} | set(BODIES.values())
    keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation") for m in MODELS if m in requests or m not in _responses()] + \
        [(m, "serialization") for m in MODELS if m in _responses()]
    refs, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel], mode: JsonSchemaMode = "validation") -> dict[str, str]:
        return dict(refs[(model, mode)])

    def out(model: type[BaseModel]) -> dict[str, str]:
        return ref(model, "serialization")

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        ok: dict[str, Any] = {"description": "Success"}
        if op.status != 204:
            ok["content"] = {op.media: {"schema": out(op.response) if op.response else {}}}
        responses: dict[str, Any] = {str(op.status): ok}
        for code in op.errors:
            responses[str(code)] = {
                "description": {400: "Malformed request", 401: "Not signed in",
                                403: "Missing role", 404: "Not found", 409: "Conflict",
                                412: "Changed since read", 413: "Too large",
                                415: "Unsupported media type", 422: "Invalid fields",
                                429: "Too many submissions from this address",
                                503: "Storage unavailable"}[code],
                "content": {"application/problem+json": {"schema": out(Problem)}},
            }
        operation: dict[str, Any] = {"summary": op.summary, "responses": responses,
                                     "parameters": op.params}
        if op.role:
            operation["security"] = [{"appServiceAuth": [op.role]}]
        if op.request is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": ref(op.request)},
                "multipart/form-data": {"schema": ref(op.request)},
            }}
        if op.json_on_request and op.response:
            ok["content"] = {op.media: {"schema": {"type": "string"}},
                             "application/json": {"schema": out(op.response)}}
        if op.path.endswith("/{action}"):
            for action, summary in AGENT_ACTIONS.items():
                body = BODIES[action]
                paths[op.path.replace("{action}", action.value)] = {op.method: {
                    **operation, "summary": summary, "operationId": f"ticket_{action.name.lower()}",
                    "parameters": [p for p in op.params if p["name"] != "action"],
                    "requestBody": {"required": any(f.is_required()
                                                    for f in body.model_fields.values()),
                                    "content": {
                        "application/json": {"schema": ref(body)}}}}}
            continue
        paths.setdefault(op.path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Help desk API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"appServiceAuth": {
                "type": "apiKey", "in": "header", "name": "X-MS-CLIENT-PRINCIPAL",
                "description": "Set by App Service Authentication (Entra ID); roles agent, "
                               "supervisor, admin."}},
        },
    }
