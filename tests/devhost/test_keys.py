"""Function keys: the keys file and the auth-level checks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import azure.functions as func
import pytest

from devhost.keys import Keys, KeysError, is_authorized, load_or_create_keys, presented_key

KEYS = Keys("master-key", {"default": "function-key", "ci": "other-key"})


def test_keys_file_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "nested" / ".devhost" / "keys.json"
    keys, created = load_or_create_keys(path)
    assert created
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert set(keys.function_keys) == {"default"}
    assert keys.master_key != keys.function_keys["default"]
    again, created_again = load_or_create_keys(path)
    assert not created_again
    assert again == keys
    assert json.loads(path.read_text()) == keys.to_json()


def test_a_second_app_gets_different_keys(tmp_path: Path) -> None:
    a, _ = load_or_create_keys(tmp_path / "a.json")
    b, _ = load_or_create_keys(tmp_path / "b.json")
    assert a.master_key != b.master_key


@pytest.mark.parametrize(
    "content", ["not json", "{}", '{"masterKey": 3}', '{"masterKey": "k", "functionKeys": []}']
)
def test_unusable_keys_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(KeysError):
        load_or_create_keys(path)


@pytest.mark.parametrize(
    ("level", "key", "allowed"),
    [
        (func.AuthLevel.ANONYMOUS, None, True),
        (func.AuthLevel.ANONYMOUS, "garbage", True),
        (func.AuthLevel.FUNCTION, None, False),
        (func.AuthLevel.FUNCTION, "", False),
        (func.AuthLevel.FUNCTION, "wrong", False),
        (func.AuthLevel.FUNCTION, "function-key", True),
        (func.AuthLevel.FUNCTION, "other-key", True),
        (func.AuthLevel.FUNCTION, "master-key", True),
        (func.AuthLevel.ADMIN, "function-key", False),
        (func.AuthLevel.ADMIN, "master-key", True),
        ("admin", "master-key", True),
        (None, None, False),  # no level: the FunctionApp default, FUNCTION
        (None, "function-key", True),
    ],
)
def test_auth_levels(level: object, key: str | None, allowed: bool) -> None:
    assert is_authorized(level, key, KEYS) is allowed


def test_key_from_header_or_code_parameter() -> None:
    assert presented_key({"X-Functions-Key": "h"}, {"code": "q"}) == "h"
    assert presented_key({}, {"code": "q"}) == "q"
    assert presented_key({"x-functions-key": ""}, {}) is None
