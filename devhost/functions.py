"""What the host needs to know about one registered function.

`FunctionSpec` is built once per function from the objects `get_functions()` returns:
its trigger, its output bindings, the user's callable and how to call it. Every other
module reads triggers and bindings from here, so the registry stays the only list of
functions and routes.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("devhost")

HTTP_TRIGGER = "httpTrigger"
QUEUE_TRIGGER = "queueTrigger"
TIMER_TRIGGER = "timerTrigger"
SUPPORTED_TRIGGERS = (HTTP_TRIGGER, QUEUE_TRIGGER, TIMER_TRIGGER)

# Output binding types whose values devhost delivers; others get an `Out` whose value is dropped.
SUPPORTED_OUTPUTS = ("http", "queue")

_OUT = 1  # azure.functions.decorators.core.BindingDirection.OUT


@dataclass(frozen=True)
class FunctionSpec:
    """One registered function, as the host sees it."""

    name: str
    trigger: Any
    output_bindings: tuple[Any, ...]
    user_function: Callable[..., Any]
    is_async: bool
    wants_context: bool
    parameters: frozenset[str]
    directory: str
    input_bindings: tuple[Any, ...] = ()
    required: frozenset[str] = frozenset()  # parameters without a default value

    @property
    def trigger_type(self) -> str:
        return str(self.trigger.type)

    @property
    def binding_name(self) -> str:
        """The parameter name that receives the trigger input."""
        return str(self.trigger.name)

    def output(self, binding_type: str) -> list[Any]:
        """Output bindings of a given type (e.g. "queue")."""
        return [b for b in self.output_bindings if b.type == binding_type]


def build_spec(fn: Any) -> FunctionSpec:
    """Describe a registry entry (`azure.functions.decorators.core.Function`)."""
    user = fn.get_user_function()
    signature = inspect.signature(user).parameters
    params = frozenset(signature)
    required = frozenset(n for n, p in signature.items() if p.default is inspect.Parameter.empty)
    trigger = fn.get_trigger()
    others = [b for b in fn.get_bindings() if b is not trigger and b.name != trigger.name]
    outputs = tuple(b for b in others if int(b.direction) == _OUT)
    inputs = tuple(b for b in others if int(b.direction) != _OUT)
    try:
        directory = str(Path(inspect.getfile(user)).resolve().parent)
    except (TypeError, OSError):
        directory = ""
    return FunctionSpec(
        name=fn.get_function_name(),
        trigger=trigger,
        output_bindings=outputs,
        user_function=user,
        is_async=inspect.iscoroutinefunction(user),
        wants_context="context" in params,
        parameters=params,
        directory=directory,
        input_bindings=inputs,
        required=required,
    )


def unsupported_parts(spec: FunctionSpec) -> list[str]:
    """Human-readable notes on bindings of this function that devhost does not emulate."""
    notes = []
    if spec.trigger_type not in SUPPORTED_TRIGGERS:
        notes.append(f"trigger {spec.trigger_type} is not emulated; the function never runs")
    for b in spec.output_bindings:
        if b.type not in SUPPORTED_OUTPUTS:
            notes.append(
                f"output binding {b.name} ({b.type}) is not emulated; its value is dropped"
            )
    for b in spec.input_bindings:
        notes.append(f"input binding {b.name} ({b.type}) is not emulated; calls will fail")
    bound = {spec.binding_name, "context"} | {
        b.name for b in spec.output_bindings + spec.input_bindings
    }
    for name in sorted(spec.required - bound):
        notes.append(f"parameter {name} has no binding; calls will fail")
    return notes
