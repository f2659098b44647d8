"""The agents' page in a real browser: sign-in, the queues, a ticket's whole life, two
agents at once, hostile text, the keyboard, phone intake, search, and small screens."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import axe_violations, screenshot, sign_in
from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import email_message, wait_for


@pytest.fixture(scope="module")
def staff(host: RunningHost) -> dict[str, str]:
    """Two agents of the service desk, in the directory (assigning needs a known agent)."""
    tag = uuid.uuid4().hex[:6]
    people = {"a": f"ui-a-{tag}", "b": f"ui-b-{tag}"}
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        for key, user in people.items():
            response = admin.put(f"/api/directory/agents/{user}", json={
                "name": f"Agent {key.upper()} {tag}", "email": f"{user}@staff.example.com",
                "teams": ["service-desk"]})
            assert response.status_code == 200, response.text
    return people


def new_ticket(host: RunningHost, **fields: str) -> dict:
    body = {"name": "Ada Requester", "email": unique_email(), "subject": "Laptop will not boot",
            "description": "It shows a black screen since this morning.", **fields}
    with host.client() as client:
        response = client.post("/api/tickets", json=body)
    assert response.status_code == 201, response.text
    return {**body, **response.json()}


def thread_of(host: RunningHost, number: str) -> list[dict]:
    with host.signed_in() as agent:
        return agent.get(f"/api/tickets/{number}").json()["thread"]


def agent_page(context: BrowserContext, user: str, roles: str = "agent") -> Page:
    """A signed-in page that records console errors and uncaught exceptions."""
    sign_in(context, user=user, email=f"{user}@staff.example.com", roles=roles)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def open_ticket(page: Page, number: str) -> None:
    page.goto(f"/api/agent#/ticket/{number}")
    expect(page.locator("h1")).to_contain_text(number)


def status_shown(page: Page) -> str:
    return page.locator("aside [data-status]").inner_text()


@pytest.fixture
def second(browser: Browser, host: RunningHost) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=host.base_url, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def test_signing_in_through_the_sign_in_page_leads_to_the_agent_page(page: Page):
    page.goto("/api/agent")
    expect(page).to_have_url(re.compile(r"/\.auth/login/dev\?post_login_redirect_uri="))
    page.get_by_label("User id").fill("ui-signin")
    page.get_by_label("Email").fill("ui-signin@staff.example.com")
    page.get_by_label("Roles").fill("agent")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/api/agent"))
    expect(page.get_by_role("navigation", name="Queues")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Unassigned")


def test_a_signed_in_person_without_the_agent_role_gets_a_plain_refusal(context: BrowserContext):
    sign_in(context, user="ui-requester", email="someone@example.org", roles="")
    page = context.new_page()
    response = page.goto("/api/agent")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("This page is for agents")


def test_an_agent_takes_a_ticket_asks_escalates_and_resolves_it(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    ticket = new_ticket(host, subject=f"Printer offline {uuid.uuid4().hex[:6]}")
    number = ticket["number"]
    page = agent_page(context, staff["a"])
    page.goto("/api/agent#/queue/unassigned?sort=updated")
    row = page.locator("tr", has_text=ticket["subject"])
    expect(row).to_be_visible()
    expect(page.locator("[data-count=unassigned]")).to_have_text(re.compile(r"^\d+\+?$"))
    expect(row.locator(".badge")).to_have_text("normal")
    assert axe_violations(page) == []
    screenshot(page, "agent-queue")

    row.click()
    expect(page.locator("h1")).to_contain_text(ticket["subject"])
    page.get_by_role("button", name="Take it").click()
    expect(page.locator("aside")).to_contain_text(staff["a"])
    page.get_by_role("link", name=re.compile("^Mine")).click()
    expect(page.locator("tr", has_text=ticket["subject"])).to_be_visible()
    expect(page.locator("[data-count=mine]")).to_have_text("1")

    page.locator("tr", has_text=ticket["subject"]).get_by_role("link").click()
    page.get_by_role("button", name=re.compile("^Request info")).click()
    page.get_by_label(re.compile("^Question for the requester")).fill("Which printer model is it?")
    page.get_by_role("button", name="Send request").click()
    expect(page.locator("aside [data-status]")).to_have_text("pending")
    expect(page.locator(".thread li", has_text="Which printer model is it?")).to_be_visible()

    page.get_by_role("button", name=re.compile("^Escalate")).click()
    page.get_by_label("Tier").select_option("senior-support")
    page.get_by_label("Reason (internal)").fill("Needs a driver fix on the print server.")
    page.get_by_role("button", name="Escalate", exact=True).click()
    expect(page.locator("aside [data-status]")).to_have_text("escalated")

    page.get_by_role("button", name=re.compile("^Resolve")).click()
    page.get_by_label(re.compile("^Resolution notes")).fill("Driver updated on the print server.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator("aside [data-status]")).to_have_text("resolved")

    kinds = page.locator(".thread > li").evaluate_all("els => els.map(e => e.dataset.kind)")
    steps = [k for k in kinds if k in ("created", "assigned", "info_requested", "escalated",
                                       "resolved")]
    assert steps == ["created", "assigned", "info_requested", "escalated", "resolved"]
    expect(page.locator(".thread li.escalated")).to_contain_text("Internal")
    expect(page.locator(".thread li.escalated")).to_contain_text("Senior Support")
    assert axe_violations(page) == []
    screenshot(page, "agent-ticket")
    assert page.errors == []  # type: ignore[attr-defined]
    stored = [e["kind"] for e in thread_of(host, number)]
    assert stored.count("resolved") == 1 and stored.count("escalated") == 1


def test_a_change_by_another_agent_is_reported_and_never_overwritten(
        context: BrowserContext, second: BrowserContext, host: RunningHost,
        staff: dict[str, str]):
    number = new_ticket(host)["number"]
    page_a = agent_page(context, staff["a"])
    page_b = agent_page(second, staff["b"])
    open_ticket(page_a, number)
    open_ticket(page_b, number)

    page_a.keyboard.press("n")
    page_a.locator("#note-body").fill("A: checked the logs, disk is full.")
    page_a.get_by_role("button", name="Add note").click()
    expect(page_a.locator(".thread li.note")).to_contain_text("disk is full")

    page_b.keyboard.press("r")
    page_b.locator("#reply-body").fill("B: please restart your laptop.")
    page_b.get_by_role("button", name="Send reply").click()
    banner = page_b.locator(".banner")
    expect(banner).to_contain_text("Someone else changed this ticket since you opened it")
    expect(page_b.locator("#reply-body")).to_have_value("B: please restart your laptop.")
    bodies = [e["body"] for e in thread_of(host, number)]
    assert "A: checked the logs, disk is full." in bodies
    assert "B: please restart your laptop." not in bodies

    banner.get_by_role("button", name="Reload").click()
    expect(banner).to_be_hidden()
    expect(page_b.locator(".thread li.note")).to_contain_text("disk is full")
    expect(page_b.locator("#reply-body")).to_have_value("B: please restart your laptop.")
    page_b.get_by_role("button", name="Send reply").click()
    expect(page_b.locator(".thread li.reply")).to_contain_text("please restart")
    bodies = [e["body"] for e in thread_of(host, number)]
    assert bodies.count("B: please restart your laptop.") == 1
    assert bodies.count("A: checked the logs, disk is full.") == 1


HOSTILE = ['<script>alert("s")</script>', '<img src=x onerror=alert("i")>',
           '"><svg onload=alert("v")>']


def test_html_and_script_in_a_ticket_are_shown_as_text(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    text = " ".join(HOSTILE)
    ticket = new_ticket(host, subject=f"Hi {text}", description=f"Body {text}",
                        name=f"Mallory {HOSTILE[1]}")
    page = agent_page(context, staff["a"])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"/api/agent#/search?q={ticket['email']}")
    cell = page.locator("td.subject")
    expect(cell).to_have_text(f"Hi {text}")
    expect(page.locator("tbody")).to_contain_text(f"Mallory {HOSTILE[1]}")
    assert page.locator("main img, main svg, main script").count() == 0

    cell.click()
    expect(page.locator("h1")).to_contain_text(f"Hi {text}")
    expect(page.locator(".thread li.created .body")).to_have_text(f"Body {text}")
    expect(page.locator("aside")).to_contain_text(f"Mallory {HOSTILE[1]}")
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("main svg, main script").count() == 0
    assert dialogs == []


def test_the_keyboard_reaches_lists_tickets_and_actions(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    new_ticket(host)
    new_ticket(host)
    page = agent_page(context, staff["a"])
    page.goto("/api/agent#/queue/unassigned?sort=updated")
    expect(page.locator("tbody tr").nth(1)).to_be_visible()

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Request information")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    first = page.locator("tbody tr").first
    expect(first).to_have_class(re.compile("selected"))
    number = first.get_attribute("data-number")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"#/ticket/{number}$"))
    expect(page.locator("h1")).to_contain_text(str(number))

    page.keyboard.press("n")
    note = page.locator("#note-body")
    expect(note).to_be_focused()
    page.keyboard.type("g u ? r")  # typed into the note, not taken as shortcuts
    expect(note).to_have_value("g u ? r")
    expect(page).to_have_url(re.compile(f"#/ticket/{number}$"))
    expect(dialog).to_be_hidden()

    page.keyboard.press("Escape")
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()


def test_a_phone_ticket_is_typed_in_and_found_by_search(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    tag = uuid.uuid4().hex[:6]
    email = unique_email()
    page = agent_page(context, staff["a"])
    page.goto("/api/agent")
    page.get_by_role("link", name="New phone ticket").click()
    page.get_by_role("button", name="Create ticket").click()
    expect(page.locator("#new-error")).to_contain_text("invalid fields")
    expect(page.locator("#new-subject-error")).not_to_be_empty()

    page.get_by_label("Caller's name").fill(f"Caller {tag}")
    page.get_by_label("Caller's email").fill(email)
    page.get_by_label("Caller's phone").fill("+41 44 123 45 67")
    page.get_by_label("Subject").fill(f"Headset crackles zz{tag}")
    page.get_by_label("What the caller says").fill(f"Crackling noise on calls qq{tag} only.")
    page.get_by_label("Priority").select_option("high")
    page.get_by_role("button", name="Create ticket").click()
    expect(page.locator("h1")).to_contain_text(f"Headset crackles zz{tag}")
    expect(page.locator("aside")).to_contain_text("phone")
    expect(page.locator("aside")).to_contain_text("+41 44 123 45 67")
    number = re.search(r"#/ticket/(\d{8})", page.url).group(1)  # type: ignore[union-attr]

    def search(q: str) -> None:
        page.locator("#search").fill(q)
        page.locator("#search").press("Enter")

    search(number)
    expect(page).to_have_url(re.compile(f"#/ticket/{number}$"))
    # The search words are written by the created event's handler, a moment after intake.
    with host.signed_in() as agent:
        wait_for(lambda: agent.get("/api/search", params={"q": f"zz{tag}"}).json()["items"],
                 what="the ticket's search words")
    for q in (email, f"zz{tag}", f"QQ{tag}", f"headset zz{tag}"):
        search(q)
        expect(page.locator("h1")).to_have_text(f"Search: {q}")
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.locator("tbody tr").first).to_contain_text(number)


def test_the_dashboard_and_the_phone_width_layout(context: BrowserContext, host: RunningHost,
                                                  staff: dict[str, str]):
    new_ticket(host)
    page = agent_page(context, staff["a"])
    page.goto("/api/agent#/dashboard")
    expect(page.locator(".card").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("reporting")
    expect(page.locator(".card", has_text="Unassigned")).to_be_visible()
    expect(page.locator(".card", has_text="Escalated").first).to_be_visible()
    screenshot(page, "agent-dashboard")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/api/agent#/queue/unassigned?sort=updated")
    # Only the hash changes: wait for the queue itself, not a row of the dashboard's tables.
    expect(page.locator("h1")).to_have_text("Unassigned")
    expect(page.locator("main table.list tbody tr").first).to_be_visible()
    wide = page.evaluate("""() => [...document.querySelectorAll("main *")]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
        .map((el) => el.tagName + "." + el.className).slice(0, 5)""")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
    assert page.locator("th.wide").first.is_hidden()
    assert axe_violations(page) == []
    screenshot(page, "agent-phone")


def test_a_reply_with_a_canned_response_and_an_attachment_and_readable_errors(
        context: BrowserContext, host: RunningHost, staff: dict[str, str], tmp_path):
    canned = f"greet-{uuid.uuid4().hex[:6]}"
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        assert admin.put(f"/api/directory/canned/{canned}", json={
            "title": f"Greeting {canned}",
            "body": "Hello {{requester_name}}, about ticket {{number}}:"}).status_code == 200
    ticket = new_ticket(host)
    number = ticket["number"]
    log = tmp_path / "error.log"
    log.write_text("disk full at 03:12\n")
    page = agent_page(context, staff["a"])
    open_ticket(page, number)

    page.keyboard.press("r")
    page.get_by_label("Canned response", exact=True).select_option(label=f"Greeting {canned}")
    page.get_by_role("button", name="Insert").click()
    reply = page.locator("#reply-body")
    expect(reply).to_have_value(f"Hello Ada Requester, about ticket {number}:")
    reply.press("End")
    reply.type(" please see the log.")
    page.get_by_label(re.compile("^Attachments")).set_input_files(str(log))
    page.get_by_role("button", name="Send reply").click()
    entry = page.locator(".thread li.reply")
    expect(entry).to_contain_text("please see the log.")
    link = entry.get_by_role("link", name="error.log")
    with page.expect_download() as download:
        link.click()
    assert download.value.path().read_bytes() == b"disk full at 03:12\n"

    page.get_by_role("button", name=re.compile("^Escalate")).click()
    page.get_by_label("Tier").select_option("vendor-support")
    page.get_by_label("Reason (internal)").fill("The vendor must fix it.")
    page.get_by_role("button", name="Escalate", exact=True).click()
    form = page.locator("form[data-form=escalate]")
    expect(form.get_by_role("alert")).to_contain_text("vendor_name")
    expect(page.get_by_label("Reason (internal)")).to_have_value("The vendor must fix it.")
    page.get_by_label("Vendor name").fill("Acme Printers")
    page.get_by_role("button", name="Escalate", exact=True).click()
    expect(page.locator("aside [data-status]")).to_have_text("escalated")
    expect(page.locator(".thread li.escalated")).to_contain_text("Vendor Support (Acme Printers)")
    # The refused escalation is the browser's one logged 422; nothing else went wrong.
    assert [e for e in page.errors if "422" not in e] == []  # type: ignore[attr-defined]


def test_an_acknowledgement_held_back_by_the_hourly_cap_is_shown_as_not_sent(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    email = unique_email("capped")
    numbers = [new_ticket(host, email=email)["number"] for _ in range(6)]  # the cap is 5

    def ack_records() -> dict[str, dict] | None:
        found = {n: next((e for e in thread_of(host, n) if e["kind"] == "email_sent"), None)
                 for n in numbers}
        return found if all(found.values()) else None

    records = wait_for(ack_records, timeout=30, what="every acknowledgement's record")
    [held] = [n for n, r in records.items() if r["data"].get("skipped")]
    sent = next(n for n in numbers if n != held)
    page = agent_page(context, staff["a"])
    open_ticket(page, held)
    expect(page.locator(".thread li", has_text="Email not sent")).to_be_visible()
    open_ticket(page, sent)
    expect(page.locator(".thread li", has_text="Email sent")).to_be_visible()
    expect(page.locator(".thread li", has_text="Email not sent")).to_have_count(0)


def test_an_emails_quoted_history_is_kept_collapsed_under_its_entry(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    with host.signed_in(roles="agent,admin") as admin:
        key = admin.post("/api/apikeys", json={"name": "mx-ui", "scopes": ["email"]}).json()["key"]
    sender = unique_email()
    raw = (f"From: Ada <{sender}>\r\nTo: support@example.com\r\nSubject: Re: VPN drops\r\n"
           f"Message-ID: <{uuid.uuid4().hex}@client.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "It still drops every hour.\r\n\r\n"
           "Am Di., 5. März 2024 um 10:02 Uhr schrieb Ops <ops@example.com>:\r\n"
           "> Did the new profile help? <script>alert(1)</script>\r\n").encode()
    with host.client() as client:
        response = client.post("/api/tickets.email", content=raw, headers={
            "X-API-Key": key, "content-type": "message/rfc822", "Accept": "application/json"})
    assert response.status_code == 201, response.text
    page = agent_page(context, staff["a"])
    open_ticket(page, response.json()["number"])
    entry = page.locator(".thread li.created")
    expect(entry.locator(".body").first).to_have_text("It still drops every hour.")
    history = entry.locator("details.quoted")
    expect(history).not_to_have_attribute("open", "")
    expect(history.locator(".body")).to_be_hidden()
    history.locator("summary", has_text="Quoted history").click()
    expect(history.locator(".body")).to_have_text(
        "Am Di., 5. März 2024 um 10:02 Uhr schrieb Ops <ops@example.com>:\n"
        "> Did the new profile help? <script>alert(1)</script>")
    assert page.locator("main script").count() == 0
    assert page.errors == []  # type: ignore[attr-defined]


def test_mail_from_an_unverified_sender_is_marked_and_names_the_ticket_it_claimed(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    with host.signed_in(roles="agent,admin") as admin:
        key = admin.post("/api/apikeys", json={"name": "mx-forged", "scopes": ["email"]}
                         ).json()["key"]
    requester = unique_email()

    def send(subject: str, text: str) -> str:
        raw = email_message(requester, subject, text).as_bytes()
        with host.client() as client:
            response = client.post("/api/tickets.email", content=raw, headers={
                "X-API-Key": key, "content-type": "message/rfc822", "Accept": "application/json"})
        assert response.status_code == 201, response.text
        return response.json()["number"]

    claimed = send("Payroll access", "I cannot open payroll.")
    forged = send(f"Re: [#{claimed}] Payroll access", "Please change my bank account.")
    assert forged != claimed
    page = agent_page(context, staff["a"])
    open_ticket(page, forged)
    warning = page.locator(".thread li.created .sender-unverified")
    expect(warning).to_have_text(
        f"Sender not verified (no DKIM signature). It claims to answer ticket #{claimed}; it "
        "was not added there. Check with the requester before acting on it.")
    warning.get_by_role("link", name=f"#{claimed}").click()
    expect(page).to_have_url(re.compile(rf"#/ticket/{claimed}$"))
    expect(page.locator(".thread li.created .body").first).to_have_text("I cannot open payroll.")
    expect(page.locator(".sender-unverified")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_agent_merges_a_duplicate_from_its_page_and_links_tickets(
        context: BrowserContext, host: RunningHost, staff: dict[str, str]):
    tag = uuid.uuid4().hex[:6]
    duplicate = new_ticket(host, subject=f"VPN drops {tag}",
                           description=f"Drops every hour {tag}.")["number"]
    target = new_ticket(host, subject=f"VPN unstable {tag}")["number"]
    related = new_ticket(host, subject=f"Wi-Fi slow {tag}")["number"]
    page = agent_page(context, staff["a"])

    # Links: added from the ticket page, shown on both, removed again.
    open_ticket(page, target)
    links = page.get_by_role("region", name="Links")
    links.get_by_label("Ticket number").fill(related)
    links.get_by_label("is this ticket's").select_option("child")
    links.get_by_role("button", name="Link", exact=True).click()
    item = links.locator(f"li[data-link='{related}']")
    expect(item).to_contain_text(f"Wi-Fi slow {tag}")
    expect(item).to_contain_text("Child")
    expect(item.locator("[data-link-status]")).to_have_text("new")
    item.get_by_role("link", name=f"#{related}").click()
    expect(page.locator("h1")).to_contain_text(related)
    other_side = page.get_by_role("region", name="Links").locator(f"li[data-link='{target}']")
    expect(other_side).to_contain_text("Parent")
    expect(other_side).to_contain_text(f"VPN unstable {tag}")
    # A cycle is refused with the reason shown.
    links = page.get_by_role("region", name="Links")
    links.get_by_label("Ticket number").fill(target)
    links.get_by_label("is this ticket's").select_option("child")
    links.get_by_role("button", name="Link", exact=True).click()
    expect(links.get_by_role("alert")).to_contain_text("linked already")
    other_side.get_by_role("button", name=f"Remove the link to #{target}").click()
    expect(page.get_by_role("region", name="Links")).to_contain_text("None")

    # Merge the duplicate into the target from the duplicate's page.
    open_ticket(page, duplicate)
    page.get_by_role("button", name="Merge into…").click()
    page.get_by_label(re.compile("^Ticket number to merge")).fill(target)
    page.get_by_label(re.compile("^Comment \\(internal")).fill("Same VPN outage")
    page.locator("[data-form=merge]").get_by_role("button", name="Merge").click()
    notice = page.locator(".notice.merged")
    expect(notice).to_contain_text("was merged into")
    expect(page.locator("aside [data-status]")).to_have_text("closed")
    expect(page.get_by_role("button", name="Merge into…")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Reopen"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Note"))).to_be_visible()
    notice.get_by_role("link", name=f"#{target}").click()

    # The target shows the duplicate's thread, collapsed until opened.
    expect(page.locator("h1")).to_contain_text(target)
    merged = page.locator("li.event[data-kind=merged]")
    expect(merged).to_contain_text(f"#{duplicate}")
    thread = merged.locator("details.merged-thread")
    expect(thread.get_by_text(f"Drops every hour {tag}.")).to_be_hidden()
    thread.locator("summary").click()
    expect(thread.get_by_text(f"Drops every hour {tag}.")).to_be_visible()
    assert axe_violations(page) == []
    # The refused link's 409 is the one failed request the browser logs.
    assert [e for e in page.errors if "status of 409" not in e] == []  # type: ignore[attr-defined]
