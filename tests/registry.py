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
def http_functions() -> tuple[HttpFunction, ...]:
    # A fresh app object: get_functions() may be called once per FunctionApp.
    module = importlib.import_module("function_app")
    found = []
    for fn in module.app.get_functions():
        trigger = fn.get_trigger()
        if trigger.type != "httpTrigger":
            continue
        methods = tuple(str(getattr(m, "value", m)) for m in trigger.methods or ("GET",))
        found.append(HttpFunction(fn.get_function_name(), trigger.route or
                                  fn.get_function_name(), methods))
    return tuple(found)
