"""Browser tests: Debian's chromium driven by Playwright against the running local host.

Playwright cannot download its own browser here, so it launches the one `make install`
puts at /usr/bin/chromium (HELPDESK_CHROMIUM overrides). Screenshots go to
test-results/screenshots/, which CI keeps as artifacts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import ROOT
from tests.e2e.conftest import RunningHost, host  # noqa: F401  (the session's running host)

CHROMIUM = os.environ.get("HELPDESK_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-results" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# This machine has no network beyond loopback: without these, chromium keeps trying to
# reach Google's services at every start.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# Per module, not per session: Playwright's sync API keeps an event loop running in the
# main thread while it is started, and every asyncio test after it would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, host: RunningHost) -> Iterator[BrowserContext]:  # noqa: F811
    ctx = browser.new_context(base_url=host.base_url, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(context: BrowserContext, *, user: str = "agent1", email: str = "agent1@example.com",
            roles: str = "agent") -> None:
    """The emulated App Service sign-in, as the dev sign-in form posts it."""
    response = context.request.post("/.auth/login/dev", form={
        "userId": user, "userDetails": email, "userRoles": roles,
        "post_login_redirect_uri": "/api/health"}, max_redirects=0)
    assert response.status in (302, 303), response.text()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page, impact: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of the given impact on the page as it is now.

    The script is evaluated over the DevTools protocol, which the page's
    Content-Security-Policy does not govern, so the page's own CSP stays in force."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    violations = json.loads(result)["violations"]
    return [v for v in violations if v.get("impact") in impact]
