"""Storage failures become one error of our own.

The stores are the only code that sees the Azure SDKs' exceptions. What they handle
themselves (a missing entity, a lost ETag race) stays inside; anything else that
escapes a store's public method (storage unreachable, timing out, failing) leaves it as
`StorageFailed`, a 503 with Retry-After, so the services above never import the SDKs.
Calls between stores are not translated twice: only the outermost call does it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from azure.core.exceptions import AzureError

from shared.core.errors import StorageFailed

log = logging.getLogger(__name__)

# After a write failed: how long a service waits to learn whether it landed after all
# before it answers "unknown" (503 with Retry-After) and leaves the rest to a retry.
SETTLE_TIMEOUT = 5.0

_inside = contextvars.ContextVar("inside_storage", default=False)
F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def _failed(where: str, exc: AzureError) -> StorageFailed:
    log.warning("storage failed in %s: %s", where, exc)
    return StorageFailed()


def translated(fn: F) -> F:
    """`fn` (a coroutine or async generator function) with AzureError as StorageFailed."""
    where = fn.__qualname__
    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def generator(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            except AzureError as exc:
                raise _failed(where, exc) from exc
        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if _inside.get():
            return await fn(*args, **kwargs)
        token = _inside.set(True)
        try:
            result: Awaitable[Any] = fn(*args, **kwargs)
            return await result
        except AzureError as exc:
            raise _failed(where, exc) from exc
        finally:
            _inside.reset(token)
    return call  # type: ignore[return-value]


def store(cls: C) -> C:
    """Translate the failures of every public async method of a store class."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        if inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member):
            setattr(cls, name, translated(member))
    return cls
