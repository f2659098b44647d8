"""Settings, host.json and reading the app's function registry."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from devhost.functions import build_spec, unsupported_parts
from devhost.loader import (
    HostConfig,
    LoadError,
    apply_settings,
    load_registry,
    parse_timespan,
    read_host_config,
    read_local_settings,
    resolve_setting_refs,
)

pytestmark = pytest.mark.usefixtures("isolated_app_import")


def test_settings_never_override_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(
        json.dumps(
            {
                "Values": {"A": "from-file", "B": "from-file", "N": 3, "F": False},
                "Host": {"LocalHttpPort": 7072},
            }
        )
    )
    settings = read_local_settings(path)
    env = {"A": "from-env"}
    applied = apply_settings(settings.values, env)
    assert env == {"A": "from-env", "B": "from-file", "N": "3", "F": "false"}
    assert sorted(applied) == ["B", "F", "N"]
    assert settings.local_http_port == 7072


def test_settings_file_optional_unless_named(tmp_path: Path) -> None:
    assert read_local_settings(tmp_path / "none.json").values == {}
    with pytest.raises(LoadError):
        read_local_settings(tmp_path / "none.json", required=True)


def test_encrypted_settings_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"IsEncrypted": true, "Values": {}}')
    with pytest.raises(LoadError, match="IsEncrypted"):
        read_local_settings(path)


def test_host_json_defaults(tmp_path: Path) -> None:
    assert read_host_config(tmp_path / "host.json") == HostConfig()
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    config = read_host_config(tmp_path / "host.json")
    assert config.route_prefix == "api"
    q = config.queues
    assert (q.batch_size, q.new_batch_threshold, q.max_dequeue_count) == (16, 8, 5)
    assert q.visibility_timeout == timedelta(0)
    assert q.max_polling_interval == timedelta(minutes=1)
    assert q.message_encoding == "base64"


def test_host_json_values(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "extensions": {
                    "http": {"routePrefix": "/v1/"},
                    "queues": {
                        "batchSize": 4,
                        "maxDequeueCount": 2,
                        "visibilityTimeout": "00:00:30",
                        "maxPollingInterval": "00:00:02",
                        "messageEncoding": "none",
                    },
                }
            }
        )
    )
    config = read_host_config(tmp_path / "host.json")
    assert config.route_prefix == "v1"
    assert config.queues.batch_size == 4
    assert config.queues.new_batch_threshold == 2
    assert config.queues.max_dequeue_count == 2
    assert config.queues.visibility_timeout == timedelta(seconds=30)
    assert config.queues.max_polling_interval == timedelta(seconds=2)
    assert config.queues.message_encoding == "none"


def test_empty_route_prefix(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    assert read_host_config(tmp_path / "host.json").route_prefix == ""


@pytest.mark.parametrize(
    "queues", [{"batchSize": 64}, {"messageEncoding": "utf8"}, {"visibilityTimeout": "30s"}]
)
def test_bad_queue_options(tmp_path: Path, queues: dict[str, object]) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"queues": queues}}))
    with pytest.raises(LoadError):
        read_host_config(tmp_path / "host.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:00", timedelta(0)),
        ("00:01:00", timedelta(minutes=1)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("00:00:00.5", timedelta(milliseconds=500)),
    ],
)
def test_parse_timespan(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


def test_setting_references() -> None:
    env = {"Q": "tickets"}
    assert resolve_setting_refs("%Q%-poison", env) == "tickets-poison"
    assert resolve_setting_refs("plain", env) == "plain"
    with pytest.raises(LoadError, match="MISSING"):
        resolve_setting_refs("%MISSING%", env)


APP = """
import azure.functions as func
app = func.FunctionApp()
bp = func.Blueprint()

@app.route(route="a")
def a(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("a")

@bp.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
@bp.table_output(arg_name="row", table_name="t", connection="AzureWebJobsStorage")
@bp.blob_input(arg_name="doc", path="c/x", connection="AzureWebJobsStorage")
def b(msg: func.QueueMessage, row: func.Out[str], doc: str, context, extra: int = 1) -> None:
    pass

app.register_functions(bp)
"""


def test_registry_read_once_with_blueprints(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(APP)
    specs = {s.name: s for s in (build_spec(f) for f in load_registry(tmp_path))}
    assert set(specs) == {"a", "b"}
    assert specs["a"].trigger_type == "httpTrigger"
    assert specs["b"].trigger.queue_name == "q"
    assert specs["b"].wants_context
    assert not specs["b"].is_async
    notes = unsupported_parts(specs["b"])
    assert len(notes) == 2, notes  # `extra` has a default: nothing to report
    assert "output binding row (table) is not emulated" in notes[0]
    assert "input binding doc (blob) is not emulated" in notes[1]
    assert unsupported_parts(specs["a"]) == []


def test_app_module_without_function_app(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("x = 1\n")
    with pytest.raises(LoadError, match="no azure.functions.FunctionApp"):
        load_registry(tmp_path)


def test_two_function_apps_are_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(
        "import azure.functions as func\napp = func.FunctionApp()\nother = func.FunctionApp()\n"
    )
    with pytest.raises(LoadError, match="2 FunctionApp"):
        load_registry(tmp_path)
