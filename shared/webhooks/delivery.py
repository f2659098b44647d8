"""Webhook deliveries: the fan-out of a ticket event to the endpoints that asked for it,
and the queue handler that makes one attempt.

Fan-out (called by the ticket-events and escalations handlers) builds each endpoint's
body once and records it as a delivery keyed by (endpoint, event id) before it queues a
message: a second fan-out of the same event (a redelivered queue message, or an
escalation seen on both queues) finds the delivery and queues nothing new, unless the
delivery was never attempted (the first fan-out died between the record and the
message), when it queues it again; a spare message is dropped by the checks below.

An attempt (`deliver`) takes the delivery's lease under its ETag before it sends, so one
event is never in flight to one endpoint twice: a message for an attempt that was made
already (a duplicate) is dropped, one that finds the lease held is put back until the
lease runs out, and one that finds a lease run out (its holder died) takes over. A
failed attempt queues the next one with the queue's visibility timeout as the backoff
(`RETRY_DELAYS`, about 24 hours in all); after the last the delivery is parked for an
admin, who can replay it (a new round; messages of older rounds are dropped). The next
attempt's message is queued before the failure is recorded, so a crash between the two
delays it, never loses it. A crash after a receiver took a delivery but before it was
recorded sends it again: receivers drop an event id they have seen (docs/webhooks.md).
"""

from __future__ import annotations

import json
import logging
import zlib
from datetime import timedelta
from typing import TYPE_CHECKING

from shared.core.directory import Agent, Team
from shared.core.models import ThreadEntry
from shared.core.webhooks import (
    ENDPOINT_ID,
    EVENT_ID,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Attempt,
    Delivery,
    DeliveryMessage,
    Endpoint,
    event_types,
    matches,
    next_delay,
    payload,
    signature_header,
)
from shared.storage.tickets import StoredTicket
from shared.storage.webhooks import DeliveryChanged
from shared.webhooks import teams

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

USER_AGENT = "HelpDesk-Webhooks/1"
# Past the attempt's own timeout, room to record its outcome.
LEASE_MARGIN = timedelta(seconds=50)
KEEP_DELIVERED = timedelta(days=7)
PRUNE_ONE_IN = 50  # successes that also prune the endpoint's old delivered rows


def body_for(endpoint: Endpoint, event: dict[str, object], *, team_names: dict[str, str]) -> str:
    document = teams.message(event, team_names=team_names) if endpoint.format == "teams" \
        else event
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


async def fan_out(stored: StoredTicket, entry: ThreadEntry, *, desk: Helpdesk) -> list[str]:
    """Record and queue a delivery of each webhook event of `entry` to each endpoint that
    wants it; the ids of the deliveries queued."""
    kinds = event_types(entry)
    if not kinds:
        return []
    endpoints = [e for e in await desk.webhooks.recent_endpoints() if e.enabled]
    wanted = [(kind, e) for kind in kinds for e in endpoints
              if matches(e, kind, stored.ticket, entry)]
    if not wanted:
        return []
    agents = {a.id for a in await desk.directory.list(Agent)}
    team_names = {t.id: t.name for t in await desk.directory.list(Team)}
    queued: list[str] = []
    for kind, endpoint in wanted:
        event = payload(kind, stored.ticket, entry, agents=agents,
                        desk_name=desk.settings.helpdesk_name,
                        base_url=desk.settings.public_base_url)
        delivery = Delivery(endpoint=endpoint.id, event_id=str(event["id"]), event_type=kind,
                            ticket=stored.ticket.number, created_at=desk.clock(),
                            body=body_for(endpoint, event, team_names=team_names))
        if not await desk.webhooks.add_delivery(delivery):
            found = await desk.webhooks.delivery(endpoint.id, delivery.event_id)
            if found is None or found[0].attempts or found[0].round != 1 \
                    or found[0].state != "pending":
                continue
        await desk.webhook_deliveries.publish(
            DeliveryMessage(endpoint=endpoint.id, event_id=delivery.event_id))
        queued.append(f"{endpoint.id}/{delivery.event_id}")
    return queued


async def deliver(message: DeliveryMessage, *, desk: Helpdesk) -> str:
    """Make the attempt `message` asks for, if it is still due; what became of it."""
    if not (ENDPOINT_ID.match(message.endpoint) and EVENT_ID.match(message.event_id)):
        return "gone"
    found = await desk.webhooks.endpoint(message.endpoint)
    got = await desk.webhooks.delivery(message.endpoint, message.event_id)
    if found is None or got is None:
        return "gone"
    endpoint, stored_secret = found
    delivery, etag = got
    now = desk.clock()
    if delivery.state != "pending" or delivery.round != message.round \
            or not message.attempt - 1 <= delivery.attempts <= message.attempt:
        return "stale"
    if delivery.attempts == message.attempt and delivery.lease_until is None:
        return "stale"  # this attempt was made and recorded: a duplicate message
    if delivery.lease_until is not None and delivery.lease_until > now:
        # An attempt is in flight (or its outcome is being recorded): come back after it.
        await desk.webhook_deliveries.publish(
            message, delay=(delivery.lease_until - now).total_seconds() + 1)
        return "busy"
    if delivery.attempts == message.attempt:
        log.warning("webhook %s/%s: attempt %d was left unfinished; taking it over",
                    endpoint.id, delivery.event_id, message.attempt)
    timeout = desk.settings.webhooks.timeout_seconds
    claimed = delivery.model_copy(update={
        "attempts": message.attempt, "lease_until": now + timedelta(seconds=timeout) + LEASE_MARGIN,
        "first_attempt_at": delivery.first_attempt_at or now, "last_attempt_at": now})
    try:
        etag = await desk.webhooks.save_delivery(claimed, etag)
    except DeliveryChanged:
        await desk.webhook_deliveries.publish(message, delay=5)
        return "busy"
    secret = stored_secret or (desk.secret_lookup(endpoint.secret_setting)
                               if endpoint.secret_setting else None)
    if not endpoint.enabled:
        return await _record(claimed, etag, message, desk=desk, code=None, duration_ms=0,
                             error="the endpoint is disabled", park=True)
    if not secret:
        return await _record(claimed, etag, message, desk=desk, code=None, duration_ms=0,
                             error=f"the app setting {endpoint.secret_setting} is not set")
    body = delivery.body.encode()
    timestamp = int(now.timestamp())
    result = await desk.webhook_sender.post(endpoint.url, body, {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_TYPE_HEADER: delivery.event_type.value,
        EVENT_ID_HEADER: delivery.event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
    })
    return await _record(claimed, etag, message, desk=desk, code=result.code,
                         duration_ms=result.duration_ms, error=result.error,
                         ok=result.ok, park=result.refused)


async def _record(delivery: Delivery, etag: str, message: DeliveryMessage, *, desk: Helpdesk,
                  code: int | None, duration_ms: int, error: str | None, ok: bool = False,
                  park: bool = False) -> str:
    now = desk.clock()
    update: dict[str, object] = {"lease_until": None, "last_code": code, "last_error": error}
    if ok:
        outcome = "delivered"
        update.update(state="delivered", delivered_at=now, next_at=None)
    else:
        delay = None if park else next_delay(message.attempt, desk.settings.webhooks.retry_delays)
        if delay is None:
            outcome = "refused" if park and error and "disabled" not in error else "parked"
            update.update(state="parked", next_at=None)
        else:
            outcome = "failed"
            update["next_at"] = now + timedelta(seconds=delay)
            # Queued first: a crash before the record below delays the retry, never loses it.
            await desk.webhook_deliveries.publish(
                message.model_copy(update={"attempt": message.attempt + 1}), delay=delay)
    try:
        await desk.webhooks.save_delivery(delivery.model_copy(update=update), etag)
    except DeliveryChanged:
        log.warning("webhook %s/%s: changed while attempt %d ran (taken over or replayed)",
                    delivery.endpoint, delivery.event_id, message.attempt)
    await desk.webhooks.log(delivery.endpoint, Attempt(
        at=now, event_id=delivery.event_id, event_type=delivery.event_type.value,
        attempt=message.attempt, outcome=outcome, code=code, duration_ms=duration_ms,
        error=error))
    if ok and zlib.crc32(delivery.event_id.encode()) % PRUNE_ONE_IN == 0:
        await desk.webhooks.prune_deliveries(delivery.endpoint, before=now - KEEP_DELIVERED)
    log.info("webhook %s/%s attempt %d: %s%s", delivery.endpoint, delivery.event_id,
             message.attempt, outcome, f" ({error})" if error else "")
    return outcome
