"""The dashboard's reports and the knowledge base in a real browser: a supervisor reads a
team's figures as charts (each with its figures as text) under the page's CSP, changes the
range and downloads the CSV; a plain agent gets no reports; an agent promotes a resolution
to a public article, finds and edits it (through an edit conflict), requesters find it in
the help pages, and a new ticket like the old one lists both in its Similar panel."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import axe_violations, screenshot, sign_in
from tests.browser.test_portal import open_minted_link
from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import wait_for

SUPERVISOR = {"user": "dash-sup", "email": "dash-sup@staff.example.com", "roles": "agent,supervisor"}
# Collects what the page's Content-Security-Policy refused (an init script runs over the
# DevTools protocol, outside the page's CSP).
CSP_WATCH = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "(e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));")


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def watched_page(context: BrowserContext) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(CSP_WATCH)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def no_errors(page: Page) -> None:
    assert page.errors == []  # type: ignore[attr-defined]
    assert page.evaluate("window.__csp") == []


def refused(page: Page, status: int, fetches: int) -> None:
    """Chromium logs every refused fetch as a console error: take the expected ones out.
    The page's alert can show after the first refusal while a parallel fetch's error is
    still on its way, so wait (letting Playwright deliver events) until all have come."""
    errors = page.errors  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while len(errors) < fetches and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(errors) == fetches and all(f"status of {status}" in e for e in errors), errors
    errors.clear()


def new_ticket(host: RunningHost, subject: str, description: str) -> dict:
    body = {"name": "Ada Requester", "email": unique_email("dash"), "subject": subject,
            "description": description}
    with host.client() as client:
        response = client.post("/api/tickets", json=body)
    assert response.status_code == 201, response.text
    return {**body, **response.json()}


def act(host: RunningHost, number: str, action: str, body: dict) -> None:
    with host.signed_in(**SUPERVISOR) as sup:
        etag = sup.get(f"/api/tickets/{number}").headers["etag"]
        r = sup.post(f"/api/tickets/{number}/{action}", json=body, headers={"If-Match": etag})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def team(host: RunningHost) -> str:
    """A team of its own, so its figures are exactly the ones this module makes."""
    team_id = f"dash-{uuid.uuid4().hex[:6]}"
    with host.signed_in(roles="agent,admin", user="admin1") as admin:
        r = admin.put(f"/api/directory/teams/{team_id}", json={"name": f"Dash {team_id}", "tier": 1})
        assert r.status_code == 200, r.text
    return team_id


def figures(page: Page, chart: str) -> dict[str, list[str]]:
    """A chart's text alternative: its table, row label -> cells."""
    rows = page.locator(f"table[data-figures={chart}] tbody tr")
    return {row.locator("th").inner_text(): row.locator("td").all_inner_texts() for row in rows.all()}


def test_a_supervisor_reads_a_teams_figures_changes_the_range_and_downloads_the_csv(
        context: BrowserContext, host: RunningHost, team: str):
    ticket = new_ticket(host, f"Dashboard printer {uuid.uuid4().hex[:6]}", "Tray two jams.")
    number = ticket["number"]
    act(host, number, "assign", {"team": team})
    act(host, number, "reply", {"body": "Looking at it now."})
    act(host, number, "resolve", {"resolution": "Cleaned the rollers."})
    # The requester says it is solved, in the portal.
    rating = context.new_page()
    open_minted_link(rating, number, ticket["email"])
    expect(rating.get_by_role("link", name="Search help articles")).to_have_attribute("href", "/api/help")
    rating.get_by_label("Yes").check()
    rating.get_by_label("Comment").fill("Quick and kind, thanks")
    rating.get_by_role("button", name="Send my answer").click()
    expect(rating.locator("#portal-notice")).to_contain_text("Thank you")
    rating.close()

    # The host's ticket-events handler folds the ticket into the summaries: wait for it.
    query = {"from": today(), "to": today(), "dimension": "team", "value": team}
    with host.signed_in(**SUPERVISOR) as sup:
        def folded() -> dict | None:
            totals = sup.get("/api/reports/summary", params=query).json()["totals"]
            done = (totals["created"], totals["resolved"], totals["satisfaction"]["yes"]) == (1, 1, 1)
            return totals if done else None
        totals = wait_for(folded, timeout=60, interval=0.5, what="the summary to count the resolved, rated ticket")
    assert totals["first_response"]["count"] == 1 and totals["resolution"]["count"] == 1

    sign_in(context, **SUPERVISOR)
    page = watched_page(context)
    page.goto("/api/agent#/dashboard")
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    expect(page.get_by_label("From", exact=True)).to_have_value(
        (datetime.now(UTC).date() - timedelta(days=29)).isoformat())
    expect(page.get_by_label("To", exact=True)).to_have_value(today())
    expect(page.locator("figure.chart canvas")).to_have_count(5)

    # Only this module's team: its figures are known.
    page.get_by_label("Filter", exact=True).select_option("team")
    page.get_by_label("Value", exact=True).select_option(team)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(f"dimension=team&value={team}"))
    expect(page.locator("[data-total=created] .value")).to_have_text("1")
    expect(page.locator("[data-total=resolved] .value")).to_have_text("1")
    expect(page.locator("[data-total=csat] .value")).to_have_text("100% of 1")
    expect(page.locator("figure.chart canvas")).to_have_count(5)
    drawn = page.evaluate("[...document.querySelectorAll('figure.chart canvas')]"
                          ".map(c => Boolean(window.Chart.getChart(c)) && c.width > 0)")
    assert drawn == [True] * 5
    assert figures(page, "volume")[today()] == ["1", "1"]
    assert sum(int(n) for [n] in figures(page, "backlog").values()) == 0
    assert figures(page, "satisfaction") == {team: ["1", "0"]}
    [frt_median, frt_p90, res_median, res_p90] = figures(page, "times")[team]
    assert frt_median != "—" and res_median != "—"
    canvas = page.locator("canvas#chart-volume")
    assert "Created and resolved per day" in (canvas.get_attribute("aria-label") or "")
    assert axe_violations(page) == []
    screenshot(page, "agent-dashboard")

    # A range without the ticket, then back to the day it was made.
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    page.get_by_label("From", exact=True).fill(yesterday)
    page.get_by_label("To", exact=True).fill(yesterday)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("[data-total=created] .value")).to_have_text("0")
    assert figures(page, "volume") == {yesterday: ["0", "0"]}
    page.get_by_label("From", exact=True).fill(today())
    page.get_by_label("To", exact=True).fill(today())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("[data-total=created] .value")).to_have_text("1")

    # A range that ends before it starts: the API's problem, next to the form.
    page.get_by_label("From", exact=True).fill(today())
    page.get_by_label("To", exact=True).fill(yesterday)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#reports [role=alert]")).to_contain_text("Invalid report query")
    refused(page, 422, fetches=2)  # the summary by day and the one by team

    page.get_by_label("From", exact=True).fill(today())
    page.get_by_label("To", exact=True).fill(today())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("[data-total=created] .value")).to_have_text("1")
    with page.expect_download() as caught:
        page.get_by_role("link", name="Download CSV").click()
    download = caught.value
    assert download.suggested_filename == f"tickets-{today()}-{today()}.csv"
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    [row] = [r for r in rows if r["number"] == number]
    assert row["status"] == "resolved" and row["team"] == team and row["satisfied"] == "yes"

    # The ticket page shows the requester's rating.
    page.goto(f"/api/agent#/ticket/{number}")
    expect(page.locator("#satisfaction")).to_contain_text("Solved")
    expect(page.locator("#satisfaction")).to_contain_text("Quick and kind, thanks")
    no_errors(page)


def test_a_plain_agent_sees_the_queue_counts_and_no_reports(context: BrowserContext):
    sign_in(context, user="dash-agent", email="dash-agent@staff.example.com", roles="agent")
    page = watched_page(context)
    page.goto("/api/agent#/dashboard")
    expect(page.locator(".card", has_text="Unassigned")).to_be_visible()
    expect(page.locator("#reports-need-role")).to_contain_text("need the supervisor role")
    assert page.locator("canvas").count() == 0
    assert page.get_by_role("link", name="Download CSV").count() == 0
    query = f"from={today()}&to={today()}"
    assert context.request.get(f"/api/reports/summary?{query}").status == 403
    assert context.request.get(f"/api/reports/tickets.csv?{query}").status == 403
    no_errors(page)


def test_an_agent_promotes_a_resolution_finds_and_edits_the_article_and_a_like_ticket_lists_it(
        context: BrowserContext, host: RunningHost):
    tag = "vpn" + uuid.uuid4().hex[:6]
    old = new_ticket(host, f"Tunnel {tag} drops every hour", "The tunnel drops and reconnects.")
    resolution = f"Updated the {tag} client to 5.2 and turned off power saving on the adapter."
    act(host, old["number"], "resolve", {"resolution": resolution})

    sign_in(context, user="dash-kb", email="dash-kb@staff.example.com", roles="agent")
    page = watched_page(context)
    page.goto(f"/api/agent#/ticket/{old['number']}")
    expect(page.locator("aside [data-status]")).to_have_text("resolved")
    page.get_by_role("button", name="Promote to article").click()
    expect(page.get_by_label("Title", exact=True)).to_have_value(old["subject"])
    expect(page.get_by_label("Article text", exact=True)).to_have_value(resolution)
    page.get_by_label("Title", exact=True).fill(f"Tunnel {tag} drops: update the client")
    page.get_by_label("Category", exact=True).select_option("network")
    page.get_by_label(re.compile("^Public:")).check()
    page.get_by_role("button", name="Create article").click()
    page.get_by_role("link", name=f"Tunnel {tag} drops: update the client").click()
    expect(page.locator("h1")).to_have_text(f"Tunnel {tag} drops: update the client")
    expect(page.locator(".article-body")).to_have_text(resolution)
    article_id = page.url.rsplit("/", 1)[1]

    # Found again in the knowledge base.
    page.get_by_role("link", name="Knowledge base", exact=True).click()
    page.get_by_label("Search articles").fill(tag)
    page.get_by_label("Search articles").press("Enter")
    hit = page.locator(f"[data-article='{article_id}']")
    expect(hit).to_contain_text("Public")
    assert axe_violations(page) == []
    screenshot(page, "agent-kb")
    hit.get_by_role("link").click()

    # Edited; someone else saves first, so the first save is refused and the draft kept.
    page.get_by_role("button", name="Edit").click()
    edited = f"{resolution}\nThen restart the {tag} service."
    page.get_by_label("Article text", exact=True).fill(edited)
    with host.signed_in(user="dash-other") as other:
        current = other.get(f"/api/kb/articles/{article_id}")
        r = other.put(f"/api/kb/articles/{article_id}", headers={"If-Match": current.headers["etag"]},
                      json={**{k: current.json()[k] for k in ("title", "body", "category", "public")},
                            "title": f"Tunnel {tag} drops: update the client (checked)"})
        assert r.status_code == 200, r.text
    page.get_by_role("button", name="Save article").click()
    expect(page.locator(".banner")).to_contain_text("Someone else changed this article")
    refused(page, 412, fetches=1)
    page.locator(".banner").get_by_role("button", name="Reload").click()
    expect(page.locator("h1")).to_contain_text("(checked)")
    expect(page.get_by_label("Article text", exact=True)).to_have_value(edited)
    page.get_by_label("Title", exact=True).fill(f"Tunnel {tag} drops: update the client")
    page.get_by_role("button", name="Save article").click()
    expect(page.locator(".article-body")).to_contain_text(f"Then restart the {tag} service.")
    expect(page.locator("h1")).to_have_text(f"Tunnel {tag} drops: update the client")

    # Requesters find it in the public help pages.
    with host.client() as anonymous:
        found = anonymous.get("/api/help", params={"q": tag})
        assert found.status_code == 200 and f"/api/help/{article_id}" in found.text
        assert f"Then restart the {tag} service." in anonymous.get(f"/api/help/{article_id}").text

    # A new ticket like the old one lists it and the article.
    new = new_ticket(host, f"Tunnel {tag} dropped again", "Since this morning the tunnel drops.")
    # The resolution reaches the search log through the queue handler: wait for it there.
    with host.signed_in(user="dash-kb") as agent:
        wait_for(lambda: old["number"] in agent.get(f"/api/tickets/{new['number']}/similar").text,
                 timeout=60, interval=0.5, what="the resolved ticket in the similar list")
    page.goto(f"/api/agent#/ticket/{new['number']}")
    similar = page.locator("section.similar")
    expect(similar.locator(".similar-tickets")).to_contain_text(f"#{old['number']}")
    expect(similar.locator(".similar-articles")).to_contain_text(f"Tunnel {tag} drops: update the client")
    assert page.locator("[data-action=promote]").count() == 0
    assert axe_violations(page) == []
    similar.get_by_role("link", name=re.compile(f"#{old['number']}")).click()
    expect(page.locator("h1")).to_contain_text(old["subject"])
    no_errors(page)


def test_the_portal_links_to_the_help_articles(page: Page):
    page.goto("/api/portal")
    page.get_by_role("link", name="Search help articles").click()
    expect(page.get_by_role("heading", name="Help articles")).to_be_visible()
