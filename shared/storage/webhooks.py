"""The `webhooks` table and the `webhook-deliveries` queue.

- PartitionKey `endpoint`, RowKey = the endpoint's id: the endpoint as an admin defined
  it (JSON) and its signing secret when the desk made it (never returned by the API).
- PartitionKey `d|<endpoint>`, RowKey = the event id (`<ticket>-<seq>-<type>`): one
  delivery, created once per event and endpoint (a second fan-out of the same event
  finds it and queues nothing), changed under its ETag: taking the lease for an attempt,
  recording its outcome, a replay.
- PartitionKey `log|<endpoint>`, RowKey `<inverted milliseconds>|<event id>|<attempt>`:
  the delivery log, newest first, pruned to the last `LOG_SIZE` attempts.

Delivery rows hold the event's body (the ticket's subject, no requester address); the
`ticket` property names the ticket, so an erasure finds them by ticket number.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.queue.aio import QueueClient

from shared.core.webhooks import LOG_SIZE, Attempt, Delivery, DeliveryMessage, Endpoint
from shared.storage import failures

ENDPOINTS = "endpoint"
CACHE_SECONDS = 10.0  # as the directory's (shared/storage/directory.py)
_MAX_MS = 10 ** 13


class DeliveryChanged(Exception):
    """The delivery row changed since it was read (another handler, a replay)."""


class EndpointExists(Exception):
    pass


def _deliveries(endpoint: str) -> str:
    return f"d|{endpoint}"


def _log(endpoint: str) -> str:
    return f"log|{endpoint}"


def _delivery_row(delivery: Delivery) -> dict[str, Any]:
    row: dict[str, Any] = {"PartitionKey": _deliveries(delivery.endpoint),
                           "RowKey": delivery.event_id, "ticket": delivery.ticket,
                           "state": delivery.state,
                           "json": delivery.model_dump_json(exclude={"body"}),
                           "body": delivery.body}
    return row


def _delivery(entity: dict[str, Any]) -> Delivery:
    return Delivery.model_validate({**json.loads(entity["json"]), "body": entity.get("body", "")})


@failures.store
class WebhookStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table
        # The endpoints as every ticket event's fan-out reads them: kept `CACHE_SECONDS`
        # (as the directory is), so that a desk without webhooks spends no request per
        # event; this instance's own changes drop it at once, other instances' within
        # `CACHE_SECONDS`.
        self._cached: tuple[float, list[Endpoint]] | None = None

    # -- endpoints ---------------------------------------------------------------------------

    async def endpoints(self) -> list[Endpoint]:
        return [endpoint for endpoint, _ in await self.endpoints_and_secrets()]

    async def recent_endpoints(self) -> list[Endpoint]:
        """The endpoints, as read at most `CACHE_SECONDS` ago (the events' fan-out)."""
        if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_SECONDS:
            return self._cached[1]
        found = await self.endpoints()
        self._cached = (time.monotonic(), found)
        return found

    async def endpoints_and_secrets(self) -> list[tuple[Endpoint, str | None]]:
        found = [(Endpoint.model_validate_json(e["json"]), e.get("secret") or None) async for e
                 in self._table.query_entities("PartitionKey eq @p", parameters={"p": ENDPOINTS})]
        return sorted(found, key=lambda pair: pair[0].id)

    async def endpoint(self, endpoint_id: str) -> tuple[Endpoint, str | None] | None:
        """The endpoint and the secret the desk made for it (None when it names a setting)."""
        try:
            entity = await self._table.get_entity(ENDPOINTS, endpoint_id)
        except ResourceNotFoundError:
            return None
        return Endpoint.model_validate_json(entity["json"]), entity.get("secret") or None

    async def create(self, endpoint: Endpoint, secret: str | None) -> None:
        self._cached = None
        try:
            await self._table.create_entity({"PartitionKey": ENDPOINTS, "RowKey": endpoint.id,
                                             "json": endpoint.model_dump_json(),
                                             "secret": secret or ""})
        except ResourceExistsError:
            raise EndpointExists(endpoint.id) from None

    async def replace(self, endpoint: Endpoint, secret: str | None) -> None:
        self._cached = None
        await self._table.upsert_entity({"PartitionKey": ENDPOINTS, "RowKey": endpoint.id,
                                         "json": endpoint.model_dump_json(),
                                         "secret": secret or ""}, mode=UpdateMode.REPLACE)

    async def delete(self, endpoint_id: str) -> bool:
        """The endpoint, its deliveries and its log; whether it existed."""
        self._cached = None
        try:
            await self._table.get_entity(ENDPOINTS, endpoint_id, select=["RowKey"])
        except ResourceNotFoundError:
            return False
        for partition in (_deliveries(endpoint_id), _log(endpoint_id)):
            async for row in self._table.query_entities(
                    "PartitionKey eq @p", parameters={"p": partition},
                    select=["PartitionKey", "RowKey"]):
                try:
                    await self._table.delete_entity(partition, row["RowKey"])
                except ResourceNotFoundError:
                    pass
        try:
            await self._table.delete_entity(ENDPOINTS, endpoint_id)
        except ResourceNotFoundError:
            pass
        return True

    # -- deliveries --------------------------------------------------------------------------

    async def add_delivery(self, delivery: Delivery) -> bool:
        """Record a new delivery; False when this event already has one for the endpoint."""
        try:
            await self._table.create_entity(_delivery_row(delivery))
        except ResourceExistsError:
            return False
        return True

    async def delivery(self, endpoint: str, event_id: str) -> tuple[Delivery, str] | None:
        try:
            entity = await self._table.get_entity(_deliveries(endpoint), event_id)
        except ResourceNotFoundError:
            return None
        return _delivery(entity), str(entity.metadata["etag"])

    async def save_delivery(self, delivery: Delivery, etag: str) -> str:
        """Write the delivery under the ETag it was read with; its new ETag."""
        try:
            meta = await self._table.update_entity(
                _delivery_row(delivery), mode=UpdateMode.REPLACE, etag=etag,
                match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            raise DeliveryChanged(delivery.event_id) from None
        return str(meta["etag"])

    async def deliveries(self, endpoint: str, *, state: str | None = None,
                         limit: int = 500) -> list[Delivery]:
        query = "PartitionKey eq @p" + (" and state eq @s" if state else "")
        params = {"p": _deliveries(endpoint), **({"s": state} if state else {})}
        found: list[Delivery] = []
        async for entity in self._table.query_entities(query, parameters=params):
            found.append(_delivery(entity))
            if len(found) >= limit:
                break
        return sorted(found, key=lambda d: d.created_at, reverse=True)

    async def prune_deliveries(self, endpoint: str, *, before: datetime) -> int:
        """Remove delivered deliveries created before `before` (their log lines stay)."""
        return await self._delete_where(
            "PartitionKey eq @p and state eq @s", {"p": _deliveries(endpoint), "s": "delivered"},
            lambda entity: _delivery(entity).created_at < before)

    async def drop_deliveries_of(self, numbers: set[str]) -> int:
        """Remove every endpoint's deliveries of these tickets, whatever their state (an
        erasure: their bodies hold the ticket's subject); the log lines stay (they hold
        no text). How many were removed."""
        return await self._delete_where(
            "PartitionKey ge @lo and PartitionKey lt @hi", {"lo": _deliveries(""), "hi": "d}"},
            lambda entity: entity.get("ticket") in numbers)

    async def _delete_where(self, query: str, parameters: dict[str, Any],
                            wanted: Callable[[dict[str, Any]], bool]) -> int:
        """Delete the entities of `query` that are `wanted` (one gone meanwhile is fine)."""
        removed = 0
        async for entity in self._table.query_entities(query, parameters=parameters):
            if wanted(entity):
                try:
                    await self._table.delete_entity(entity["PartitionKey"], entity["RowKey"])
                    removed += 1
                except ResourceNotFoundError:
                    pass
        return removed

    # -- the delivery log --------------------------------------------------------------------

    async def log(self, endpoint: str, attempt: Attempt) -> None:
        inverted = _MAX_MS - int(attempt.at.timestamp() * 1000)
        key = f"{inverted:013d}|{attempt.event_id}|{attempt.attempt}|{secrets.token_hex(3)}"
        await self._table.create_entity({"PartitionKey": _log(endpoint), "RowKey": key,
                                         "json": attempt.model_dump_json()})
        # Keep the last LOG_SIZE: the keys sort newest first, so what follows them goes.
        keys = [e["RowKey"] async for e in self._table.query_entities(
            "PartitionKey eq @p", parameters={"p": _log(endpoint)}, select=["RowKey"])]
        for old in sorted(keys)[LOG_SIZE:]:
            try:
                await self._table.delete_entity(_log(endpoint), old)
            except ResourceNotFoundError:
                pass

    async def attempts(self, endpoint: str, *, limit: int = LOG_SIZE) -> list[Attempt]:
        found: list[Attempt] = []
        async for entity in self._table.query_entities(
                "PartitionKey eq @p", parameters={"p": _log(endpoint)}, results_per_page=limit):
            found.append(Attempt.model_validate_json(entity["json"]))
            if len(found) >= limit:
                break
        return found


@failures.store
class DeliveryQueue:
    """The `webhook-deliveries` queue; a retry is a new message made visible later."""

    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    async def publish(self, message: DeliveryMessage, *, delay: float = 0) -> None:
        await self._queue.send_message(message.model_dump_json(),
                                       visibility_timeout=int(delay) if delay else None)
