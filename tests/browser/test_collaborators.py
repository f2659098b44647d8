"""The collaborators on the agents' ticket page in a real browser: the list, adding and
removing under the page's version, a refused address shown next to the field, another
agent's change reported, and a collaborator's message labelled as theirs."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_agent_ui import agent_page, new_ticket, open_ticket
from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.e2e.test_portal import confirm, link


def test_an_agent_lists_adds_and_removes_collaborators(context: BrowserContext,
                                                       host: RunningHost):
    ticket = new_ticket(host, subject=f"Shared drive full {uuid.uuid4().hex[:6]}")
    number, colleague = ticket["number"], unique_email("uicol")
    page = agent_page(context, f"ui-collab-{uuid.uuid4().hex[:6]}")
    open_ticket(page, number)
    panel = page.locator(".collaborators-panel")
    expect(panel.get_by_role("heading", name="Collaborators")).to_be_visible()
    expect(panel.locator("#collaborator-list")).to_have_text("None")

    field = panel.get_by_label("Copy someone")
    field.fill(ticket["email"].upper())  # the requester's own address: refused, explained
    panel.get_by_role("button", name="Add").click()
    expect(panel.get_by_role("alert")).to_contain_text("requester")

    field.fill(colleague)
    panel.get_by_role("button", name="Add").click()
    expect(panel.locator(f"li[data-email='{colleague}']")).to_be_visible()
    expect(page.locator(".thread .event", has_text=f"added {colleague}")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "agent-collaborators")

    # The requester's colleague answers in the portal: their message says so.
    with host.client() as client:
        assert confirm(client, link(host, number, colleague)).status_code == 303
        page_text = client.get("/api/portal/ticket").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page_text).group(1)
        assert client.post("/api/portal/ticket/reply", data={"body": "Mine too.", "csrf": csrf},
                           headers={"Sec-Fetch-Site": "same-origin"},
                           follow_redirects=False).status_code == 303

    # Another agent's change (the colleague's message) came in meanwhile: reported, kept.
    panel.get_by_role("button", name=f"Remove {colleague}").click()
    expect(page.get_by_role("alert").filter(has_text="Someone else changed")).to_be_visible()
    page.get_by_role("button", name="Reload").click()
    message = page.locator(".thread .entry.message", has_text="Mine too.")
    expect(message.locator(".badge.collaborator")).to_have_text("collaborator")
    expect(message).to_contain_text(colleague)

    page.locator(".collaborators-panel").get_by_role("button", name=f"Remove {colleague}").click()
    expect(page.locator(".collaborators-panel #collaborator-list")).to_have_text("None")
    expect(page.locator(".thread .event", has_text=f"removed {colleague}")).to_be_visible()
    # The refused address (422) and the stale version (412) are the only failed requests.
    assert [e for e in page.errors  # type: ignore[attr-defined]
            if not e.startswith("Failed to load resource")] == []
