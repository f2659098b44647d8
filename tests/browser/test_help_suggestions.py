"""The web form suggests public help articles while the subject is typed."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_violations, screenshot
from tests.e2e.conftest import RunningHost


def test_typing_a_subject_lists_matching_public_articles_as_text(page: Page, host: RunningHost):
    tag = "zq" + uuid.uuid4().hex[:8]
    title = f"Printer {tag} offline <img src=x onerror=alert(1)>"
    with host.signed_in() as agent:
        public = agent.post("/api/kb/articles", json={"title": title, "body": "Restart the spooler.",
                                                      "public": True}).json()
        agent.post("/api/kb/articles", json={"title": f"Printer {tag} internal notes", "body": "staff"})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/api/form")
    suggestions = page.locator("#suggestions")
    expect(suggestions).to_be_hidden()
    page.get_by_label("Subject").press_sequentially(f"my {tag} printer", delay=20)
    expect(suggestions).to_be_visible()
    links = suggestions.get_by_role("link")
    expect(links.first).to_have_text(title)  # the best match first, its HTML as text
    assert f"Printer {tag} internal notes" not in links.all_inner_texts()  # not public
    assert page.locator("img[src=x]").count() == 0 and dialogs == []
    assert axe_violations(page) == []
    screenshot(page, "form-suggestions")
    # The article opens beside the form, so what was typed stays.
    with page.context.expect_page() as opened:
        links.first.click()
    article = opened.value
    article.wait_for_url(f"**/api/help/{public['id']}")
    expect(article.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_label("Subject")).to_have_value(f"my {tag} printer")
