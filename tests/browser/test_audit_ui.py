"""The admins' audit log on the agents' page in a real browser: the nav link, the entries
of a change, the filters in the hash, paging with "Older entries", the CSV download; no
link for an agent without the admin role."""

from __future__ import annotations

import csv
import io
import re
import uuid

from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_agent_ui import agent_page
from tests.e2e.conftest import RunningHost


def test_an_admin_finds_a_change_in_the_audit_log_and_downloads_it(
        context: BrowserContext, host: RunningHost):
    changer = f"ui-changer-{uuid.uuid4().hex[:6]}"
    teams = [f"ui-audit-{uuid.uuid4().hex[:6]}" for _ in range(52)]
    with host.signed_in(roles="agent,admin", user=changer,
                        email=f"{changer}@staff.example.com") as admin:
        for team in teams:
            assert admin.put(f"/api/directory/teams/{team}", json={"name": team}).status_code == 200
        assert admin.put(f"/api/directory/teams/{teams[-1]}", json={
            "name": "Renamed"}).status_code == 200

    page = agent_page(context, "ui-auditor", roles="agent,admin")
    page.goto("/api/agent#/queue/unassigned")
    link = page.get_by_role("navigation", name="Queues").get_by_role("link", name="Audit log")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"#/audit$"))
    expect(page.locator("h1")).to_have_text("Audit log")
    expect(link).to_have_attribute("aria-current", "page")

    page.get_by_label("Who (id)").fill(changer)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"#/audit\?actor={changer}$"))
    table = page.get_by_role("table")
    # The page draws the table when the entries arrive: wait for it, as a reader does.
    expect(table.get_by_role("columnheader")).to_have_text([
        "When", "Who", "Action", "Target", "Status", "Summary", "From"])
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(50)
    newest = rows.first.get_by_role("cell")
    expect(newest.nth(1)).to_contain_text(f"{changer}@staff.example.com")
    expect(newest.nth(2)).to_have_text("PUT /api/directory/{kind}/{id}")
    expect(newest.nth(3)).to_have_text(f"{teams[-1]} · kind: teams")
    expect(newest.nth(4)).to_have_text("200")
    expect(newest.nth(5)).to_have_text("changed: name")
    expect(newest.nth(6)).to_have_text("127.0.0.1")
    older = page.get_by_role("button", name="Older entries")
    older.click()
    expect(rows).to_have_count(53)
    expect(older).to_be_hidden()
    expect(rows.last.get_by_role("cell").nth(5)).to_have_text("created: id, name")

    csv_link = page.get_by_role("link", name="Download as CSV")
    expect(csv_link).to_have_attribute("href", f"/api/audit.csv?actor={changer}")
    with page.expect_download() as caught:
        csv_link.click()
    download = caught.value
    assert download.suggested_filename.startswith("audit-")
    lines = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert len(lines) == 53
    assert {row["target"] for row in lines} == set(teams)

    page.get_by_label("Method").select_option("DELETE")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("No entries match.")).to_be_visible()

    assert axe_violations(page) == []
    screenshot(page, "agent-audit")
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_agent_without_the_admin_role_has_no_audit_link(context: BrowserContext):
    page = agent_page(context, "ui-audit-agent", roles="agent,supervisor")
    page.goto("/api/agent#/queue/unassigned")
    expect(page.locator("h1")).to_have_text("Unassigned")
    expect(page.get_by_role("link", name="Audit log")).to_be_hidden()
    page.goto("/api/agent#/audit")
    expect(page.locator("main [role=alert]")).to_contain_text("admin")
