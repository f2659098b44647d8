"""The admins' "Requester data" view on the agents' page in a real browser: the export
saved as a ZIP, a problem shown, a wrong confirmation refused, an erasure followed to
"done" with the replacement address; the address never in the page's URL; no link for
an agent without the admin role."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_agent_ui import agent_page
from tests.e2e.conftest import RunningHost

# What chromium logs for the one refused request (422) each test makes on purpose.
REFUSED = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"


def a_requester(host: RunningHost) -> tuple[str, str]:
    """A requester with one ticket: their address (mixed case, as people type it) and its number."""
    email = f"Ria.Data.{uuid.uuid4().hex[:8]}@Example.org"
    with host.client() as client:
        r = client.post("/api/tickets", json={
            "name": "Ria Data", "email": email, "subject": "Monitor flickers",
            "description": "Since Monday."})
        assert r.status_code == 201, r.text
    return email, r.json()["number"]


def open_view(context: BrowserContext, user: str) -> Page:
    page = agent_page(context, user, roles="agent,admin")
    page.goto("/api/agent#/queue/unassigned")
    link = page.get_by_role("navigation", name="Queues").get_by_role("link", name="Requester data")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"#/requesters$"))
    expect(page.locator("h1")).to_have_text("Requester data")
    expect(link).to_have_attribute("aria-current", "page")
    return page


def test_an_admin_downloads_a_requesters_data_and_is_shown_a_bad_address(
        context: BrowserContext, host: RunningHost):
    email, number = a_requester(host)
    page = open_view(context, "ui-data-exporter")

    page.get_by_label("Requester's email address").fill("nobody@localhost")
    page.get_by_role("button", name="Download their data").click()
    problem = page.locator("main [role=alert]").first
    expect(problem).to_contain_text("An email address is needed.")
    expect(problem).to_contain_text("email: an email address")

    page.get_by_label("Requester's email address").fill(email)
    with page.expect_download() as caught:
        page.get_by_role("button", name="Download their data").click()
    download = caught.value
    assert download.suggested_filename == "requester-data.zip"
    with zipfile.ZipFile(io.BytesIO(download.path().read_bytes())) as archive:
        assert "requester.json" in archive.namelist()
        assert json.loads(archive.read("requester.json"))["tickets"] == [number]
    expect(page.get_by_text("Downloaded requester-data.zip")).to_be_visible()
    expect(problem).to_be_hidden()
    assert email.lower() not in page.url.lower()
    assert page.errors == [REFUSED]  # type: ignore[attr-defined]


def test_an_admin_erases_a_requester_after_typing_the_address_again(
        context: BrowserContext, host: RunningHost):
    email, number = a_requester(host)
    page = open_view(context, "ui-data-eraser")
    page.get_by_label("Requester's email address").fill(email)
    toggle = page.get_by_role("button", name="Erase this requester…")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    form = page.get_by_role("form", name="Erase this requester")
    expect(form).to_contain_text("It cannot be undone.")
    expect(form).to_contain_text("deletes their files")

    confirm = page.get_by_label("Type the address again to confirm")
    confirm.fill(f"someone.else.{uuid.uuid4().hex[:6]}@example.org")
    page.get_by_role("button", name="Erase for good").click()
    refused = form.get_by_role("alert")
    expect(refused).to_contain_text("Type the address again in `confirm` to erase it.")
    expect(refused).to_contain_text("confirm: the same address again")
    progress = page.locator("#erasure-progress")
    expect(progress).to_be_empty()
    with host.signed_in(roles="agent") as agent:
        assert agent.get(f"/api/tickets/{number}").json()["ticket"]["requester_email"].lower() == email.lower()

    confirm.fill(email.lower())
    page.get_by_role("button", name="Erase for good").click()
    expect(form).to_be_hidden()
    expect(progress).to_have_attribute("aria-live", "polite")
    expect(progress).to_have_attribute("data-state", "done", timeout=60_000)
    expect(progress).to_contain_text("Erasure done: 1 of 1 tickets done.")
    replacement = progress.locator("code.replacement").inner_text()
    assert replacement.endswith("@erased.invalid")
    with host.signed_in(roles="agent") as agent:
        ticket = agent.get(f"/api/tickets/{number}").json()["ticket"]
    assert ticket["requester_email"] == replacement
    assert ticket["requester_name"] == "Erased requester"
    expect(page).to_have_url(re.compile(r"#/requesters$"))
    assert email.lower() not in page.url.lower()
    expect(toggle).to_be_enabled()

    assert axe_violations(page) == []
    screenshot(page, "agent-requester-data")
    assert page.errors == [REFUSED]  # type: ignore[attr-defined]


def test_an_agent_without_the_admin_role_has_no_requester_data_link(context: BrowserContext):
    page = agent_page(context, "ui-data-agent", roles="agent,supervisor")
    page.goto("/api/agent#/queue/unassigned")
    expect(page.locator("h1")).to_have_text("Unassigned")
    expect(page.get_by_role("link", name="Requester data")).to_be_hidden()
    page.goto("/api/agent#/requesters")
    expect(page.locator("main [role=alert]")).to_contain_text("Only an admin")
    expect(page.get_by_role("button", name="Download their data")).to_have_count(0)
