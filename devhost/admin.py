"""The part of the Functions host's admin API that helps local work, master key only.

- `GET  /admin/host/status`: `{"state": "Running", ...}`, a liveness probe.
- `POST /admin/functions/{name}` with `{"input": "..."}`: runs a non-HTTP function
  now, as in Azure (202 Accepted; the run is logged like any other). A timer gets
  `past_due=false`; a queue trigger gets a message whose body is the input text,
  dequeue count 1, and no queue round trip (nothing is deleted or poisoned).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from aiohttp import web
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from devhost import __version__
from devhost.functions import QUEUE_TRIGGER, TIMER_TRIGGER, FunctionSpec
from devhost.invoker import Invoker, invoke_logged
from devhost.keys import ADMIN, Keys, is_authorized, presented_key


class AdminApi:
    def __init__(self, specs: list[FunctionSpec], keys: Keys, invoker: Invoker) -> None:
        self._specs = {s.name.lower(): s for s in specs}
        self._keys = keys
        self._invoker = invoker
        self._runs: set[asyncio.Task[bool]] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not is_authorized(ADMIN, presented_key(request.headers, request.query), self._keys):
            raise web.HTTPUnauthorized()
        parts = request.path.strip("/").split("/")
        lowered = [p.lower() for p in parts]
        if lowered == ["admin", "host", "status"] and request.method == "GET":
            return web.json_response({"state": "Running", "version": f"devhost {__version__}"})
        if len(parts) == 3 and lowered[1] == "functions" and request.method == "POST":
            return await self._run(request, parts[2])
        raise web.HTTPNotFound()

    async def _run(self, request: web.Request, name: str) -> web.StreamResponse:
        spec = self._specs.get(name.lower())
        if spec is None or spec.trigger_type not in (TIMER_TRIGGER, QUEUE_TRIGGER):
            raise web.HTTPNotFound(text=f"no timer or queue function named {name}")
        raw = await request.read()
        try:
            text = str((json.loads(raw) if raw else {}).get("input") or "")
        except (ValueError, AttributeError) as exc:
            raise web.HTTPBadRequest(text='expected JSON {"input": "..."}') from exc
        if spec.trigger_type == TIMER_TRIGGER:
            value: object = TimerRequest(past_due=False)
        else:
            now = datetime.now(UTC)
            value = QueueMessage(
                id=str(uuid.uuid4()),
                body=text.encode("utf-8"),
                dequeue_count=1,
                insertion_time=now,
                expiration_time=None,
                time_next_visible=now,
                pop_receipt=None,
            )
        task = asyncio.create_task(invoke_logged(self._invoker, spec, value))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return web.Response(status=202)
