"""The admins' Webhooks page in a real browser: register an endpoint (the signing secret
shown once), watch its delivery log fill as tickets arrive, replay a delivery that is
waiting for a retry, disable it; agents without the admin role see no link."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_agent_ui import agent_page
from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.e2e.test_webhooks import Receiver, receiver  # noqa: F401  (the fixture)


@pytest.fixture
def admin_api(host: RunningHost) -> Iterator[httpx.Client]:
    with host.signed_in(roles="agent,admin", user="hook-ui-api",
                        email="hook-ui-api@example.com") as client:
        yield client


def _remove_all_named(admin_api: httpx.Client, name: str) -> None:
    for endpoint in admin_api.get("/api/webhooks").json():
        if endpoint["name"] == name:
            admin_api.delete(f"/api/webhooks/{endpoint['id']}")


def test_an_admin_registers_an_endpoint_and_reads_its_delivery_log(
        context: BrowserContext, host: RunningHost, receiver: Receiver,  # noqa: F811
        admin_api: httpx.Client):
    name = f"CRM {uuid.uuid4().hex[:6]}"
    page = agent_page(context, "hook-admin-ui", roles="agent,admin")
    page.goto("/api/agent#/queue/unassigned")
    link = page.get_by_role("navigation", name="Queues").get_by_role("link", name="Webhooks")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"#/webhooks$"))
    expect(page.locator("h1")).to_have_text("Webhooks")
    try:
        form = page.get_by_role("form", name="Register a webhook endpoint")
        form.get_by_label("Name").fill(name)
        form.get_by_label(re.compile("^URL")).fill(receiver.url)
        form.get_by_label("ticket.assigned").check()
        form.get_by_role("button", name="Register").click()
        secret = page.locator("#webhook-secret code")
        expect(secret).to_have_text(re.compile(r"^whsec_"))
        shown = secret.inner_text()
        row = page.locator("#webhook-endpoints tr", has_text=name)
        expect(row).to_be_visible()
        expect(row.get_by_role("cell").nth(3)).to_have_text("ticket.created, ticket.assigned")
        expect(row.get_by_role("cell").nth(6)).to_have_text("stored")
        assert axe_violations(page) == []
        screenshot(page, "agent-webhooks")

        with host.client() as public:
            number = public.post("/api/tickets", json={
                "name": "Ada", "email": unique_email("hookui"), "subject": "Mouse broken",
                "description": "It clicks twice."}).json()["number"]
        row.get_by_role("link", name=name).click()
        expect(page.locator("h1")).to_have_text(f"Webhook: {name}")
        log = page.locator("#webhook-log tr", has_text=f"{number}-1-ticket.created")
        for _ in range(30):
            if log.count():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(log.get_by_role("cell").nth(3)).to_have_text("delivered")
        expect(log.get_by_role("cell").nth(4)).to_have_text("204")
        # The secret is not shown again, anywhere.
        page.reload()
        assert shown not in page.locator("main").inner_text()

        page.get_by_role("button", name="Disable").click()
        expect(page.get_by_role("button", name="Enable")).to_be_visible()
        assert not [e for e in admin_api.get("/api/webhooks").json()
                    if e["name"] == name][0]["enabled"]
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        _remove_all_named(admin_api, name)


def test_a_delivery_waiting_for_a_retry_can_be_replayed(
        context: BrowserContext, host: RunningHost, receiver: Receiver,  # noqa: F811
        admin_api: httpx.Client):
    # Its secret is an app setting that is not set: every attempt fails, and waits.
    name = f"Unsigned {uuid.uuid4().hex[:6]}"
    made = admin_api.post("/api/webhooks", json={
        "name": name, "url": receiver.url, "events": ["ticket.created"],
        "secret_setting": "HELPDESK_WEBHOOK_NOT_SET"}).json()
    try:
        with host.client() as public:
            number = public.post("/api/tickets", json={
                "name": "Ada", "email": unique_email("hookre"), "subject": "Screen dark",
                "description": "Nothing shows."}).json()["number"]
        page = agent_page(context, "hook-admin-re", roles="agent,admin")
        page.goto(f"/api/agent#/webhooks/{made['id']}")
        waiting = page.locator("#webhook-retrying tr", has_text=f"{number}-1-ticket.created")
        for _ in range(30):  # listed at once; its first attempt a moment later
            if waiting.count() and "is not set" in waiting.inner_text():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(waiting.get_by_role("cell").nth(4)).to_have_text(
            "the app setting HELPDESK_WEBHOOK_NOT_SET is not set")
        waiting.get_by_role("button", name="Replay").click()
        expect(page.locator("main").get_by_role("status")).to_have_text(
            f"Delivery {number}-1-ticket.created queued again.")
        attempts = page.locator("#webhook-log tr", has_text=f"{number}-1-ticket.created")
        for _ in range(60):
            if attempts.count() >= 2:
                break
            page.wait_for_timeout(500)
            page.reload()
        assert attempts.count() >= 2, page.locator("main").inner_text()  # first, and replay's
        assert receiver.requests == []
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        _remove_all_named(admin_api, name)


def test_an_agent_without_the_admin_role_has_no_webhooks_link(context: BrowserContext):
    page = agent_page(context, "hook-agent-plain", roles="agent")
    page.goto("/api/agent#/queue/unassigned")
    expect(page.locator("h1")).to_have_text("Unassigned")
    expect(page.get_by_role("link", name="Webhooks")).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]
