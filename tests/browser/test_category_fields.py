"""A category's own fields in a real browser: the web form with JavaScript (the fields
appear when the category is chosen) and without (a second step), and an agent editing
them on the ticket page under the version it shows."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import axe_violations, screenshot, sign_in
from tests.browser.test_portal import open_minted_link
from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost

TAG = uuid.uuid4().hex[:6]
CATEGORY = f"bf-{TAG}"
OTHER = f"bf2-{TAG}"
FIELDS = [
    {"id": "os", "label": "Operating system", "type": "choice", "required": True,
     "choices": ["Windows", "macOS", "Linux"]},
    {"id": "apps", "label": "Affected apps", "type": "multi-choice",
     "choices": ["Mail", "Chat", "Files"]},
    {"id": "seats", "label": "Seats", "type": "number"},
    {"id": "agree", "label": "You may restart my machine", "type": "checkbox"},
    {"id": "serial", "label": "Serial number", "type": "text"},
    {"id": "asset", "label": "Asset tag", "type": "text", "visibility": "agents"},
]


@pytest.fixture(scope="module")
def categories(host: RunningHost) -> Iterator[None]:
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        for cid, name, fields in ((CATEGORY, f"Laptops {TAG}", FIELDS),
                                  (OTHER, f"Phones {TAG}", FIELDS[:1])):
            r = admin.put(f"/api/directory/categories/{cid}", json={"name": name,
                                                                    "fields": fields})
            assert r.status_code == 200, r.text
        yield
        for cid in (CATEGORY, OTHER):
            admin.delete(f"/api/directory/categories/{cid}")


def fields_of(host: RunningHost, number: str) -> dict:
    with host.signed_in() as agent:
        return agent.get(f"/api/tickets/{number}").json()["ticket"]["fields"]


def fill_request(page: Page, email: str) -> None:
    page.get_by_label("Your name").fill("Lin")
    page.get_by_label("Your email").fill(email)
    page.get_by_label("Subject").fill("Laptop flickers")
    page.get_by_label("Description").fill("Since the update.")


def created_number(page: Page) -> str:
    expect(page.locator("#ticket-number")).to_be_visible()
    return re.sub(r"\D", "", page.locator("#ticket-number").inner_text())


def test_with_javascript_the_fields_appear_when_the_category_is_chosen(
        page: Page, host: RunningHost, categories: None):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/api/form")
    expect(page.locator("#category-step")).to_be_hidden()
    mine = page.locator(f'fieldset[data-category="{CATEGORY}"]')
    expect(mine).to_be_hidden()
    email = unique_email("bf-js")
    fill_request(page, email)
    page.get_by_label("Category").select_option(CATEGORY)
    expect(mine).to_be_visible()
    expect(page.get_by_text("Asset tag")).to_have_count(0)  # agents only
    assert axe_violations(page) == []
    screenshot(page, "form-category-fields")
    # The browser holds back a form whose required field is empty.
    page.get_by_role("button", name="Send request").click()
    assert host.tickets_of(email) == []
    mine.get_by_label("Operating system").select_option("Linux")
    mine.get_by_label("Chat").check()
    mine.get_by_label("Files").check()
    mine.get_by_label("Seats").fill("4")
    mine.get_by_label("You may restart my machine").check()
    page.get_by_role("button", name="Send request").click()
    number = created_number(page)
    assert fields_of(host, number) == {"os": "Linux", "apps": ["Chat", "Files"], "seats": 4,
                                       "agree": True}
    assert errors == []


@pytest.fixture
def no_script(browser: Browser, host: RunningHost) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=host.base_url, java_script_enabled=False,
                              viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def test_without_javascript_a_second_step_shows_the_fields(
        no_script: BrowserContext, host: RunningHost, categories: None):
    page = no_script.new_page()
    page.goto("/api/form")
    email = unique_email("bf-nojs")
    fill_request(page, email)
    page.get_by_label("Category").select_option(CATEGORY)
    mine = page.locator(f'fieldset[data-category="{CATEGORY}"]')
    expect(mine).to_be_hidden()  # nothing to show it without a script
    page.get_by_role("button", name="Continue with this category").click()
    expect(mine).to_be_visible()
    # What was typed is still there; nothing was stored.
    expect(page.get_by_label("Subject")).to_have_value("Laptop flickers")
    expect(page.get_by_label("Description")).to_have_value("Since the update.")
    assert host.tickets_of(email) == []
    screenshot(page, "form-category-fields-no-js")
    mine.get_by_label("Operating system").select_option("macOS")
    mine.get_by_label("Mail").check()
    mine.get_by_label("Serial number").fill("SN-77")
    page.get_by_role("button", name="Send request").click()
    number = created_number(page)
    assert fields_of(host, number) == {"os": "macOS", "apps": ["Mail"], "serial": "SN-77"}


def test_an_agent_edits_the_fields_and_sees_retired_ones(
        context: BrowserContext, host: RunningHost, categories: None):
    with host.client() as client:
        r = client.post("/api/tickets", json={
            "name": "Ada", "email": unique_email("bf-agent"), "subject": "Dock", "description": "Dead",
            "category": CATEGORY, "fields": {"os": "Windows", "seats": 2, "serial": "SN-1"}})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    sign_in(context, user=f"bf-{TAG}", email=f"bf-{TAG}@staff.example.com")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"/api/agent#/ticket/{number}")
    box = page.locator("section.ticket-fields")
    expect(box.get_by_label("Operating system")).to_have_value("Windows")
    expect(box.locator("[data-field=asset]")).to_contain_text("agents only")

    # Someone changes the ticket meanwhile: the edit is not sent over their change.
    with host.signed_in(user="other-bf") as other:
        assert other.post(f"/api/tickets/{number}/note", json={"body": "looked"}).status_code == 200
    box.get_by_label("Seats").fill("5")
    box.get_by_role("button", name="Save fields").click()
    expect(page.locator(".banner")).to_contain_text("Someone else changed this ticket")
    assert fields_of(host, number)["seats"] == 2
    page.locator(".banner").get_by_role("button", name="Reload").click()
    expect(page.locator(".thread")).to_contain_text("looked")
    expect(box.get_by_label("Seats")).to_have_value("5")  # what was typed stays

    box.get_by_label("Operating system").select_option("Linux")
    box.get_by_label("Seats").fill("5")
    box.get_by_label("Asset tag").fill("A-9")
    box.get_by_role("button", name="Save fields").click()
    expect(page.locator(".thread")).to_contain_text("os: Windows → Linux")
    assert fields_of(host, number) == {"os": "Linux", "seats": 5, "serial": "SN-1", "asset": "A-9"}
    assert axe_violations(page) == []
    screenshot(page, "agent-ticket-fields")

    # Moved to a category without them, the other values are shown as retired.
    with host.signed_in(user="other-bf") as other:
        moved = other.post(f"/api/tickets/{number}/change", json={"category": OTHER})
        assert moved.status_code == 200, moved.text
    page.reload()
    retired = box.locator("[data-field=serial]")
    expect(retired).to_contain_text("retired")
    expect(retired).to_contain_text("SN-1")
    retired.get_by_label("clear").check()
    box.get_by_role("button", name="Save fields").click()
    expect(box.locator("[data-field=serial]")).to_have_count(0)
    assert "serial" not in fields_of(host, number)
    assert errors == []


def test_agent_only_fields_stay_out_of_the_portal(page: Page, host: RunningHost,
                                                  categories: None):
    email = unique_email("bf-portal")
    with host.client() as client:
        r = client.post("/api/tickets", json={
            "name": "Ada", "email": email, "subject": "Dock", "description": "Dead",
            "category": CATEGORY, "fields": {"os": "Linux"}})
    number = r.json()["number"]
    with host.signed_in() as agent:
        etag = agent.get(f"/api/tickets/{number}").headers["ETag"]
        assert agent.post(f"/api/tickets/{number}/change", headers={"If-Match": etag},
                          json={"fields": {"asset": "SECRET-ASSET"}}).status_code == 200
    open_minted_link(page, number, email)
    expect(page.locator(".portal-facts")).to_contain_text("Linux")
    assert "SECRET-ASSET" not in page.content() and "Asset tag" not in page.content()


def test_a_queue_is_narrowed_to_a_category_and_a_choice(context: BrowserContext,
                                                        host: RunningHost, categories: None):
    numbers = {}
    with host.client() as client:
        for os in ("Linux", "Windows"):
            r = client.post("/api/tickets", json={
                "name": "Ada", "email": unique_email("bf-queue"), "subject": f"{os} {TAG}",
                "description": "d", "category": CATEGORY, "fields": {"os": os}})
            numbers[os] = r.json()["number"]
    sign_in(context, user=f"bfq-{TAG}", email=f"bfq-{TAG}@staff.example.com")
    page = context.new_page()
    page.goto("/api/agent#/queue/unassigned")
    page.locator("#category-filter").select_option(CATEGORY)
    page.locator("#filter-os").select_option("Linux")
    expect(page.locator("table")).to_contain_text(numbers["Linux"])
    expect(page.locator("table")).not_to_contain_text(numbers["Windows"])
    assert "field.os=Linux" in page.url
    page.locator("#filter-os").select_option("")
    expect(page.locator("table")).to_contain_text(numbers["Windows"])


def test_an_agent_taking_a_call_fills_in_the_categorys_fields(context: BrowserContext,
                                                              host: RunningHost, categories: None):
    sign_in(context, user=f"bfp-{TAG}", email=f"bfp-{TAG}@staff.example.com")
    page = context.new_page()
    page.goto("/api/agent#/new")
    page.get_by_label("Caller's name").fill("Ben")
    page.get_by_label("Caller's phone").fill("+1 555 0100")
    page.get_by_label("Subject").fill(f"Phone {TAG}")
    page.get_by_label("What the caller says").fill("Laptop dead")
    page.locator("#new-category").select_option(CATEGORY)
    box = page.locator("fieldset.category-fields")
    expect(box.get_by_label("Asset tag")).to_be_visible()  # agents see their own fields
    page.get_by_role("button", name="Create ticket").click()
    expect(page.locator("#new-error")).to_contain_text("Operating system is required")
    box.get_by_label("Operating system").select_option("Windows")
    box.get_by_label("Asset tag").fill("A-1")
    page.get_by_role("button", name="Create ticket").click()
    expect(page.locator("h1")).to_contain_text(f"Phone {TAG}")
    number = page.url.rsplit("/", 1)[-1]
    assert fields_of(host, number) == {"os": "Windows", "asset": "A-1"}


def test_an_admin_adds_reorders_and_removes_fields(context: BrowserContext, host: RunningHost,
                                                   categories: None):
    sign_in(context, user=f"bfa-{TAG}", email=f"bfa-{TAG}@staff.example.com", roles="agent,admin")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/api/agent#/queue/unassigned")
    page.get_by_role("navigation", name="Queues").get_by_role("link", name="Category fields").click()
    page.locator("#category-pick").select_option(OTHER)
    expect(page.get_by_label("Field 1 id")).to_have_value("os")
    expect(page.get_by_label("Field 1 id")).to_have_attribute("readonly", "")
    page.get_by_role("button", name="Add a field").click()
    page.get_by_label("Field 2 id").fill("imei")
    page.get_by_label("Field 2 label").fill("IMEI")
    page.get_by_label("Field 2 shown to").select_option("agents")
    page.get_by_role("button", name="Add a field").click()
    page.get_by_label("Field 3 id").fill("carrier")
    page.get_by_label("Field 3 label").fill("Carrier")
    page.get_by_label("Field 3 type").select_option("choice")  # no choices yet
    page.get_by_role("button", name="Save fields").click()
    expect(page.get_by_role("alert")).to_contain_text("fields.2")
    page.get_by_label("Field 3 choices, one per line").fill("Acme\nGlobex")
    page.get_by_role("button", name="Up field 3").click()
    page.get_by_role("button", name="Remove field 1").click()
    page.get_by_role("button", name="Save fields").click()
    expect(page.get_by_label("Field 1 id")).to_have_attribute("readonly", "")
    assert axe_violations(page) == []
    screenshot(page, "admin-category-fields")
    with host.signed_in() as agent:
        listed = agent.get("/api/directory/categories").json()
    fields = next(c for c in listed if c["id"] == OTHER)["fields"]
    assert [(f["id"], f["type"], f["visibility"], f.get("choices")) for f in fields] == [
        ("carrier", "choice", "requester", ["Acme", "Globex"]),
        ("imei", "text", "agents", [])]
    assert errors == []
