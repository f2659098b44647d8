"""Append-only logs in Blob Storage that a worker reads into memory for searching.

The knowledge base and the resolved tickets are searched in the worker's memory, not
with table queries: a log is a series of append blobs (`<log>/part-0000.log`, …) of
JSON lines, each a change (`{"id": …, …}` or `{"id": …, "gone": true}`). A writer
appends one line, atomically, with one request. A reader keeps what it has read of each
part and, at most every `REFRESH` seconds, lists the parts (one request) and reads only
the bytes appended since (one ranged read per changed part). So a search costs no
storage request at all most of the time, and a cold worker reads the logs once.

An append blob takes at most 50,000 appends: a full part makes the writer start the
next one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob.aio import ContainerClient

from shared.storage import failures

REFRESH = 5.0
MAX_APPEND = 4 * 1024 * 1024 - 1024  # an append block holds at most 4 MiB
FULL = "BlockCountExceedsLimit"


def part_name(log: str, index: int) -> str:
    return f"{log}/part-{index:04d}.log"


@dataclass
class _Part:
    read: int = 0                # bytes read so far
    created: Any = None          # a part written anew (a rebuild) has another creation time


@failures.store
@dataclass
class LogView:
    """One worker's copy of a log: `apply` is called with each line, in order."""

    log: str
    apply: Callable[[dict[str, Any]], None]
    reset: Callable[[], None]
    parts: dict[str, _Part] = field(default_factory=dict)
    checked: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@failures.store
class SearchLogs:
    def __init__(self, container: ContainerClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._container = container
        self._clock = clock
        self._current: dict[str, int] = {}

    async def append(self, log: str, line: dict[str, Any]) -> None:
        """Add one change to the log (one request, atomic)."""
        await self._append_bytes(log, (json.dumps(line, separators=(",", ":"), default=str) + "\n").encode())

    async def _append_bytes(self, log: str, data: bytes) -> None:
        index = self._current.get(log)
        if index is None:
            index = await self._last_part(log)
        for _ in range(4):
            blob = self._container.get_blob_client(part_name(log, index))
            try:
                await blob.append_block(data)
                self._current[log] = index
                return
            except ResourceNotFoundError:
                try:
                    await blob.create_append_blob(match_condition=MatchConditions.IfMissing)
                except ResourceExistsError:
                    pass
            except HttpResponseError as exc:
                if getattr(exc, "error_code", None) != FULL:
                    raise
                index += 1
        raise RuntimeError(f"could not append to the {log} log")

    async def append_many(self, log: str, lines: list[dict[str, Any]]) -> None:
        """Many changes at once, a few MB to an append (a rebuild, a seeding)."""
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            data = (json.dumps(line, separators=(",", ":"), default=str) + "\n").encode()
            if size + len(data) > MAX_APPEND and chunk:
                await self._append_bytes(log, b"".join(chunk))
                chunk, size = [], 0
            chunk.append(data)
            size += len(data)
        if chunk:
            await self._append_bytes(log, b"".join(chunk))

    async def rewrite(self, log: str, line: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
        """Pass every line of the log through `line` (None drops it) and write again each
        part that changed, in place, only if nothing was appended to it since it was read
        (its ETag; otherwise it is read again). Readers see the part's new creation time
        and read the log again from the start. Returns how many parts were rewritten."""
        rewritten = 0
        async for listed in self._container.list_blobs(name_starts_with=f"{log}/part-"):
            blob = self._container.get_blob_client(listed.name)
            for _ in range(10):
                stream = await blob.download_blob()
                etag = stream.properties.etag
                data = await stream.readall()
                lines: list[bytes] = []
                for raw in data.splitlines():
                    if not raw.strip():
                        continue
                    kept = line(json.loads(raw))
                    if kept is not None:
                        lines.append(json.dumps(kept, separators=(",", ":"), default=str).encode())
                new = b"".join(item + b"\n" for item in lines)
                if new == data:
                    break
                try:
                    await blob.create_append_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
                except ResourceModifiedError:
                    continue  # appended to meanwhile: read it again
                for start in range(0, len(new), MAX_APPEND):
                    await blob.append_block(new[start:start + MAX_APPEND])
                rewritten += 1
                break
            else:
                raise RuntimeError(f"could not rewrite {listed.name}: it keeps changing")
        return rewritten

    async def clear(self, log: str) -> None:
        async for blob in self._container.list_blobs(name_starts_with=f"{log}/part-"):
            await self._container.delete_blob(blob.name)
        self._current.pop(log, None)

    async def _last_part(self, log: str) -> int:
        names = [b.name async for b in self._container.list_blobs(name_starts_with=f"{log}/part-")]
        return max((int(n.rsplit("-", 1)[1].split(".")[0]) for n in names), default=0)

    async def refresh(self, view: LogView, *, force: bool = False) -> None:
        """Read what was appended since the last look (at most every REFRESH seconds)."""
        if not force and self._clock() - view.checked < REFRESH:
            return
        async with view.lock:
            if not force and self._clock() - view.checked < REFRESH:
                return
            listed = [b async for b in self._container.list_blobs(name_starts_with=f"{view.log}/part-")]
            rewritten = any(
                (part := view.parts.get(b.name)) is not None
                and (part.created != b.creation_time or b.size < part.read) for b in listed)
            if rewritten or len(listed) < len(view.parts):
                view.parts.clear()  # the log was rebuilt: read it again from the start
                view.reset()
            for blob in sorted(listed, key=lambda b: b.name):
                part = view.parts.setdefault(blob.name, _Part(created=blob.creation_time))
                if blob.size > part.read:
                    stream = await self._container.download_blob(blob.name, offset=part.read,
                                                                 length=blob.size - part.read)
                    data = await stream.readall()
                    end = data.rfind(b"\n") + 1  # a line is read once it is whole
                    for raw in data[:end].splitlines():
                        if raw.strip():
                            view.apply(json.loads(raw))
                    part.read += end
            view.checked = self._clock()
