"""Function keys and the HTTP trigger auth levels.

Keys live in a JSON file (default `<app-dir>/.devhost/keys.json`, git-ignored):

    {"masterKey": "...", "functionKeys": {"default": "..."}}

It is created with random keys on first start (directory created, file mode 0600).
A caller presents a key in the `x-functions-key` header or the `code` query
parameter, as in Azure:

- `anonymous`: no key needed;
- `function`: any function key, or the master key;
- `admin`: the master key only.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"

ANONYMOUS = "anonymous"
FUNCTION = "function"
ADMIN = "admin"


class KeysError(Exception):
    """The keys file exists but cannot be used."""


@dataclass(frozen=True)
class Keys:
    master_key: str
    function_keys: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"masterKey": self.master_key, "functionKeys": dict(self.function_keys)}


def new_key() -> str:
    """A random key in the shape Azure uses (URL-safe, about 56 characters)."""
    return secrets.token_urlsafe(42)


def load_or_create_keys(path: Path) -> tuple[Keys, bool]:
    """Read the keys file, creating it with fresh keys if missing; return (keys, created)."""
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            master = data["masterKey"]
            functions = data.get("functionKeys", {})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeysError(f"cannot use keys file {path}: {exc}") from exc
        if not isinstance(master, str) or not master or not isinstance(functions, dict):
            raise KeysError(f"keys file {path}: masterKey must be a string, functionKeys an object")
        return Keys(master, {str(k): str(v) for k, v in functions.items()}), False

    keys = Keys(new_key(), {"default": new_key()})
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL with mode 0600: the file never exists with looser permissions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(keys.to_json(), fh, indent=2)
        fh.write("\n")
    return keys, True


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a request carries: the header first, then `?code=`."""
    for name, value in headers.items():
        if name.lower() == KEY_HEADER and value:
            return value
    return query.get(KEY_QUERY) or None


def level_name(auth_level: Any) -> str:
    """Normalise an `azure.functions.AuthLevel` (or its string) to a lowercase name."""
    if auth_level is None:
        return FUNCTION  # the FunctionApp default
    return str(getattr(auth_level, "value", auth_level)).lower()


def is_authorized(auth_level: Any, key: str | None, keys: Keys) -> bool:
    """Whether a request presenting key may call a function of auth_level."""
    level = level_name(auth_level)
    if level == ANONYMOUS:
        return True
    if not key:
        return False
    if _same(key, keys.master_key):
        return True
    if level == ADMIN:
        return False
    return any(_same(key, k) for k in keys.function_keys.values())


def _same(a: str, b: str) -> bool:
    # Constant time, so a caller cannot guess a key byte by byte from response times.
    return hmac.compare_digest(a.encode(), b.encode())


def keys_summary(keys: Keys, path: Path, created: bool) -> list[str]:
    """Banner lines showing the keys, so a developer can copy them."""
    origin = "created" if created else "from"
    lines = [f"  keys ({origin} {path}):", f"    master key: {keys.master_key}"]
    lines += [f"    function key {name}: {value}" for name, value in keys.function_keys.items()]
    return lines
