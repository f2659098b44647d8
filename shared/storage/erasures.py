"""Erasing a requester's data, the storage side: the `erasures` table of jobs and their
checkpoints, the `erasures` queue that runs them, and the erasers of the stores that are
not a ticket's own (the search logs, the per-address limits, the poison queues).

A job's row (PartitionKey = its id, RowKey `job`) is written before anything is erased
and holds what the job needs to finish after a crash: the address and names being
erased (only while it runs: cleared when it is done), the tickets it found, how far it
got. The queue message names the job's id only, so neither the queue nor its poison
queue ever holds the address (shared/admin/erasure.py runs the job).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.queue.aio import QueueClient

from shared.storage import failures
from shared.storage.clients import QUEUES, StorageClients
from shared.storage.keys import key_part
from shared.storage.searchlog import SearchLogs

JOB = "job"
MAX_POISON_SCAN = 32 * 40


@failures.store
class ErasureStore:
    """The jobs. JSON-valued properties are kept as text and handed back decoded."""

    JSON_FIELDS = ("names", "numbers", "steps", "erased")
    # A string property holds 32K characters: a long list (a requester's thousands of
    # tickets) is kept in parts `<name>~0`, `<name>~1`, ... within the entity's 1 MiB.
    PART = 30_000

    def __init__(self, table: TableClient) -> None:
        self._table = table

    def _entity(self, job_id: str, props: dict[str, Any]) -> dict[str, Any]:
        entity: dict[str, Any] = {"PartitionKey": job_id, "RowKey": JOB}
        for key, value in props.items():
            if value is None:
                continue
            if key not in self.JSON_FIELDS:
                entity[key] = value
                continue
            text = json.dumps(value)
            for i, start in enumerate(range(0, len(text), self.PART)):
                entity[f"{key}~{i}"] = text[start:start + self.PART]
        return entity

    async def save(self, job_id: str, props: dict[str, Any]) -> None:
        """Write the job's row whole (a checkpoint: every step after it can be replayed)."""
        await self._table.upsert_entity(self._entity(job_id, props), mode=UpdateMode.REPLACE)

    async def get(self, job_id: str) -> dict[str, Any] | None:
        try:
            entity = await self._table.get_entity(job_id, JOB)
        except ResourceNotFoundError:
            return None
        props = {k: v for k, v in entity.items()
                 if k not in ("PartitionKey", "RowKey") and "~" not in k}
        for key in self.JSON_FIELDS:
            parts = sorted((int(k.split("~")[1]), v) for k, v in entity.items()
                           if k.startswith(key + "~"))
            if parts:
                props[key] = json.loads("".join(v for _, v in parts))
        return props

    async def unfinished(self, *, requested_before: datetime) -> list[str]:
        """The ids of jobs not done, requested before `requested_before` (a scan of a
        small table: the daily timer sends them again)."""
        return [e["PartitionKey"] async for e in self._table.query_entities(
            "RowKey eq @job and state ne @done and requested_at lt @before",
            parameters={"job": JOB, "done": "done", "before": requested_before},
            select=["PartitionKey"])]


@failures.store
class ErasureQueue:
    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    async def publish(self, job_id: str) -> None:
        await self._queue.send_message(json.dumps({"id": job_id}))


# -- the erasers of stores outside a ticket's partition -------------------------------


@failures.translated
async def rewrite_log(logs: SearchLogs, log: str,
                      line: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
    """Rewrite every line of a search log through `line` (None drops it); a part whose
    lines all stay as they were is left alone. Returns how many parts were rewritten."""
    return await logs.rewrite(log, line)


@failures.translated
async def forget_address(table: TableClient, prefixes: tuple[str, ...], address: str) -> int:
    """Delete the per-address limit rows (`<prefix>|<address>`) of `address`, as typed
    and in lower case; how many rows went."""
    count = 0
    for form in sorted({address, address.lower()}):
        for prefix in prefixes:
            pk = f"{prefix}|{key_part(form)}"
            async for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": pk},
                                                  select=["PartitionKey", "RowKey"]):
                try:
                    await table.delete_entity(pk, row["RowKey"])
                    count += 1
                except ResourceNotFoundError:
                    pass
    return count


def _decoded(content: str) -> str:
    try:
        return base64.b64decode(content, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return content


@failures.translated
async def drop_poison(clients: StorageClients, mentions: Callable[[str], bool]) -> int:
    """Delete the messages of every poison queue (`<queue>-poison` of each of `QUEUES`)
    whose text `mentions` the erased person; the others are made visible again at once.
    How many were deleted."""
    deleted = 0
    for name in QUEUES:
        client = clients.queues.get_queue_client(f"{name}-poison")
        kept: dict[str, Any] = {}  # the others, by id, with their latest receipt
        while len(kept) + deleted < MAX_POISON_SCAN:
            try:
                batch = [m async for m in client.receive_messages(max_messages=32,
                                                                  visibility_timeout=30)]
            except ResourceNotFoundError:
                break
            fresh = [m for m in batch if m.id not in kept]
            kept.update((m.id, m) for m in batch if m.id in kept)
            if not fresh:
                break
            for message in fresh:
                if not mentions(_decoded(message.content)):
                    kept[message.id] = message
                    continue
                try:
                    await client.delete_message(message)
                    deleted += 1
                except (ResourceNotFoundError, ResourceModifiedError):
                    pass
        for message in kept.values():  # visible again at once, for the admins' list and replay
            try:
                await client.update_message(message, visibility_timeout=0)
            except (ResourceNotFoundError, ResourceModifiedError):
                pass
    return deleted

