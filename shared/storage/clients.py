"""Async SDK clients, built once from settings and shared by every request of a process.

Building a client per request costs a connection pool and TLS handshakes each time; the
Functions worker keeps one event loop per process, so one set of async clients serves
all async invocations. `request_hook` is called with every request each client sends,
retries included (the SDKs' `raw_request_hook`): the benchmark counts storage requests
with it, and tests use it to make storage fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.storage.blob.aio import BlobServiceClient, ContainerClient
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from shared.settings import StorageSettings

TICKETS_TABLE = "tickets"
INDEX_TABLE = "ticketindex"
IDEMPOTENCY_TABLE = "idempotency"
DIRECTORY_TABLE = "directory"
RATELIMIT_TABLE = "ratelimits"
REPORTS_TABLE = "reports"
KB_TABLE = "knowledge"
ATTACHMENTS_CONTAINER = "attachments"
SEARCH_CONTAINER = "search"  # the search logs (shared/storage/searchlog.py)
EVENTS_QUEUE = "ticket-events"
ESCALATIONS_QUEUE = "escalations"
PORTAL_LINKS_QUEUE = "portal-links"

TABLES = (TICKETS_TABLE, INDEX_TABLE, IDEMPOTENCY_TABLE, DIRECTORY_TABLE, RATELIMIT_TABLE,
          REPORTS_TABLE, KB_TABLE)
QUEUES = (EVENTS_QUEUE, ESCALATIONS_QUEUE, PORTAL_LINKS_QUEUE)


@dataclass
class StorageClients:
    tables: TableServiceClient
    blobs: BlobServiceClient
    queues: QueueServiceClient
    _credential: Any = None
    _queue_clients: dict[str, QueueClient] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: StorageSettings, *,
                      request_hook: Callable[[Any], None] | None = None) -> StorageClients:
        # use_env_settings=False: aiohttp would otherwise look for proxy settings and a
        # .netrc file in a thread on every single request (7% of intake's CPU here);
        # Functions reach storage directly.
        extra: dict[str, Any] = {"use_env_settings": False}
        if request_hook:
            extra["raw_request_hook"] = request_hook
        if settings.connection_string:
            conn = settings.connection_string
            return cls(
                tables=TableServiceClient.from_connection_string(conn, **extra),
                blobs=BlobServiceClient.from_connection_string(conn, **extra),
                queues=QueueServiceClient.from_connection_string(conn, **extra),
            )
        # Imported here so a connection-string deployment never loads azure.identity.
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential()
        assert settings.table_uri and settings.blob_uri and settings.queue_uri
        return cls(
            tables=TableServiceClient(settings.table_uri, credential=credential, **extra),
            blobs=BlobServiceClient(settings.blob_uri, credential=credential, **extra),
            queues=QueueServiceClient(settings.queue_uri, credential=credential, **extra),
            _credential=credential,
        )

    def table(self, name: str) -> TableClient:
        return self.tables.get_table_client(name)

    def container(self, name: str) -> ContainerClient:
        return self.blobs.get_container_client(name)

    def queue(self, name: str) -> QueueClient:
        # The Functions host expects base64 message bodies (host.json messageEncoding).
        client = self._queue_clients.get(name)
        if client is None:
            client = self.queues.get_queue_client(
                name,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
            self._queue_clients[name] = client
        return client

    async def ensure_resources(self) -> None:
        """Create tables, the container and queues if missing (idempotent, at start-up)."""

        async def table(name: str) -> None:
            await self.tables.create_table_if_not_exists(name)

        async def container(name: str) -> None:
            try:
                await self.blobs.create_container(name)
            except ResourceExistsError:
                pass

        async def queue(name: str) -> None:
            try:
                await self.queue(name).create_queue()
            except ResourceExistsError:
                pass

        await asyncio.gather(
            *(table(t) for t in TABLES),
            container(ATTACHMENTS_CONTAINER),
            container(SEARCH_CONTAINER),
            *(queue(q) for q in QUEUES),
        )

    async def close(self) -> None:
        for client in self._queue_clients.values():
            await client.close()
        await asyncio.gather(self.tables.close(), self.blobs.close(), self.queues.close())
        if self._credential is not None:
            await self._credential.close()
