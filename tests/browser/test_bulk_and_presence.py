"""Many tickets at once and who else is here, in a real browser: tickets selected in a queue
by click, shift-click, the page's box and the x key, one action applied to them with each
ticket's outcome listed; and two agents on one ticket, one seeing the other type."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_agent_ui import agent_page, new_ticket, open_ticket, second  # noqa: F401
from tests.e2e.conftest import RunningHost


@pytest.fixture(scope="module")
def staff(host: RunningHost) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    people = {"a": f"bulk-a-{tag}", "b": f"bulk-b-{tag}", "tag": tag}
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        for key, name in (("a", "Ana"), ("b", "Bo")):
            user = people[key]
            r = admin.put(f"/api/directory/agents/{user}", json={
                "name": f"{name} {tag}", "email": f"{user}@staff.example.com",
                "teams": ["service-desk"]})
            assert r.status_code == 200, r.text
    return people


def ticket_of(host: RunningHost, number: str) -> dict:
    with host.signed_in() as agent:
        return agent.get(f"/api/tickets/{number}").json()["ticket"]


def row(page: Page, subject: str):
    return page.locator("tbody tr", has_text=subject)


def test_tickets_are_selected_by_click_shift_click_page_and_x_and_changed_at_once(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    tag = uuid.uuid4().hex[:6]
    subjects = [f"Bulk {tag} {i}" for i in range(4)]
    numbers = [new_ticket(host, subject=s)["number"] for s in subjects]
    page = agent_page(context, staff["a"])
    page.goto("/api/agent#/queue/unassigned?sort=updated")  # the latest first: 3, 2, 1, 0
    for subject in subjects:
        expect(row(page, subject)).to_be_visible()
    bar = page.get_by_role("region", name="Bulk actions")
    expect(bar).to_be_hidden()

    row(page, subjects[3]).get_by_role("checkbox").click()
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("1 selected")
    row(page, subjects[1]).get_by_role("checkbox").click(modifiers=["Shift"])  # 3, 2 and 1
    expect(bar).to_contain_text("3 selected")
    for subject in subjects[1:]:
        expect(row(page, subject).get_by_role("checkbox")).to_be_checked()
    expect(row(page, subjects[0]).get_by_role("checkbox")).not_to_be_checked()

    # x on the row in focus: picked, unpicked, picked again.
    row(page, subjects[0]).get_by_role("link").focus()
    page.keyboard.press("x")
    expect(row(page, subjects[0]).get_by_role("checkbox")).to_be_checked()
    expect(bar).to_contain_text("4 selected")
    page.keyboard.press("x")
    expect(bar).to_contain_text("3 selected")
    page.keyboard.press("x")
    expect(bar).to_contain_text("4 selected")
    expect(page).to_have_url(re.compile(r"#/queue/unassigned"))  # x opened nothing

    # Another agent changes one of them meanwhile: that one is refused, not overwritten.
    with host.signed_in(user=staff["b"], email=f"{staff['b']}@staff.example.com") as other:
        assert other.post(f"/api/tickets/{numbers[2]}/change",
                          json={"priority": "urgent"}).status_code == 200

    bar.get_by_role("button", name="Priority or category…").click()
    page.get_by_label("Priority", exact=True).select_option("high")
    page.get_by_role("button", name="Change", exact=True).click()
    result = page.locator("#bulk-result")
    expect(result).to_contain_text("Change: 3 of 4 done, 1 refused.")
    refused = result.locator(".bulk-refused li")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text(numbers[2])
    expect(refused).to_contain_text("changed since the list was loaded")
    expect(result.locator(".bulk-done li")).to_have_count(3)
    assert [ticket_of(host, n)["priority"] for n in numbers] == ["high", "high", "urgent", "high"]
    expect(bar).to_be_hidden()  # the list was reloaded, the selection with it
    expect(row(page, subjects[0]).locator(".badge")).to_have_text("high")
    assert axe_violations(page) == []

    # The page's box selects every row on the page, and again none.
    everything = page.get_by_label("Select all tickets on this page")
    everything.check()
    shown = page.locator("tbody tr").count()
    expect(bar).to_contain_text(f"{shown} selected")
    everything.uncheck()
    expect(bar).to_be_hidden()

    # Resolve two with one resolution; then close them.
    row(page, subjects[0]).get_by_role("checkbox").click()
    row(page, subjects[1]).get_by_role("checkbox").click()
    bar.get_by_role("button", name="Resolve…").click()
    page.get_by_label(re.compile("^Resolution notes")).fill("The file server is back.")
    expect(bar).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "agent-bulk")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(result).to_contain_text("Resolve: 2 of 2 done.")
    for n in numbers[:2]:
        ticket = ticket_of(host, n)
        assert (ticket["status"], ticket["resolution"]) == ("resolved", "The file server is back.")
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_agent_sees_who_else_has_the_ticket_open_and_who_is_typing(
        context: BrowserContext, second: BrowserContext, host: RunningHost,  # noqa: F811
        staff: dict[str, str]):
    number = new_ticket(host)["number"]
    page_a = agent_page(context, staff["a"])
    page_b = agent_page(second, staff["b"])
    name_b = f"Bo {staff['tag']}"
    open_ticket(page_a, number)
    here_a = page_a.locator("#presence")
    expect(here_a).to_be_empty()
    open_ticket(page_b, number)
    expect(page_b.locator("#presence")).to_have_text(f"Also here: Ana {staff['tag']}")
    expect(here_a).to_have_text(f"Also here: {name_b}")

    page_b.keyboard.press("r")
    # B keeps typing, as a person writing a reply does, until A's page says so: A hears
    # of it at A's next heartbeat (every 5 s), which a loaded machine may delay past the
    # 6 s that one burst of keystrokes counts as typing.
    deadline = time.monotonic() + 30
    while True:
        page_b.locator("#reply-body").press_sequentially("Looking at it now. ")
        try:
            expect(here_a).to_have_text(f"Also here: {name_b} (typing…)", timeout=3_000)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    assert here_a.get_attribute("aria-live") == "polite"
    assert axe_violations(page_a) == []

    page_b.goto("/api/agent#/queue/unassigned")  # B leaves the ticket
    expect(here_a).to_be_empty()
    assert page_a.errors == [] and page_b.errors == []  # type: ignore[attr-defined]
