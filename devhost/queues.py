"""Queue triggers and queue output bindings over Azure Storage queues (Azurite locally).

The semantics follow the Functions host's queue extension:

- One poller per queue-triggered function. It receives up to `batchSize` messages,
  leasing each for `LEASE` while the function runs, and fetches the next batch when
  no more than `newBatchThreshold` of them are still running. Messages of a batch run
  concurrently (async functions on the loop, sync ones in the thread pool).
- An empty receive backs off exponentially from `MIN_POLL` to host.json's
  `maxPollingInterval`; a non-empty one resets it.
- Bodies are base64 unless host.json says `messageEncoding: none`. A message that is
  not valid base64 goes straight to the poison queue without running the function.
- Success deletes the message. Failure makes it visible again after host.json's
  `visibilityTimeout`; once its dequeue count has reached `maxDequeueCount` it is
  copied, content unchanged, to `<queue>-poison` (created if missing) and deleted.
- `func.Out` parameters bound to a queue are sent after a successful invocation,
  encoded the same way.

Connections name an app setting (default `AzureWebJobsStorage`; `AzureWebJobs<name>`
is tried too, as the host does) holding a connection string. Identity-based
connections (`<name>__queueServiceUri`) are not emulated.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
from collections.abc import Awaitable, Mapping
from datetime import timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions import _abc as func_abc
from azure.functions.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from devhost.functions import FunctionSpec
from devhost.invoker import Invoker, invoke_logged
from devhost.loader import QueueOptions, resolve_setting_refs

log = logging.getLogger("devhost")

DEFAULT_CONNECTION = "AzureWebJobsStorage"
LEASE = timedelta(minutes=5)  # how long a running message stays invisible to other pollers
MIN_POLL = 0.1  # seconds between receives right after an empty one


class QueueConfigError(Exception):
    """A queue binding whose connection cannot be resolved."""


class BadMessage(ValueError):
    """A message body that does not decode with the configured encoding."""


# --- encoding ------------------------------------------------------------------


def encode_body(data: bytes, encoding: str) -> str:
    """The message text to send for a body, per host.json's messageEncoding."""
    if encoding == "base64":
        return base64.b64encode(data).decode("ascii")
    return data.decode("utf-8")


def decode_body(content: str | bytes | None, encoding: str) -> bytes:
    """The body bytes of a received message; BadMessage if it does not decode."""
    if content is None:
        return b""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    if encoding != "base64":
        return text.encode("utf-8")
    try:
        # .NET's Convert.FromBase64String, which the host uses, ignores whitespace.
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadMessage(f"message is not valid base64: {exc}") from exc


def output_messages(value: Any) -> list[bytes]:
    """The message bodies an output binding's value stands for (a list means several)."""
    if isinstance(value, (list, tuple)):
        return [body for item in value for body in output_messages(item)]
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, str):
        return [value.encode("utf-8")]
    if isinstance(value, func_abc.QueueMessage):
        body = value.get_body()
        return [body.encode("utf-8") if isinstance(body, str) else body]
    return [json.dumps(value).encode("utf-8")]


# --- connections ---------------------------------------------------------------


def connection_string(setting: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Resolve a binding's `connection` (an app-setting name) to a connection string."""
    env = os.environ if environ is None else environ
    name = setting or DEFAULT_CONNECTION
    for candidate in (name, f"AzureWebJobs{name}"):
        if env.get(candidate):
            return env[candidate]
    if env.get(f"{name}__queueServiceUri") or env.get(f"{name}__serviceUri"):
        raise QueueConfigError(f"{name}: identity-based connections are not emulated by devhost")
    raise QueueConfigError(f"app setting {name} (a storage connection string) is not set")


class QueueConnections:
    """Async queue clients, one per (connection, queue), each queue created once."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], QueueClient] = {}
        self._ready: set[tuple[str, str]] = set()

    async def client(self, setting: str | None, queue_name: str) -> QueueClient:
        key = (connection_string(setting), queue_name)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = QueueClient.from_connection_string(*key)
        if key not in self._ready:
            try:
                await client.create_queue()
            except ResourceExistsError:
                pass
            self._ready.add(key)
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        self._ready.clear()
        for client in clients:
            await client.close()


class QueueOutputs:
    """The invoker's OutputSink for `queue` output bindings."""

    def __init__(self, connections: QueueConnections, encoding: str) -> None:
        self._connections = connections
        self._encoding = encoding

    async def send(self, binding: Any, value: Any) -> None:
        if binding.type != "queue":
            return  # other output types are reported at startup as not emulated
        queue_name = resolve_setting_refs(str(binding.queue_name))
        client = await self._connections.client(binding.connection, queue_name)
        for body in output_messages(value):
            await client.send_message(encode_body(body, self._encoding))


# --- the trigger ---------------------------------------------------------------


class QueuePoller:
    """Polls one queue and runs one function for its messages."""

    def __init__(
        self,
        spec: FunctionSpec,
        options: QueueOptions,
        connections: QueueConnections,
        invoker: Invoker,
    ) -> None:
        self.spec = spec
        self.queue_name = resolve_setting_refs(str(spec.trigger.queue_name))
        self.connection = spec.trigger.connection or DEFAULT_CONNECTION
        connection_string(self.connection)  # fail now, with a clear message, if unset
        self._options = options
        self._connections = connections
        self._invoker = invoker
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._poll(), name=f"poll {self.queue_name}")

    async def stop_receiving(self) -> None:
        """Stop fetching messages; those already fetched keep running."""
        self._stopping.set()
        if self._loop_task is not None:
            await self._loop_task

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to timeout for fetched messages to finish and be settled."""
        if not self._in_flight:
            return True
        _, pending = await asyncio.wait(set(self._in_flight), timeout=timeout)
        return not pending

    async def _poll(self) -> None:
        options = self._options
        max_delay = max(options.max_polling_interval.total_seconds(), MIN_POLL)
        delay = MIN_POLL
        failing = False
        while not self._stopping.is_set():
            if len(self._in_flight) > options.new_batch_threshold:
                await self._wait_or_stop(self._in_flight, None)
                continue
            try:
                client = await self._connections.client(self.connection, self.queue_name)
                messages = await _receive(client, options.batch_size, int(LEASE.total_seconds()))
            except Exception as exc:  # any storage failure: the poller must outlive it
                if not failing:
                    log.warning("Queue %s: cannot receive (%s); retrying", self.queue_name, exc)
                failing = True
                messages = []
            else:
                if failing:
                    log.info("Queue %s: receiving again", self.queue_name)
                failing = False
            if messages:
                delay = MIN_POLL
                for message in messages:
                    task = asyncio.create_task(self._process(client, message))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                continue
            await self._wait_or_stop(set(), delay)
            delay = min(delay * 2, max_delay)

    async def _wait_or_stop(self, tasks: set[asyncio.Task[None]], timeout: float | None) -> None:
        """Wait for one of tasks to finish, or timeout, or stop_receiving(): whichever first."""
        stopper = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait(
                {*tasks, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopper.cancel()

    async def _process(self, client: QueueClient, message: Any) -> None:
        options = self._options
        try:
            body = decode_body(message.content, options.message_encoding)
        except BadMessage as exc:
            log.warning(
                "Queue %s: message %s %s; moving it to poison", self.queue_name, message.id, exc
            )
            await self._settle(self._poison(client, message), message)
            return
        if message.dequeue_count > options.max_dequeue_count:
            # Delivered more often than allowed (a host stopped mid-run): poison it unrun.
            await self._settle(self._poison(client, message), message)
            return
        trigger_value = QueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        ok = await invoke_logged(self._invoker, self.spec, trigger_value)
        action: Awaitable[Any]
        if ok:
            action = client.delete_message(message.id, message.pop_receipt)
        elif message.dequeue_count >= options.max_dequeue_count:
            action = self._poison(client, message)
        else:
            action = client.update_message(
                message.id,
                pop_receipt=message.pop_receipt,
                visibility_timeout=int(options.visibility_timeout.total_seconds()),
            )
        await self._settle(action, message)

    async def _poison(self, client: QueueClient, message: Any) -> None:
        poison_name = f"{self.queue_name}-poison"
        poison = await self._connections.client(self.connection, poison_name)
        # The content as received: still encoded the way the queue's writers encoded it.
        await poison.send_message(message.content)
        await client.delete_message(message.id, message.pop_receipt)
        log.warning(
            "Queue %s: message %s moved to %s after %s deliveries",
            self.queue_name,
            message.id,
            poison_name,
            message.dequeue_count,
        )

    async def _settle(self, action: Any, message: Any) -> None:
        try:
            await action
        except ResourceNotFoundError:
            # The lease ran out and another delivery took the message over.
            log.warning(
                "Queue %s: message %s lease lost before settling", self.queue_name, message.id
            )
        except AzureError as exc:
            log.warning(
                "Queue %s: could not settle message %s: %s", self.queue_name, message.id, exc
            )


async def _receive(client: QueueClient, count: int, lease_seconds: int) -> list[Any]:
    """One receive call: the first page only (iterating the pager would receive again)."""
    pager = client.receive_messages(messages_per_page=count, visibility_timeout=lease_seconds)
    try:
        page = await pager.by_page().__anext__()
    except StopAsyncIteration:
        return []
    return [message async for message in page]
