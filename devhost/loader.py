"""Read an app's configuration and import its function registry.

Three inputs, read once at startup:

- `local.settings.json`: its `Values` become environment variables, but never
  override one already set, so a test or a shell can pin a setting.
- `host.json`: the HTTP route prefix and the queue trigger options, with the
  Functions host's defaults.
- `function_app.py`: imported from the app directory; the one
  `azure.functions.FunctionRegister` (normally a `FunctionApp`) found among its
  module attributes is asked for its functions exactly once, because a second
  `get_functions()` call raises.

Errors a developer can fix (a missing file, bad JSON, no app object) raise
`LoadError` with a message that says what to change.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.functions as func


class LoadError(Exception):
    """The app, its settings or its host.json cannot be used as they are."""


# --- local.settings.json -------------------------------------------------------


@dataclass(frozen=True)
class LocalSettings:
    """What devhost uses from local.settings.json."""

    values: dict[str, str] = field(default_factory=dict)
    local_http_port: int | None = None


def read_local_settings(path: Path, *, required: bool = False) -> LocalSettings:
    """Parse a local.settings.json file; a missing optional file gives empty settings."""
    if not path.exists():
        if required:
            raise LoadError(f"settings file not found: {path}")
        return LocalSettings()
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise LoadError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise LoadError(f"{path}: expected a JSON object")
    if data.get("IsEncrypted"):
        # Core Tools can encrypt values with a machine key; there is no way to read those here.
        raise LoadError(f"{path}: IsEncrypted is true; devhost reads only plain values")
    raw_values = data.get("Values") or {}
    if not isinstance(raw_values, dict):
        raise LoadError(f"{path}: Values must be an object")
    # Core Tools passes every value to the worker as a string.
    values = {str(k): _setting_text(v) for k, v in raw_values.items()}
    port = (data.get("Host") or {}).get("LocalHttpPort")
    return LocalSettings(values=values, local_http_port=int(port) if port else None)


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def apply_settings(values: dict[str, str], environ: Any = None) -> list[str]:
    """Copy settings into the environment without overriding; return the names applied."""
    env = os.environ if environ is None else environ
    applied = []
    for name, value in values.items():
        if name not in env:
            env[name] = value
            applied.append(name)
    return applied


_SETTING_REF = re.compile(r"%([^%]+)%")


def resolve_setting_refs(text: str, environ: Any = None) -> str:
    """Expand `%Name%` app-setting references, as the host does in binding expressions."""
    env = os.environ if environ is None else environ

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise LoadError(f"binding refers to app setting %{name}%, which is not set")
        return str(env[name])

    return _SETTING_REF.sub(lookup, text)


# --- host.json -----------------------------------------------------------------


@dataclass(frozen=True)
class QueueOptions:
    """`extensions.queues` from host.json, with the host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: timedelta = timedelta(0)
    max_polling_interval: timedelta = timedelta(minutes=1)
    message_encoding: str = "base64"  # "base64" or "none"


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json that devhost honours."""

    route_prefix: str = "api"
    queues: QueueOptions = field(default_factory=QueueOptions)


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$")


def parse_timespan(text: str) -> timedelta:
    """Parse a .NET TimeSpan string such as `00:00:30`, `1.02:00:00` or `00:00:00.500`."""
    match = _TIMESPAN.match(text.strip())
    if not match:
        raise LoadError(f"not a TimeSpan (expected [d.]hh:mm:ss[.fff]): {text!r}")
    days, hours, minutes, seconds, fraction = match.groups()
    return timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds),
        microseconds=int((fraction or "0").ljust(6, "0")[:6]),
    )


def read_host_config(path: Path) -> HostConfig:
    """Parse host.json; a missing file gives the host's defaults."""
    if not path.exists():
        return HostConfig()
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise LoadError(f"cannot read {path}: {exc}") from exc
    extensions = data.get("extensions") or {}
    http = extensions.get("http") or {}
    prefix = http.get("routePrefix", "api")
    prefix = "" if prefix is None else str(prefix).strip("/")
    return HostConfig(route_prefix=prefix, queues=_queue_options(extensions.get("queues") or {}))


def _queue_options(raw: dict[str, Any]) -> QueueOptions:
    defaults = QueueOptions()
    batch_size = int(raw.get("batchSize", defaults.batch_size))
    if not 1 <= batch_size <= 32:
        # Azure Storage hands out at most 32 messages per receive.
        raise LoadError(f"host.json queues.batchSize must be 1..32, got {batch_size}")
    encoding = str(raw.get("messageEncoding", defaults.message_encoding)).lower()
    if encoding not in ("base64", "none"):
        raise LoadError(
            f"host.json queues.messageEncoding must be base64 or none, got {encoding!r}"
        )
    return QueueOptions(
        batch_size=batch_size,
        new_batch_threshold=int(raw.get("newBatchThreshold", batch_size // 2)),
        max_dequeue_count=int(raw.get("maxDequeueCount", defaults.max_dequeue_count)),
        visibility_timeout=parse_timespan(raw.get("visibilityTimeout", "00:00:00")),
        max_polling_interval=parse_timespan(raw.get("maxPollingInterval", "00:01:00")),
        message_encoding=encoding,
    )


# --- function_app.py -----------------------------------------------------------


def import_function_app(app_dir: Path, module_name: str = "function_app") -> Any:
    """Import `function_app.py` from app_dir, with app_dir first on sys.path."""
    script = app_dir / f"{module_name}.py"
    if not script.exists():
        raise LoadError(f"no {script.name} in {app_dir}")
    # The app imports its own packages (functions/, shared/) relative to its root.
    root = str(app_dir.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(module_name, script)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def find_function_app(module: Any) -> func.FunctionRegister:
    """Return the single FunctionApp (or other FunctionRegister) defined in module."""
    found = {id(v): v for v in vars(module).values() if isinstance(v, func.FunctionRegister)}
    if not found:
        raise LoadError(f"{module.__name__} defines no azure.functions.FunctionApp instance")
    if len(found) > 1:
        raise LoadError(
            f"{module.__name__} defines {len(found)} FunctionApp instances; expected one"
        )
    return next(iter(found.values()))


def load_registry(app_dir: Path) -> list[Any]:
    """Import the app and return its registered functions (get_functions() called once)."""
    app = find_function_app(import_function_app(app_dir))
    try:
        return list(app.get_functions())
    except ValueError as exc:
        raise LoadError(f"the app's function registry is invalid: {exc}") from exc
