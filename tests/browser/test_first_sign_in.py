"""A new agent, signed in for the first time with nothing set up by an admin, takes a
ticket from the agents' page: their record is made at sign-in (shared/admin/agents.py)."""

from __future__ import annotations

import uuid

from playwright.sync_api import BrowserContext, expect

from tests.browser.test_agent_ui import agent_page, new_ticket
from tests.e2e.conftest import RunningHost


def test_a_brand_new_agent_takes_a_ticket_with_take_it(context: BrowserContext,
                                                      host: RunningHost):
    user = f"first-{uuid.uuid4().hex[:8]}"
    ticket = new_ticket(host, subject=f"Monitor flickers {uuid.uuid4().hex[:6]}")
    page = agent_page(context, user)
    page.goto(f"/api/agent#/ticket/{ticket['number']}")
    expect(page.locator("h1")).to_contain_text(ticket["subject"])
    page.get_by_role("button", name="Take it").click()
    expect(page.locator("aside")).to_contain_text(user)
    assert page.errors == []  # type: ignore[attr-defined]
