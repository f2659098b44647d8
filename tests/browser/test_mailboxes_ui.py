"""Fetched mailboxes on the agents' page in a real browser: the admins' Mailboxes view
(#/mailboxes) with each mailbox's health, and the banner every agent sees while a
mailbox's login has failed for longer than the alert threshold.

Against a real Dovecot (the `dovecot` fixture) and a host of its own, on an Azurite of its
own, with the mailbox settings (see tests/e2e/test_mailboxes.py): the session's host would
poll the same `mailbox-fetch` queue without the password settings."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_agent_ui import agent_page
from tests.conftest import LocalServices
from tests.e2e.conftest import RunningHost, own_storage, running_host
from tests.e2e.test_mailboxes import PASSWORD, Box
from tests.support import LocalDovecot, wait_for

ALERT_SECONDS = 3
POLL = "01:01"  # a little over the page's 60-second poll of GET /api/mailboxes/alerts


@pytest.fixture(scope="module")
def boxhost(test_services: LocalServices, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[RunningHost]:
    workdir = tmp_path_factory.mktemp("boxhost")
    with own_storage(test_services, workdir) as local, running_host(
            local, workdir,
            HELPDESK_MAILBOX_GOOD_PASSWORD=PASSWORD,
            HELPDESK_MAILBOX_WRONG_PASSWORD="not-the-password",
            HELPDESK_MAILBOX_ALERT_AFTER_SECONDS=str(ALERT_SECONDS),
            HELPDESK_MAILBOX_LEASE_SECONDS="15",
            # Run by the tests through the admin API, not by the clock.
            HELPDESK_MAILBOX_FETCH_SCHEDULE="0 0 0 1 1 *") as running:
        yield running


@pytest.fixture
def boxcontext(browser: Browser, boxhost: RunningHost) -> Iterator[BrowserContext]:
    # A fixed locale and zone, so that the page's dates can be compared with the API's.
    ctx = browser.new_context(base_url=boxhost.base_url, viewport={"width": 1280, "height": 800},
                              locale="en-US", timezone_id="UTC")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def admin(boxhost: RunningHost) -> Iterator[httpx.Client]:
    user = f"box-admin-{uuid.uuid4().hex[:6]}"
    with boxhost.signed_in(roles="agent,admin", user=user, email=f"{user}@staff.example.com"
                           ) as client:
        yield client


@pytest.fixture
def box(boxhost: RunningHost, dovecot: LocalDovecot, admin: httpx.Client) -> Iterator[Box]:
    """A Dovecot account connected as a mailbox and fetched once."""
    made = Box(boxhost, dovecot, admin)
    made.fetch()
    made.wait_health(lambda h: h["last_success_at"], "the first fetch")
    yield made
    made.remove()


def shown_when(iso: str) -> re.Pattern[str]:
    """dom.js's when() in en-US and UTC: "Mar 5, 2025, 3:04 PM" (ICU may put a narrow
    no-break space before the AM/PM)."""
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    hour = at.hour % 12 or 12
    return re.compile(rf"^{at:%b} {at.day}, {at.year}, {hour}:{at:%M}\s{at:%p}$")


def test_an_admin_sees_a_connected_mailbox_and_its_last_fetch(
        boxcontext: BrowserContext, box: Box):
    health = box.health()
    page = agent_page(boxcontext, "box-admin-ui", roles="agent,admin")
    page.goto("/api/agent#/queue/unassigned")
    link = page.get_by_role("navigation", name="Queues").get_by_role("link", name="Mailboxes")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"#/mailboxes$"))
    expect(page.locator("h1")).to_have_text("Mailboxes")
    expect(link).to_have_attribute("aria-current", "page")

    table = page.get_by_role("table")
    # The page draws the table when the mailboxes arrive: wait for it, as a reader does.
    expect(table.get_by_role("columnheader")).to_have_text(
        ["Id", "Address", "Server", "Enabled", "Senders", "Last fetch", "Last error",
         "Fetched today", "Waiting", "Notes"])
    row = table.get_by_role("row").filter(has_text=box.id)
    expect(row).to_be_visible()
    cells = row.get_by_role("cell")
    expect(cells.nth(1)).to_have_text(box.user)
    expect(cells.nth(2)).to_have_text(
        f"{box.dovecot.host}:{box.dovecot.port} (plain, password)")
    expect(cells.nth(3)).to_have_text("on")
    expect(cells.nth(4)).to_have_text("DKIM, verified by the desk")
    expect(cells.nth(5)).to_have_text(shown_when(health["last_success_at"]))
    expect(cells.nth(6)).to_have_text("—")  # no error
    expect(cells.nth(7)).to_have_text(str(health["fetched_today"]))
    expect(row).not_to_have_class(re.compile(r"\bbreached\b"))
    expect(page.locator("#mailbox-alerts")).to_be_hidden()
    assert PASSWORD not in page.locator("main").inner_text()

    assert axe_violations(page) == []
    screenshot(page, "agent-mailboxes")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_mailbox_whose_sender_check_is_off_says_so(boxcontext: BrowserContext, box: Box):
    box.put(sender_check="off")
    page = agent_page(boxcontext, "box-admin-off", roles="agent,admin")
    page.goto("/api/agent#/mailboxes")
    row = page.get_by_role("table").get_by_role("row").filter(has_text=box.id)
    expect(row.get_by_role("cell").nth(4)).to_have_text(
        "Not checkedMail joins tickets by subject or sender without proof of who sent it.")
    box.put(sender_check="authentication-results", authserv_id="mx.google.com")
    page.reload()
    expect(row.get_by_role("cell").nth(4)).to_have_text("Authentication-Results of mx.google.com")
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_agent_without_the_admin_role_has_no_mailboxes_link(boxcontext: BrowserContext):
    page = agent_page(boxcontext, "box-agent-plain", roles="agent")
    page.goto("/api/agent#/queue/unassigned")
    expect(page.locator("h1")).to_have_text("Unassigned")
    expect(page.get_by_role("link", name="Mailboxes")).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_failing_login_shows_the_banner_to_agents_until_it_recovers(
        boxcontext: BrowserContext, box: Box, admin: httpx.Client):
    page = agent_page(boxcontext, "box-agent", roles="agent")
    # The page's 60-second poll of the alerts, run by a fake clock instead of waited for.
    page.clock.install()
    with page.expect_response(lambda r: r.url.endswith("/api/mailboxes/alerts")) as first:
        page.goto("/api/agent#/queue/unassigned")
    assert first.value.status == 200 and first.value.json() == []
    banner = page.locator("#mailbox-alerts")
    expect(page.locator("h1")).to_have_text("Unassigned")
    expect(banner).to_be_hidden()

    box.put(password_setting="HELPDESK_MAILBOX_WRONG_PASSWORD")
    box.fetch()
    box.wait_health(lambda h: h["failing_since"], "the failing login in the health")
    # Failing, but not yet for longer than the threshold: no banner after a poll.
    with page.expect_response(lambda r: r.url.endswith("/api/mailboxes/alerts")) as early:
        page.clock.fast_forward(POLL)
    if early.value.json() == []:
        expect(banner).to_be_hidden()

    time.sleep(ALERT_SECONDS + 0.5)
    box.fetch()
    wait_for(lambda: box.id in [a["id"] for a in admin.get("/api/mailboxes/alerts").json()],
             timeout=30, interval=0.3, what="the mailbox among the alerts")
    page.clock.fast_forward(POLL)
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text(f"Mail from {box.user} is not being fetched")
    expect(banner).to_contain_text("login refused")
    expect(banner).to_contain_text("Mail waiting there is fetched once it works again.")
    assert PASSWORD not in banner.inner_text()
    # Still there on the next view, and on a page opened now.
    page.get_by_role("link", name=re.compile("^Mine")).click()
    expect(page.locator("h1")).to_have_text("Mine")
    expect(banner).to_be_visible()
    fresh = boxcontext.new_page()
    fresh.goto("/api/agent#/queue/unassigned")
    expect(fresh.locator("#mailbox-alerts")).to_contain_text(f"Mail from {box.user}")
    fresh.close()
    assert axe_violations(page) == []
    screenshot(page, "agent-mailbox-banner")

    box.put(password_setting="HELPDESK_MAILBOX_GOOD_PASSWORD")

    def recovered() -> bool:
        # A fetch queued while the last failing one still holds the mailbox is skipped
        # ("busy"), as the timer's next round would: queue another until one has run.
        if box.health()["failing_since"] is None:
            return True
        box.fetch()
        return False

    wait_for(recovered, timeout=60, interval=2, what="the recovery")
    page.clock.fast_forward(POLL)
    expect(banner).to_be_hidden()
    expect(banner).to_be_empty()
    page.reload()
    expect(page.locator("h1")).to_have_text("Mine")
    expect(banner).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]
