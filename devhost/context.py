"""Host-side implementations of the abstract classes in `azure.functions`.

The library declares `Context` and `Out` as abstract: the Python worker supplies the
concrete ones, so devhost does too. They carry only what a local run can know: a
fresh invocation id, a generated W3C trace parent, no retry state.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from typing import Any, Generic, TypeVar

import azure.functions as func
from azure.functions import _abc as func_abc

T = TypeVar("T")

# One thread-local shared by all invocations, as in the worker: a sync function's
# thread gets `invocation_id` set before the call so its log records can be correlated.
_THREAD_LOCAL = threading.local()


class TraceContext(func_abc.TraceContext):
    """A W3C trace context for one invocation (no parent: devhost starts the trace)."""

    def __init__(self) -> None:
        self._trace_parent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class RetryContext(func_abc.RetryContext):
    """No retry policy runs locally: always the first try."""

    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class Context(func.Context):
    """The `context` argument of one invocation."""

    def __init__(self, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace_context = TraceContext()
        self._retry_context = RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return _THREAD_LOCAL

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return self._retry_context


def mark_thread(invocation_id: str) -> None:
    """Record the running invocation on the current thread (see `_THREAD_LOCAL`)."""
    _THREAD_LOCAL.invocation_id = invocation_id


class Out(func.Out[T], Generic[T]):
    """An output binding parameter: the function calls `set`, the host reads `get`."""

    def __init__(self) -> None:
        self._value: Any = None
        self._is_set = False

    def set(self, val: T) -> None:
        self._value = val
        self._is_set = True

    def get(self) -> T:
        return self._value  # type: ignore[no-any-return]

    @property
    def is_set(self) -> bool:
        return self._is_set
