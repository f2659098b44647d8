"""Async SDK clients, built once from settings and shared by every request of a process.

Building a client per request costs a connection pool and TLS handshakes each time; the
Functions worker keeps one event loop per process, so one set of async clients serves
all async invocations. `request_hook` is called with every request each client sends,
retries included (the SDKs' `raw_request_hook`): the benchmark counts storage requests
with it, and tests use it to make storage fail; `response_hook` sees every answer (tests
use it to lose one after the write happened).

Timeouts and retries are set here, not left at the SDKs' defaults (a 60-second read
timeout, tried four times): a storage account that stops answering must not hold a
request for minutes. A request gives up on one storage call after about
`(RETRY_TOTAL + 1) * READ_TIMEOUT` seconds and answers 503 (functions/http.py).

An idle pooled connection is dropped after `KEEP_ALIVE` seconds, before the server
drops it: Azurite (Node) closes a connection idle for 5 s, and aiohttp's own default
(15 s) let a request go out on a connection the server was closing at that moment
("Server disconnected"); the retry could take another such connection from the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from azure.core.exceptions import ResourceExistsError
from azure.core.pipeline.transport import AioHttpTransport
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.storage.blob.aio import BlobServiceClient, ContainerClient, LinearRetry
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from shared.core.settings import StorageSettings
from shared.storage import failures
from shared.storage.indexing import (
    ACTIVE_TABLE,
    CLOSED_TABLE,
    OLD_WORDS_TABLE,
    REQUESTERS_TABLE,
    WORDS_TABLE,
)

TICKETS_TABLE = "tickets"
INDEX_TABLE = ACTIVE_TABLE  # the agents' queues; the other index tables: shared/storage/indexing.py
INDEX_TABLES = (ACTIVE_TABLE, CLOSED_TABLE, REQUESTERS_TABLE, WORDS_TABLE)
# Read and dropped by tools.reindex only (never created): an older layout's table.
OLD_INDEX_TABLES = (OLD_WORDS_TABLE,)
IDEMPOTENCY_TABLE = "idempotency"
DIRECTORY_TABLE = "directory"
RATELIMIT_TABLE = "ratelimits"
REPORTS_TABLE = "reports"
KB_TABLE = "knowledge"
MAILBOXES_TABLE = "mailboxes"  # fetched mailboxes' checkpoints, leases, health
PRESENCE_TABLE = "presence"  # which agents have a ticket open (shared/storage/presence.py)
AUDIT_TABLE = "audit"  # the audit log, one partition per day (shared/storage/audit.py)
ERASURES_TABLE = "erasures"  # requesters' erasure jobs and their checkpoints (shared/storage/erasures.py)
WEBHOOKS_TABLE = "webhooks"  # endpoints, deliveries, the delivery log (shared/storage/webhooks.py)
ATTACHMENTS_CONTAINER = "attachments"
SEARCH_CONTAINER = "search"  # the search logs (shared/storage/searchlog.py)
EVENTS_QUEUE = "ticket-events"
ESCALATIONS_QUEUE = "escalations"
PORTAL_LINKS_QUEUE = "portal-links"
MAILBOX_FETCH_QUEUE = "mailbox-fetch"  # one message per mailbox to fetch now
ERASURES_QUEUE = "erasures"  # one message per erasure job to run (or to continue)
WEBHOOK_DELIVERIES_QUEUE = "webhook-deliveries"  # one message per webhook attempt due

TABLES = (TICKETS_TABLE, *INDEX_TABLES, IDEMPOTENCY_TABLE, DIRECTORY_TABLE, RATELIMIT_TABLE,
          REPORTS_TABLE, KB_TABLE, MAILBOXES_TABLE, PRESENCE_TABLE, AUDIT_TABLE, ERASURES_TABLE,
          WEBHOOKS_TABLE)
QUEUES = (EVENTS_QUEUE, ESCALATIONS_QUEUE, PORTAL_LINKS_QUEUE, MAILBOX_FETCH_QUEUE,
          ERASURES_QUEUE, WEBHOOK_DELIVERIES_QUEUE)

# Seconds. One storage operation answers in milliseconds even under load here; a
# connection that is silent for READ_TIMEOUT belongs to a storage service that stopped.
CONNECTION_TIMEOUT = 3
READ_TIMEOUT = 5
RETRY_TOTAL = 1
KEEP_ALIVE = 4  # below the 5 s after which Azurite closes an idle connection


class _Transport(AioHttpTransport):
    """azure-core's aiohttp transport with a connection pool whose idle connections are
    dropped after `KEEP_ALIVE` seconds. The session is made in `open`, inside the event
    loop, as the parent class makes its own."""

    session: aiohttp.ClientSession | None

    async def open(self) -> None:
        if self.session is None and not self._has_been_opened:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEP_ALIVE),
                # No proxy or .netrc look-up per request (7% of intake's CPU here):
                # Functions reach storage directly.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        await super().open()


def _client_options(kind: str) -> dict[str, Any]:
    """Client options: a transport of its own with the timeouts; the Tables SDK takes
    azure-core's retry settings, Blob and Queue a storage retry policy (whose default
    waits 15 s before its first retry)."""
    options: dict[str, Any] = {"transport": _Transport(connection_timeout=CONNECTION_TIMEOUT,
                                                       read_timeout=READ_TIMEOUT)}
    if kind == "tables":
        return {**options, "retry_total": RETRY_TOTAL, "retry_backoff_factor": 0.4,
                "retry_backoff_max": 2}
    # The async package of azure-storage-queue does not export its copy of this policy;
    # the Blob SDK's is the same code (both vendor azure.storage's shared policies).
    return {**options, "retry_policy": LinearRetry(backoff=1, retry_total=RETRY_TOTAL,
                                                   random_jitter_range=1)}


@failures.store
@dataclass
class StorageClients:
    tables: TableServiceClient
    blobs: BlobServiceClient
    queues: QueueServiceClient
    _credential: Any = None
    _queue_clients: dict[str, QueueClient] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: StorageSettings, *,
                      request_hook: Callable[[Any], None] | None = None,
                      response_hook: Callable[[Any], None] | None = None) -> StorageClients:
        extra: dict[str, Any] = {}
        if request_hook:
            extra["raw_request_hook"] = request_hook
        if response_hook:
            extra["raw_response_hook"] = response_hook
        if settings.connection_string:
            conn = settings.connection_string
            return cls(
                tables=TableServiceClient.from_connection_string(
                    conn, **extra, **_client_options("tables")),
                blobs=BlobServiceClient.from_connection_string(
                    conn, **extra, **_client_options("blobs")),
                queues=QueueServiceClient.from_connection_string(
                    conn, **extra, **_client_options("queues")),
            )
        # Imported here so a connection-string deployment never loads azure.identity.
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential()
        assert settings.table_uri and settings.blob_uri and settings.queue_uri
        return cls(
            tables=TableServiceClient(settings.table_uri, credential=credential, **extra,
                                      **_client_options("tables")),
            blobs=BlobServiceClient(settings.blob_uri, credential=credential, **extra,
                                    **_client_options("blobs")),
            queues=QueueServiceClient(settings.queue_uri, credential=credential, **extra,
                                      **_client_options("queues")),
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
