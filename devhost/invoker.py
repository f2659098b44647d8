"""Calling a user function the way the Python worker does.

- `async def` functions are awaited on the event loop; plain functions run in a
  `ThreadPoolExecutor`, so a slow sync function does not block the others. The pool
  size honours `PYTHON_THREADPOOL_THREAD_COUNT`, like the worker.
- The trigger input goes under the trigger's binding name, `context` is passed when
  the function has a parameter of that name, and each output binding parameter gets
  an `Out`. After a successful call the output values go to an `OutputSink`
  (the queue outputs); a failing sink fails the invocation, so a queue message is
  retried rather than half-processed.
- Every invocation is tracked, so shutdown can wait for running ones (bounded) and
  then cancel what is left.

`log_invocation` writes the one log line per invocation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from devhost.context import Context, Out, mark_thread
from devhost.functions import FunctionSpec

log = logging.getLogger("devhost")

RETURN = "$return"


class OutputSink(Protocol):
    """Delivers the value of an output binding after a successful invocation."""

    async def send(self, binding: Any, value: Any) -> None: ...


@dataclass
class InvocationResult:
    """What a finished invocation produced."""

    return_value: Any
    outputs: dict[str, Any] = field(default_factory=dict)


def make_pool() -> ThreadPoolExecutor:
    """The pool for sync functions, sized like the worker's."""
    configured = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT")
    workers = (
        int(configured) if configured and configured.isdigit() and int(configured) > 0 else None
    )
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="devhost-fn")


class Invoker:
    """Runs functions and remembers which invocations are still going."""

    def __init__(self, pool: ThreadPoolExecutor, sink: OutputSink | None = None) -> None:
        self._pool = pool
        self._sink = sink
        self._running: set[asyncio.Future[Any]] = set()

    async def invoke(self, spec: FunctionSpec, trigger_value: Any) -> InvocationResult:
        """Call spec's function with trigger_value; raise whatever it raises."""
        context = Context(spec.name, spec.directory)
        kwargs: dict[str, Any] = {spec.binding_name: trigger_value}
        if spec.wants_context:
            kwargs["context"] = context
        outs: dict[str, Out[Any]] = {}
        for binding in spec.output_bindings:
            if binding.name != RETURN and binding.name in spec.parameters:
                outs[binding.name] = kwargs[binding.name] = Out()

        loop = asyncio.get_running_loop()
        if spec.is_async:
            future: asyncio.Future[Any] = asyncio.ensure_future(spec.user_function(**kwargs))
        else:
            future = loop.run_in_executor(
                self._pool, _call_in_thread, spec.user_function, kwargs, context.invocation_id
            )
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        # Shielded: a client that hangs up does not cancel the function, as in Azure.
        return_value = await asyncio.shield(future)

        result = InvocationResult(return_value, {n: o.get() for n, o in outs.items() if o.is_set})
        await self._deliver(spec, result)
        return result

    async def _deliver(self, spec: FunctionSpec, result: InvocationResult) -> None:
        if self._sink is None:
            return
        for binding in spec.output_bindings:
            if binding.type == "http":
                continue  # the HTTP front door handles the response itself
            if binding.name == RETURN:
                value = result.return_value
            else:
                value = result.outputs.get(binding.name)
            if value is not None:
                await self._sink.send(binding, value)

    async def drain(self, timeout: float) -> bool:
        """Wait up to timeout seconds for running invocations; cancel the rest.

        Returns False when some sync function was still running (its thread cannot be
        stopped from outside).
        """
        pending = set(self._running)
        if pending:
            log.info("waiting up to %.0fs for %d running invocation(s)", timeout, len(pending))
            _, pending = await asyncio.wait(pending, timeout=timeout)
        for fut in pending:
            fut.cancel()
        return not pending


async def invoke_logged(invoker: Invoker, spec: FunctionSpec, trigger_value: Any) -> bool:
    """Invoke a non-HTTP function; log its traceback on failure and its one line."""
    started = time.perf_counter()
    try:
        await invoker.invoke(spec, trigger_value)
    except asyncio.CancelledError:
        log_invocation(spec, started, "failed: cancelled")
        raise
    except Exception as exc:
        log.exception("Function %s raised", spec.name)
        log_invocation(spec, started, f"failed: {exc!r}")
        return False
    log_invocation(spec, started, "ok")
    return True


def _call_in_thread(function: Any, kwargs: dict[str, Any], invocation_id: str) -> Any:
    mark_thread(invocation_id)
    return function(**kwargs)


def log_invocation(spec: FunctionSpec, started: float, outcome: str) -> None:
    """The one line logged per invocation: name, trigger, duration, outcome."""
    elapsed_ms = (time.perf_counter() - started) * 1000
    log.info("Executed %s (%s) in %.0f ms: %s", spec.name, spec.trigger_type, elapsed_ms, outcome)
