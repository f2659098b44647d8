"""The pages' common ground: their look comes from the app itself, and the
Content-Security-Policy keeps a script that got into a page from running."""

from playwright.sync_api import Page

from tests.browser.conftest import axe_violations, screenshot


def test_web_form_renders_with_the_apps_stylesheet_and_no_axe_violations(page: Page):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/api/form")
    assert page.get_by_label("Subject").is_visible()
    # The stylesheet is ours, served by the app (no CDN): it styled the page.
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != ""
    sheets = page.evaluate("[...document.styleSheets].map(s => s.href)")
    assert any(href and "/api/static/ui.css" in href for href in sheets)
    assert axe_violations(page) == []
    assert errors == [], "the page broke its own Content-Security-Policy or failed to load"
    screenshot(page, "web-form")


def test_static_files_refuse_paths_outside_their_folder(page: Page):
    assert page.request.get("/api/static/ui.css").status == 200
    for path in ("/api/static/../web.py", "/api/static/%2e%2e/web.py", "/api/static/nope.css"):
        assert page.request.get(path).status == 404, path
