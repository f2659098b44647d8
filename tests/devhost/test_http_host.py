"""The sample app's HTTP triggers served by `python -m devhost`, over real HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.devhost.conftest import RunningHost


@pytest.fixture(scope="module")
def client(sample_host: RunningHost) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sample_host.base_url, timeout=30) as c:
        yield c


def test_route_parameters_reach_the_function(client: httpx.Client) -> None:
    r = client.get("/api/tickets/42")
    assert r.status_code == 200
    assert r.json() == {"function": "tickets_get", "route": {"number": "42"}}

    r = client.get("/api/tickets/42/attachments/report%20v2.pdf")
    assert r.json() == {
        "function": "attachment_get",
        "route": {"number": "42", "id": "report v2.pdf"},
    }


def test_literal_segment_beats_parameter_and_ignores_case(client: httpx.Client) -> None:
    assert client.get("/api/tickets/search").json()["function"] == "tickets_search"
    assert client.get("/API/Tickets/SEARCH").json()["function"] == "tickets_search"
    # The literal route takes only GET; PUT falls through to the parameter route.
    r = client.put("/api/tickets/search")
    assert r.json() == {"function": "tickets_get", "route": {"number": "search"}}


def test_constraints_optional_and_catch_all(client: httpx.Client) -> None:
    assert client.get("/api/items/17").json()["route"] == {"id": "17"}
    assert client.get("/api/items/abc").status_code == 404
    assert client.get("/api/files/a/b/c.txt").json()["route"] == {"rest": "a/b/c.txt"}
    assert client.get("/api/files").json()["function"] == "files"
    assert client.get("/api/pages").json()["route"] == {}
    assert client.get("/api/pages/3").json()["route"] == {"page": "3"}


def test_missing_route_defaults_to_function_name(client: httpx.Client) -> None:
    assert client.get("/api/no_route_given").json() == {"function": "no_route_given"}


def test_query_method_body_and_url_reach_the_function(client: httpx.Client) -> None:
    r = client.post(
        "/api/echo/ann?a=1&b=two", content=b'{"x": 1}', headers={"Content-Type": "application/json"}
    )
    data = r.json()
    assert data["method"] == "POST"
    assert data["route"] == {"name": "ann"}
    assert data["params"] == {"a": "1", "b": "two"}
    assert data["body"] == '{"x": 1}'
    assert data["content_type"] == "application/json"
    assert urlsplit(data["url"]).path == "/api/echo/ann"
    # JSON mimetype: no charset appended, as the Python worker does.
    assert r.headers["content-type"] == "application/json"


def test_wrong_method_is_405_and_unknown_path_404(client: httpx.Client) -> None:
    r = client.delete("/api/tickets/42")
    assert r.status_code == 405
    assert set(r.headers["allow"].split(",")) == {"GET", "PUT"}
    assert client.get("/api/nothing-here").status_code == 404
    assert client.get("/not-under-prefix").status_code == 404


def test_root_redirects_to_the_web_form(client: httpx.Client) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == "/api/form"


def test_function_key_required_for_function_level(
    client: httpx.Client, sample_host: RunningHost
) -> None:
    keys = sample_host.keys
    function_key = keys["functionKeys"]["default"]
    assert client.get("/api/secure").status_code == 401
    assert client.get("/api/secure", headers={"x-functions-key": "wrong"}).status_code == 401
    assert client.get("/api/secure", headers={"x-functions-key": function_key}).status_code == 200
    assert client.get("/api/secure", params={"code": function_key}).status_code == 200
    assert client.get("/api/secure", params={"code": str(keys["masterKey"])}).status_code == 200


def test_admin_level_takes_only_the_master_key(
    client: httpx.Client, sample_host: RunningHost
) -> None:
    keys = sample_host.keys
    function_key = keys["functionKeys"]["default"]
    assert client.get("/api/admin-only").status_code == 401
    assert (
        client.get("/api/admin-only", headers={"x-functions-key": function_key}).status_code == 401
    )
    r = client.get("/api/admin-only", headers={"x-functions-key": str(keys["masterKey"])})
    assert r.status_code == 200


def test_keys_file_was_created_private(sample_host: RunningHost) -> None:
    mode = stat.S_IMODE(os.stat(sample_host.keys_file).st_mode)
    assert mode == 0o600
    keys = sample_host.keys
    assert len(str(keys["masterKey"])) >= 40
    assert keys["masterKey"] != keys["functionKeys"]["default"]
    assert str(keys["masterKey"]) in sample_host.log_text()  # printed at startup


def test_response_status_headers_cookies_and_charset(client: httpx.Client) -> None:
    r = client.get("/api/cookies")
    assert r.status_code == 201
    assert r.headers["x-sample"] == "yes"
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert sorted(r.headers.get_list("set-cookie")) == ["a=1; Path=/", "b=2; Path=/"]
    assert r.text == "<p>hi</p>"


def test_exception_gives_generic_500_and_logs_traceback(
    client: httpx.Client, sample_host: RunningHost
) -> None:
    r = client.get("/api/boom")
    assert r.status_code == 500
    assert "secret internal detail" not in r.text
    deadline = time.monotonic() + 5
    while "Traceback" not in sample_host.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = sample_host.log_text()
    assert "RuntimeError: secret internal detail" in log
    assert "Executed boom (httpTrigger)" in log


def test_context_is_injected(client: httpx.Client) -> None:
    data = client.get("/api/context").json()
    assert data["function_name"] == "context_info"
    assert len(data["invocation_id"]) == 36
    assert data["thread_invocation_id"] == data["invocation_id"]
    assert data["trace_parent"].startswith("00-")
    assert data["invocation_id"] != client.get("/api/context").json()["invocation_id"]


def test_settings_file_does_not_override_environment(client: httpx.Client) -> None:
    data = client.get("/api/settings").json()
    assert data == {"greeting": "hello from settings", "storage_from_settings": False}


def test_bodies_above_one_megabyte_are_accepted(client: httpx.Client) -> None:
    body = os.urandom(3 * 1024 * 1024)
    r = client.post("/api/upload", content=body)
    assert r.status_code == 200
    assert r.json() == {"length": len(body)}


def test_bodies_above_azure_limit_get_413(sample_host: RunningHost) -> None:
    parts = urlsplit(sample_host.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        # Announce 100 MB + 1 byte and send nothing: the host must refuse from the header.
        sock.sendall(b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 104857601\r\n\r\n")
        status_line = sock.recv(200).split(b"\r\n", 1)[0]
    assert b" 413 " in status_line


def test_sync_functions_run_concurrently_in_a_thread_pool(sample_host: RunningHost) -> None:
    async def call_all(path: str, n: int) -> tuple[float, list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=sample_host.base_url, timeout=30) as c:
            started = time.perf_counter()
            responses = await asyncio.gather(*(c.get(path) for _ in range(n)))
            return time.perf_counter() - started, list(responses)

    elapsed, responses = asyncio.run(call_all("/api/slow", 20))
    assert all(r.status_code == 200 for r in responses)
    threads = {r.json()["thread"] for r in responses}
    assert len(threads) > 1, "sync functions must run on pool threads, not one by one"
    assert elapsed < 20 * 0.5 / 2, f"20 sleeps of 0.5 s took {elapsed:.1f} s: not concurrent"

    elapsed, responses = asyncio.run(call_all("/api/async-slow", 20))
    assert all(r.status_code == 200 for r in responses)
    assert {r.json()["thread"] for r in responses} == {"MainThread"}  # awaited on the loop
    assert elapsed < 20 * 0.5 / 2


def test_one_log_line_per_invocation(client: httpx.Client, sample_host: RunningHost) -> None:
    client.get("/api/tickets/777")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [
            line
            for line in sample_host.log_text().splitlines()
            if "Executed tickets_get (httpTrigger)" in line
        ]
        if lines:
            break
        time.sleep(0.05)
    assert lines and lines[-1].rstrip().endswith(": 200")
    assert " ms: " in lines[-1]
