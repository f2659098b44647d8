"""The function app's HTTP functions, read from the azure-functions registry (as the
Functions host does), for tests that must cover every endpoint."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: str
    methods: tuple[str, ...]


@cache
def _functions() -> tuple:
    # get_functions() may be called once per FunctionApp: every reader shares this call.
    return tuple(importlib.import_module("function_app").app.get_functions())


@cache
def http_functions() -> tuple[HttpFunction, ...]:
    found = []
    for fn in _functions():
        trigger = fn.get_trigger()
        if trigger.type != "httpTrigger":
            continue
        methods = tuple(str(getattr(m, "value", m)) for m in trigger.methods or ("GET",))
        found.append(HttpFunction(fn.get_function_name(), trigger.route or
                                  fn.get_function_name(), methods))
    return tuple(found)


def background_functions() -> tuple[str, ...]:
    """The queue and timer functions, by name."""
    return tuple(fn.get_function_name() for fn in _functions()
                 if fn.get_trigger().type != "httpTrigger")
