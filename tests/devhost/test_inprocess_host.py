"""`devhost.host.Host` driven in-process, the programmatic API tests can use."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
import pytest

from devhost.host import Host

pytestmark = pytest.mark.usefixtures("isolated_app_import")

APP = """
import azure.functions as func

class CountingApp(func.FunctionApp):
    calls = 0

    def get_functions(self):
        CountingApp.calls += 1
        return super().get_functions()

app = CountingApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="hi/{name}", methods=["GET"])
async def hi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hi {req.route_params['name']} ({CountingApp.calls} registry reads)")

@app.queue_trigger(arg_name="msg", queue_name="jobs", connection="DEVHOST_TEST_UNSET_SETTING")
def job(msg: func.QueueMessage) -> None:
    pass
"""


def test_host_start_serve_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVHOST_TEST_UNSET_SETTING", raising=False)
    (tmp_path / "function_app.py").write_text(APP)
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"http": {"routePrefix": "v1"}}}))
    out = io.StringIO()

    async def scenario() -> tuple[list[httpx.Response], bool]:
        host = Host(tmp_path, port=0, keys_file=tmp_path / "k.json", out=out, grace=2)
        await host.start()
        try:
            assert host.port not in (None, 0)
            async with httpx.AsyncClient(base_url=host.url, follow_redirects=False) as c:
                responses = [await c.get("/v1/hi/ann"), await c.get("/v1/hi/bob"), await c.get("/")]
        finally:
            clean = await host.stop()
        return responses, clean

    (first, second, root), clean = asyncio.run(scenario())
    assert clean
    assert first.text == "hi ann (1 registry reads)"
    assert second.text == "hi bob (1 registry reads)"  # the registry was read once, at start
    assert root.status_code == 302 and root.headers["location"] == "/v1/form"
    banner = out.getvalue()
    assert "hi: [GET] http://127.0.0.1:" in banner
    # The queue function cannot run without its connection; the rest of the app still does.
    assert "job: queueTrigger DISABLED: app setting DEVHOST_TEST_UNSET_SETTING" in banner
    assert banner.rstrip().splitlines()[-1].startswith("devhost ready on http://127.0.0.1:")


DISABLED_APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="on", methods=["GET"])
async def on(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("on")

@app.route(route="off", methods=["GET"])
async def off(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("off")
"""


def test_an_app_setting_disables_a_function_as_on_azure(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobs.off.Disabled", "true")
    (tmp_path / "function_app.py").write_text(DISABLED_APP)
    out = io.StringIO()

    async def scenario() -> tuple[int, int]:
        host = Host(tmp_path, port=0, keys_file=tmp_path / "k.json", out=out, grace=2)
        await host.start()
        try:
            async with httpx.AsyncClient(base_url=host.url) as c:
                return (await c.get("/api/on")).status_code, (await c.get("/api/off")).status_code
        finally:
            await host.stop()

    assert asyncio.run(scenario()) == (200, 404)
    assert "off: httpTrigger DISABLED: AzureWebJobs.off.Disabled is set" in out.getvalue()
