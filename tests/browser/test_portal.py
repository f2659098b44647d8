"""The requester portal in a real browser: from the acknowledgement email to an answer
with a file and a rating, with the keyboard alone, at a phone's width, and with a
subject and description full of HTML that must stay text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from shared.core.links import make_code
from tests.browser.conftest import axe_violations, screenshot
from tests.conftest import PORTAL_SECRET, unique_email
from tests.e2e.conftest import RunningHost
from tests.support import MailDev


def submit(context: BrowserContext, email: str, subject: str = "Printer jams",
           description: str = "It jams on page 2.") -> str:
    r = context.request.post("/api/tickets", data={
        "name": "Ada", "email": email, "subject": subject, "description": description})
    assert r.status == 201, r.text()
    return r.json()["number"]


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_check_a_ticket_page(page: Page, context: BrowserContext, host: RunningHost):
    errors = console_errors(page)
    page.goto("/api/portal")
    expect(page.get_by_role("heading", name="Check a ticket")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "portal-check")
    page.get_by_label("Your email").fill(unique_email("nobody"))
    page.get_by_label("Ticket number").fill("12345671")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_text("If a ticket with that number belongs to that address")).to_be_visible()
    assert errors == []


def test_requester_opens_the_emailed_link_answers_with_a_file_and_rates(
        page: Page, context: BrowserContext, host: RunningHost, maildev: MailDev):
    errors = console_errors(page)
    email = unique_email("portal")
    number = submit(context, email)
    [ack] = maildev.wait_to(email)
    # Opened by its path: the link carries the public URL of whichever host sent the email
    # (another test may run a host of its own); every test host signs with one secret.
    page.goto(urlsplit(maildev.portal_link(ack["id"])).path)
    # Opening the link asks first (a link preview or a mail scanner opens nothing).
    expect(page.get_by_role("heading", name=f"Open your request #{number}")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Open my request").click()

    # The link's code left the address bar; the page shows the public thread.
    assert page.url == f"{host.base_url}/api/portal/ticket"
    expect(page.get_by_role("heading", name="Printer jams")).to_be_visible()
    expect(page.locator("#ticket-number")).to_have_text(f"#{number}")
    expect(page.get_by_text("It jams on page 2.")).to_be_visible()
    assert axe_violations(page) == []

    page.get_by_label("Your message").fill("Here is a photo of the tray. " + "x" * 120)
    page.set_input_files("#reply-files", files=[
        {"name": "tray.txt", "mimeType": "text/plain", "buffer": b"tray two"}])
    page.get_by_role("button", name="Send message").click()
    expect(page.locator("#portal-notice")).to_contain_text("Your message was added")
    expect(page.get_by_text("Here is a photo of the tray.")).to_be_visible()
    expect(page.get_by_role("link", name="tray.txt")).to_be_visible()
    screenshot(page, "portal-ticket")

    # At a phone's width nothing sticks out sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= "
                         "document.documentElement.clientWidth")
    screenshot(page, "portal-ticket-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    with host.signed_in() as agent:
        r = agent.post(f"/api/tickets/{number}/resolve",
                       json={"resolution": "Replaced the rollers."})
        assert r.status_code == 200, r.text
    page.reload()
    expect(page.get_by_text("Replaced the rollers.")).to_be_visible()
    page.get_by_label("Yes").check()
    page.get_by_label("Comment").fill("Works again, thank you!")
    page.get_by_role("button", name="Send my answer").click()
    expect(page.locator("#portal-notice")).to_contain_text("Thank you for telling us")
    expect(page.locator(".kind-rated")).to_contain_text("Works again, thank you!")
    assert axe_violations(page) == []
    screenshot(page, "portal-rated")
    with host.signed_in() as agent:
        ticket = agent.get(f"/api/tickets/{number}").json()["ticket"]
    assert ticket["satisfied"] is True
    assert ticket["satisfaction_comment"] == "Works again, thank you!"
    assert errors == []


def open_minted_link(page: Page, number: str, email: str) -> None:
    code = make_code(number, email, secret=PORTAL_SECRET,
                     expires=datetime.now(UTC) + timedelta(days=1))
    page.goto(f"/api/portal/t/{code}")
    page.get_by_role("button", name="Open my request").click()
    page.wait_for_url("**/api/portal/ticket")


def test_html_in_a_subject_and_description_is_shown_as_text(
        page: Page, context: BrowserContext):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors = console_errors(page)
    subject = "<script>alert('subject')</script>"
    description = "<img src=x onerror=alert('description')> and <b>bold</b>"
    email = unique_email("xss")
    number = submit(context, email, subject=subject, description=description)
    open_minted_link(page, number, email)
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    expect(page.get_by_text(description)).to_be_visible()
    assert page.locator("main img, main b, main script").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == [] and errors == []


def test_the_reply_form_works_with_the_keyboard_alone(page: Page, context: BrowserContext):
    email = unique_email("keyboard")
    number = submit(context, email)
    open_minted_link(page, number, email)
    for _ in range(40):
        if page.evaluate("document.activeElement && document.activeElement.id") == "reply-body":
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError("Tab never reached the message box")
    page.keyboard.type("Typed without a mouse.")
    page.keyboard.press("Tab")  # the file input
    page.keyboard.press("Tab")  # the send button
    assert page.evaluate("document.activeElement.textContent") == "Send message"
    page.keyboard.press("Enter")
    expect(page.locator("#portal-notice")).to_contain_text("Your message was added")
    expect(page.get_by_text("Typed without a mouse.")).to_be_visible()


def test_a_used_link_offers_a_new_one_by_email(page: Page, context: BrowserContext,
                                               maildev: MailDev):
    email = unique_email("spent")
    number = submit(context, email)
    code = make_code(number, email, secret=PORTAL_SECRET,
                     expires=datetime.now(UTC) + timedelta(days=1))
    page.goto(f"/api/portal/t/{code}")
    page.get_by_role("button", name="Open my request").click()
    expect(page.locator("#ticket-number")).to_have_text(f"#{number}")
    # The same link in a browser without the session (a forwarded email, a log).
    context.clear_cookies()
    page.goto(f"/api/portal/t/{code}")
    expect(page.get_by_role("heading", name="This link has been used already")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Email me a new link").click()
    expect(page.get_by_text("We have emailed a new link")).to_be_visible()
    assert [m for m in maildev.wait_to(email, 2) if "Your link to" in m["subject"]]


def test_from_the_form_the_portal_and_the_help_pages_are_reached_by_links_alone(page: Page):
    page.goto("/api/form")
    page.get_by_role("navigation", name="Help desk").get_by_role(
        "link", name="Check a ticket").click()
    expect(page.get_by_role("heading", name="Check a ticket")).to_be_visible()
    assert page.url.endswith("/api/portal")
    page.get_by_role("navigation", name="Help desk").get_by_role(
        "link", name="Help articles").click()
    expect(page.get_by_role("heading", name="Help articles")).to_be_visible()
    assert page.url.endswith("/api/help")
    assert axe_violations(page) == []
    page.get_by_role("navigation", name="Help desk").get_by_role(
        "link", name="Contact support").click()
    expect(page.get_by_role("heading", name="Contact support")).to_be_visible()
    # The page a reader is on is marked for screen readers too.
    current = page.get_by_role("navigation", name="Help desk").locator("[aria-current=page]")
    expect(current).to_have_text("Contact support")
