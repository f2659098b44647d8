"""Two public endpoints read as an attacker would: the static file cache must not grow
with the paths strangers ask for, and health must not tell them why storage is down."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace

import azure.functions as func
import pytest

from functions import health, static


def _get(path: str) -> func.HttpResponse:
    req = func.HttpRequest("GET", f"http://127.0.0.1/api/static/{path}", body=b"",
                           route_params={"path": path})
    return asyncio.run(static.static_files(req))


def test_many_distinct_misses_do_not_grow_the_static_cache():
    assert _get("ui.css").status_code == 200
    before = len(static._cache)
    for i in range(2000):
        assert _get(f"nope-{i}.css").status_code == 404
        # Other spellings of a file that exists are one entry, not one each.
        assert _get(f"{'x/' * (i % 50 + 1)}{'../' * (i % 50 + 1)}ui.css").status_code == 200
    assert len(static._cache) == before
    assert len(static._cache) <= static.MAX_CACHED


def test_a_cached_file_is_served_again_unchanged():
    first = _get("ui.css").get_body()
    assert first and _get("ui.css").get_body() == first


SECRET_TEXT = "AccountKey=c2VjcmV0LWtleQ== host storage-internal.example:10002"


def _health(monkeypatch: pytest.MonkeyPatch, desk_factory) -> tuple[int, dict]:
    monkeypatch.setattr(health, "helpdesk", desk_factory)
    req = func.HttpRequest("GET", "http://127.0.0.1/api/health", body=b"")
    response = asyncio.run(health.health_get(req))
    return response.status_code, json.loads(response.get_body())


def test_health_tells_an_anonymous_caller_down_but_not_why(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    async def failing() -> None:
        raise RuntimeError(f"could not start: {SECRET_TEXT}")

    with caplog.at_level(logging.ERROR, logger="functions.health"):
        status, body = _health(monkeypatch, failing)
    assert status == 503 and body == {"status": "down"}
    assert SECRET_TEXT in caplog.text  # the operator still learns why


def test_health_names_the_service_that_is_down_without_its_error(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    async def ok() -> None:
        return None

    async def broken() -> None:
        raise ConnectionError(SECRET_TEXT)

    clients = SimpleNamespace(tables=SimpleNamespace(get_service_properties=ok),
                              blobs=SimpleNamespace(get_service_properties=broken),
                              queues=SimpleNamespace(get_service_properties=ok))

    async def desk() -> SimpleNamespace:
        return SimpleNamespace(clients=clients)

    with caplog.at_level(logging.WARNING, logger="functions.health"):
        status, body = _health(monkeypatch, desk)
    assert status == 503
    assert body == {"status": "degraded",
                    "services": {"tables": "ok", "blobs": "down", "queues": "ok"}}
    assert SECRET_TEXT in caplog.text
