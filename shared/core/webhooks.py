"""Outbound webhooks, pure: the endpoints admins register, the events they may ask for,
the payload (schema version 1, documented in docs/webhooks.md), its signature, the retry
plan and the server-side request forgery rules. No I/O here: shared/webhooks/ delivers,
shared/storage/webhooks.py keeps endpoints, deliveries and the delivery log.

The signature follows Stripe's scheme: `X-Helpdesk-Signature: t=<unix seconds>,v1=<hex>`
where `<hex>` is HMAC-SHA256, keyed with the endpoint's secret, of `<t>.<body>` (the
timestamp's decimal digits, a full stop, the exact bytes of the body). A receiver
recomputes it, compares in constant time, refuses a timestamp more than
`TOLERANCE_SECONDS` from its own clock (a captured request replayed later) and drops an
event id it has already processed (a replay inside the window, or our own retry of a
delivery whose answer was lost).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.core.directory import Name, Slug
from shared.core.models import EntryKind, Priority, ThreadEntry, Ticket
from shared.core.settings import WEBHOOK_RETRY_DELAYS

SCHEMA_VERSION = 1
SIGNATURE_HEADER = "X-Helpdesk-Signature"
TIMESTAMP_HEADER = "X-Helpdesk-Timestamp"
EVENT_ID_HEADER = "X-Helpdesk-Event-Id"
EVENT_TYPE_HEADER = "X-Helpdesk-Event"
TOLERANCE_SECONDS = 300
# Only settings named so may hold a signing secret: an endpoint cannot be pointed at
# another of the app's secrets (the storage connection string) and sign with it.
SettingName = Annotated[str, StringConstraints(strip_whitespace=True,
                                               pattern=r"^HELPDESK_WEBHOOK_[A-Z0-9_]{1,100}$")]
EndpointId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
LOG_SIZE = 100  # attempts kept per endpoint
ENDPOINT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EVENT_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,9}-[a-z_]{1,20}\.[a-z_]{1,30}$")


class EventType(StrEnum):
    CREATED = "ticket.created"
    ASSIGNED = "ticket.assigned"
    REPLIED = "ticket.replied"
    STATUS_CHANGED = "ticket.status_changed"
    ESCALATED = "ticket.escalated"
    SLA_WARNING = "sla.warning"
    SLA_BREACHED = "sla.breached"
    RATED = "ticket.rated"


# What a Teams channel is told: new tickets, escalations to its team, SLA breaches.
TEAMS_EVENTS = frozenset({EventType.CREATED, EventType.ESCALATED, EventType.SLA_BREACHED})


class EndpointSpec(BaseModel):
    """What an admin sends to register or change an endpoint."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name
    url: str = Field(min_length=8, max_length=2048,
                     description="https (http only on a desk running locally); for a Teams "
                                 "channel, the Workflows webhook URL")
    format: Literal["json", "teams"] = Field(
        "json", description="json: the signed event (docs/webhooks.md); teams: an Adaptive "
                            "Card for a Teams channel's Workflows webhook")
    events: list[EventType] = Field(min_length=1)
    teams: list[Slug] = Field(default_factory=list, max_length=50,
                              description="only tickets of these teams (none: every team)")
    categories: list[Slug] = Field(default_factory=list, max_length=50)
    priorities: list[Priority] = Field(default_factory=list)
    enabled: bool = True
    secret_setting: SettingName | None = Field(
        None, description="the app setting holding the signing secret (a Key Vault "
                          "reference on Azure); without it the desk makes one and shows it once")

    @field_validator("events", "teams", "categories", "priorities")
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _teams_format(self) -> EndpointSpec:
        if self.format == "teams":
            if not self.teams:
                raise ValueError("a teams endpoint posts for one or more teams: name them in teams")
            extra = sorted(e.value for e in self.events if e not in TEAMS_EVENTS)
            if extra:
                raise ValueError("a teams endpoint takes only ticket.created, ticket.escalated "
                                 f"and sla.breached, not {', '.join(extra)}")
        return self


class Endpoint(EndpointSpec):
    id: EndpointId
    created_at: datetime
    updated_at: datetime
    updated_by: str


class UnsafeUrl(ValueError):
    """A webhook URL the desk refuses to call (scheme, credentials, or where it points)."""


# Azure's platform address (DNS, health probes, the VM agent's wire server): public in
# form, never a receiver.
AZURE_PLATFORM = ipaddress.ip_address("168.63.129.16")


def address_allowed(address: str, *, local: bool) -> bool:
    """Whether the desk may connect to `address`: outside local development only a global
    unicast address (never loopback, link-local, private, shared, reserved, multicast, or
    Azure's platform address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if local:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and ip != AZURE_PLATFORM


def check_url(url: str, *, local: bool) -> str:
    """The URL if the desk may call it as far as it can tell without DNS, else UnsafeUrl.
    A name is resolved and its addresses checked at each delivery (shared/webhooks/sender.py)."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise UnsafeUrl("spaces or control characters in the URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a URL: {exc}") from None
    allowed = ("https", "http") if local else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("the URL must be https" if not local else "the URL must be http or https")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not accepted")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("the URL has no host")
    if port == 0:
        raise UnsafeUrl("port 0")
    if parts.fragment:
        raise UnsafeUrl("a fragment is never sent: remove it")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        literal = True
    except ValueError:
        literal = False
    if literal and not address_allowed(host, local=local):
        raise UnsafeUrl(f"{host} is not a public address")
    if not literal and not local and (host == "localhost" or host.endswith(".localhost")
                                      or "." not in host):
        raise UnsafeUrl(f"{host} is not a public name")
    return url


def shown_url(url: str) -> str:
    """The URL as admins see it after creation: a Teams Workflows URL carries its own
    signature in the query, so the query is never shown again."""
    parts = urlsplit(url)
    return parts._replace(query="…" if parts.query else "").geturl()


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signed_string(timestamp: int, body: bytes) -> bytes:
    return str(timestamp).encode() + b"." + body


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), signed_string(timestamp, body), hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """A receiver's check, as docs/webhooks.md describes it (without the event-id dedupe,
    which needs the receiver's storage)."""
    fields = [part.strip().split("=", 1) for part in header.split(",") if "=" in part]
    try:
        timestamp = int(next((value for key, value in fields if key == "t"), ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(key == "v1" and hmac.compare_digest(expected, value) for key, value in fields)


# -- the retry plan -------------------------------------------------------------------------

# Seconds before each retry (shared/core/settings.py): the 11th attempt is made about
# 23.9 hours after the first; when it fails too the delivery is parked for an admin.
RETRY_DELAYS = WEBHOOK_RETRY_DELAYS


def next_delay(attempt: int, delays: tuple[int, ...] = RETRY_DELAYS) -> int | None:
    """Seconds to wait after failed attempt number `attempt` (1-based); None: park it."""
    return delays[attempt - 1] if attempt <= len(delays) else None


# -- events and payloads --------------------------------------------------------------------

def event_types(entry: ThreadEntry) -> list[EventType]:
    """The webhook events one thread entry is (an assignment of a new ticket is also a
    status change)."""
    found: list[EventType] = []
    kind = entry.kind
    if kind is EntryKind.CREATED:
        found.append(EventType.CREATED)
    elif kind is EntryKind.ASSIGNED:
        found.append(EventType.ASSIGNED)
    elif kind in (EntryKind.REPLY, EntryKind.MESSAGE):
        found.append(EventType.REPLIED)
    elif kind is EntryKind.ESCALATED:
        found.append(EventType.ESCALATED)
    elif kind is EntryKind.RATED:
        found.append(EventType.RATED)
    elif kind is EntryKind.SLA and entry.data.get("event") == "sla_warning":
        found.append(EventType.SLA_WARNING)
    elif kind is EntryKind.SLA and entry.data.get("event") == "sla_breached":
        found.append(EventType.SLA_BREACHED)
    before, after = entry.data.get("from"), entry.data.get("to")
    if kind is not EntryKind.CREATED and before and after and before != after:
        found.append(EventType.STATUS_CHANGED)
    return found


def event_id(number: str, seq: int, kind: EventType) -> str:
    """Stable for one event: the same on every retry and replay (receivers dedupe on it)."""
    return f"{number}-{seq}-{kind.value}"


def event_team(ticket: Ticket, entry: ThreadEntry) -> str | None:
    """The team an event concerns: an escalation's new team; an SLA event's team when the
    clock ran out; else the ticket's."""
    if entry.kind in (EntryKind.ESCALATED, EntryKind.SLA) and "team" in entry.data:
        return entry.data.get("team")
    return ticket.team


def matches(endpoint: EndpointSpec, kind: EventType, ticket: Ticket, entry: ThreadEntry) -> bool:
    if not endpoint.enabled or kind not in endpoint.events:
        return False
    if endpoint.teams and event_team(ticket, entry) not in endpoint.teams:
        return False
    if endpoint.categories and ticket.category not in endpoint.categories:
        return False
    return not (endpoint.priorities and ticket.priority not in endpoint.priorities)


def actor_of(entry: ThreadEntry, agents: set[str]) -> dict[str, str | None]:
    """Who caused it, without a requester's address: an agent by id, the requester (or
    someone copied) as a role only, or the desk itself (`sla`, `rules`, ...)."""
    if entry.actor in agents:
        return {"role": "agent", "id": entry.actor}
    if "@" in entry.actor or entry.kind in (EntryKind.CREATED, EntryKind.MESSAGE,
                                            EntryKind.RATED):
        return {"role": "requester", "id": None}
    return {"role": "system", "id": entry.actor}


def _data(kind: EventType, entry: ThreadEntry) -> dict[str, Any]:
    d = entry.data
    if kind is EventType.ASSIGNED:
        return {"agent": d.get("agent"), "team": d.get("team")}
    if kind is EventType.REPLIED:
        return {"public": entry.public}
    if kind is EventType.STATUS_CHANGED:
        return {"from": d.get("from"), "to": d.get("to")}
    if kind is EventType.ESCALATED:
        return {"tier": d.get("tier"), "team": d.get("team"),
                "previous_team": d.get("previous_team"), "reason": entry.body or None,
                "automatic": bool(d.get("automatic"))}
    if kind in (EventType.SLA_WARNING, EventType.SLA_BREACHED):
        return {"target": d.get("target"), "due_at": d.get("due_at"), "team": d.get("team")}
    if kind is EventType.RATED:
        return {"solved": d.get("solved")}
    return {}


def ticket_url(base_url: str, number: str) -> str:
    return f"{base_url.rstrip('/')}/api/agent#/ticket/{number}"


def payload(kind: EventType, ticket: Ticket, entry: ThreadEntry, *, agents: set[str],
            desk_name: str, base_url: str) -> dict[str, Any]:
    """The event as a receiver gets it (schema version 1). No requester name or email
    address: a receiver that needs them asks the API with the ticket number."""
    return {
        "schema_version": SCHEMA_VERSION,
        "id": event_id(ticket.number, entry.seq, kind),
        "type": kind.value,
        "occurred_at": entry.at.isoformat(),
        "desk": {"name": desk_name, "url": base_url},
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "status": ticket.status.value,
            "priority": ticket.priority.value,
            "category": ticket.category,
            "channel": ticket.channel.value,
            "team": ticket.team,
            "assignee": ticket.assignee,
            "created_at": ticket.created_at.isoformat(),
            "updated_at": ticket.updated_at.isoformat(),
            "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
            "overdue": ticket.overdue,
            "url": ticket_url(base_url, ticket.number),
        },
        "entry": {"seq": entry.seq, "actor": actor_of(entry, agents)},
        "data": _data(kind, entry),
    }


# -- what is kept of deliveries -------------------------------------------------------------

DeliveryState = Literal["pending", "delivered", "parked"]


class Delivery(BaseModel):
    """One event for one endpoint (shared/storage/webhooks.py, partition `d|<endpoint>`,
    row = the event id): the body it sends on every attempt, and where it stands. `round`
    counts replays by an admin; `attempts` the attempts of this round begun. While
    `lease_until` is in the future one handler is delivering it and no other may."""

    endpoint: str
    event_id: str
    event_type: EventType
    ticket: str
    body: str
    created_at: datetime
    state: DeliveryState = "pending"
    round: int = 1
    attempts: int = 0
    lease_until: datetime | None = None
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    next_at: datetime | None = None
    last_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


class DeliveryMessage(BaseModel):
    """A message on the `webhook-deliveries` queue: make attempt `attempt` of round
    `round` of this delivery."""

    endpoint: str = Field(max_length=63)
    event_id: str = Field(max_length=200)
    round: int = Field(1, ge=1)
    attempt: int = Field(1, ge=1)


class Attempt(BaseModel):
    """One line of an endpoint's delivery log (the last `LOG_SIZE` are kept)."""

    at: datetime
    event_id: str
    event_type: str
    attempt: int
    outcome: Literal["delivered", "failed", "parked", "refused"]
    code: int | None = None
    duration_ms: int = 0
    error: str | None = None
