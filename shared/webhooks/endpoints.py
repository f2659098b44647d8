"""What admins do with webhook endpoints: register (the signing secret shown once),
change, remove, rotate the secret, read the delivery log and replay a parked delivery.

A URL is checked when it is saved (`check_url`: https outside local development, no
literal private address) and again, after DNS, at every attempt (shared/webhooks/sender.py).
Once saved, a URL's query is never shown again (a Teams Workflows URL is its own
credential); sending the shown form back on a change keeps the stored URL.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from shared.core.directory import Team
from shared.core.errors import Conflict, NotFound, ValidationFailed
from shared.core.webhooks import (
    ENDPOINT_ID,
    EVENT_ID,
    DeliveryMessage,
    Endpoint,
    EndpointSpec,
    UnsafeUrl,
    check_url,
    new_secret,
    shown_url,
)
from shared.storage.webhooks import DeliveryChanged, EndpointExists

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk


def view(endpoint: Endpoint, secret: str | None) -> dict[str, Any]:
    """An endpoint as the API shows it: no secret, no URL query."""
    shown = endpoint.model_dump(mode="json")
    shown["url"] = shown_url(endpoint.url)
    shown["secret"] = "setting" if endpoint.secret_setting else ("stored" if secret else "none")
    return shown


async def _checked(spec: EndpointSpec, *, desk: Helpdesk) -> None:
    try:
        check_url(spec.url, local=desk.settings.local)
    except UnsafeUrl as exc:
        raise ValidationFailed(f"url: {exc}", errors=[{"field": "url", "message": str(exc)}]
                               ) from None
    known = {t.id for t in await desk.directory.list(Team)}
    unknown = [t for t in spec.teams if t not in known]
    if unknown:
        raise ValidationFailed(f"No team {', '.join(unknown)}.",
                               errors=[{"field": "teams", "message": f"no team {t}"}
                                       for t in unknown])


async def create(spec: EndpointSpec, *, by: str, desk: Helpdesk) -> dict[str, Any]:
    """The new endpoint; `secret` in the answer is the only time the desk shows it."""
    await _checked(spec, desk=desk)
    now = desk.clock()
    endpoint = Endpoint(**spec.model_dump(), id=uuid.uuid4().hex[:12], created_at=now,
                        updated_at=now, updated_by=by)
    secret = None if spec.secret_setting else new_secret()
    try:
        await desk.webhooks.create(endpoint, secret)
    except EndpointExists:
        raise Conflict("An endpoint with this id exists; try again.") from None
    return {**view(endpoint, secret), **({"signing_secret": secret} if secret else {})}


async def _get(endpoint_id: str, *, desk: Helpdesk) -> tuple[Endpoint, str | None]:
    # Ids the desk never makes are not looked up (a key storage would refuse).
    found = await desk.webhooks.endpoint(endpoint_id) if ENDPOINT_ID.match(endpoint_id) \
        else None
    if found is None:
        raise NotFound(f"No webhook endpoint {endpoint_id!r}.")
    return found


async def replace(endpoint_id: str, spec: EndpointSpec, *, by: str, desk: Helpdesk
                  ) -> dict[str, Any]:
    current, secret = await _get(endpoint_id, desk=desk)
    if spec.url == shown_url(current.url):
        spec = spec.model_copy(update={"url": current.url})
    await _checked(spec, desk=desk)
    if spec.secret_setting:
        secret = None
    elif secret is None:
        secret = new_secret()  # moved off a setting: the desk makes one (rotate to see it)
    endpoint = Endpoint(**spec.model_dump(), id=current.id, created_at=current.created_at,
                        updated_at=desk.clock(), updated_by=by)
    await desk.webhooks.replace(endpoint, secret)
    return view(endpoint, secret)


async def rotate(endpoint_id: str, *, by: str, desk: Helpdesk) -> dict[str, Any]:
    """A new signing secret, shown once; the old one stops signing at once."""
    current, _ = await _get(endpoint_id, desk=desk)
    if current.secret_setting:
        raise Conflict(f"This endpoint's secret is the app setting {current.secret_setting}: "
                       "change it there.")
    secret = new_secret()
    endpoint = current.model_copy(update={"updated_at": desk.clock(), "updated_by": by})
    await desk.webhooks.replace(endpoint, secret)
    return {**view(endpoint, secret), "signing_secret": secret}


async def remove(endpoint_id: str, *, desk: Helpdesk) -> None:
    if not ENDPOINT_ID.match(endpoint_id) or not await desk.webhooks.delete(endpoint_id):
        raise NotFound(f"No webhook endpoint {endpoint_id!r}.")


async def overview(*, desk: Helpdesk) -> list[dict[str, Any]]:
    return [view(endpoint, secret) for endpoint, secret in
            await desk.webhooks.endpoints_and_secrets()]


def _delivery_view(d: Any) -> dict[str, Any]:
    return d.model_dump(mode="json", exclude={"body", "lease_until"})


async def deliveries(endpoint_id: str, *, desk: Helpdesk) -> dict[str, Any]:
    """The endpoint's delivery log (its last 100 attempts, newest first) and the
    deliveries parked or still being retried."""
    endpoint, secret = await _get(endpoint_id, desk=desk)
    return {
        "endpoint": view(endpoint, secret),
        "attempts": [a.model_dump(mode="json") for a in await desk.webhooks.attempts(endpoint_id)],
        "parked": [_delivery_view(d) for d in
                   await desk.webhooks.deliveries(endpoint_id, state="parked")],
        "retrying": [_delivery_view(d) for d in
                     await desk.webhooks.deliveries(endpoint_id, state="pending")],
    }


async def replay(endpoint_id: str, event_id: str, *, desk: Helpdesk) -> dict[str, Any]:
    """Send a parked (or still retrying) delivery again from its first attempt, now."""
    await _get(endpoint_id, desk=desk)
    found = await desk.webhooks.delivery(endpoint_id, event_id) if EVENT_ID.match(event_id) \
        else None
    if found is None:
        raise NotFound(f"No delivery {event_id!r} for this endpoint.")
    delivery, etag = found
    now = desk.clock()
    if delivery.state == "delivered":
        raise Conflict("This delivery was delivered; receivers drop an event id they have seen.")
    if delivery.lease_until is not None and delivery.lease_until > now:
        raise Conflict("An attempt of this delivery is under way; try again in a minute.")
    replayed = delivery.model_copy(update={
        "state": "pending", "round": delivery.round + 1, "attempts": 0, "lease_until": None,
        "first_attempt_at": None, "next_at": now})
    try:
        await desk.webhooks.save_delivery(replayed, etag)
    except DeliveryChanged:
        raise Conflict("The delivery changed meanwhile; look again.") from None
    await desk.webhook_deliveries.publish(DeliveryMessage(endpoint=endpoint_id, event_id=event_id,
                                                  round=replayed.round))
    return _delivery_view(replayed)
