"""Reports and the knowledge base over HTTP on the running host."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import wait_for


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_the_summary_counts_a_new_ticket_once_its_event_is_handled(host: RunningHost):
    with host.signed_in(roles="supervisor", user="sup1", email="sup1@example.com") as sup:
        params = {"from": today(), "to": today()}
        before = sup.get("/api/reports/summary", params=params).json()["totals"]["created"]
        with host.client() as anonymous:
            number = anonymous.post("/api/tickets", json={
                "name": "R", "email": unique_email("rep"), "subject": "count me",
                "description": "d"}).json()["number"]
        wait_for(lambda: sup.get("/api/reports/summary", params=params).json()["totals"]["created"] > before,
                 timeout=30, what="the summary to count the new ticket")
        by_channel = sup.get("/api/reports/summary", params={**params, "group": "channel"}).json()
        assert "web" in [g["key"] for g in by_channel["groups"]]
        exported = sup.get("/api/reports/tickets.csv", params=params)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert "attachment" in exported.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert number in [r["number"] for r in rows]


def test_a_bad_range_is_a_422_with_the_field(host: RunningHost):
    with host.signed_in(roles="supervisor", user="sup1", email="sup1@example.com") as sup:
        first = datetime.now(UTC).date()
        r = sup.get("/api/reports/summary", params={"from": first.isoformat(),
                                                    "to": (first - timedelta(days=1)).isoformat()})
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        r = sup.get("/api/reports/summary", params={"from": "yesterday", "to": today()})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"



def test_reports_without_a_range_cover_the_last_30_days_and_say_so(host: RunningHost):
    """The first obvious call, with no `from` or `to`, answers, and says which days."""
    last = datetime.now(UTC).date()
    first = last - timedelta(days=29)
    with host.signed_in(roles="supervisor", user="sup1", email="sup1@example.com") as sup:
        with host.client() as anonymous:
            number = anonymous.post("/api/tickets", json={
                "name": "R", "email": unique_email("rep30"), "subject": "in the default range",
                "description": "d"}).json()["number"]
        r = sup.get("/api/reports/summary")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["from"], body["to"], body["default_range"]) == (
            first.isoformat(), last.isoformat(), True)
        assert len(body["created_resolved_per_day"]) == 30
        assert "default range" in body["range"] and "default range" in r.headers["X-Report-Range"]
        asked = sup.get("/api/reports/summary", params={"from": today(), "to": today()}).json()
        assert asked["default_range"] is False and "as asked" in asked["range"]
        only_to = sup.get("/api/reports/summary", params={"to": today()}).json()
        assert (only_to["from"], only_to["default_range"]) == (first.isoformat(), True)

        exported = sup.get("/api/reports/tickets.csv")
        assert exported.status_code == 200, exported.text
        assert f"tickets-{first.isoformat()}-{last.isoformat()}.csv" in \
            exported.headers["content-disposition"]
        assert "default range" in exported.headers["X-Report-Range"]
        assert number in [row["number"] for row in csv.DictReader(io.StringIO(exported.text))]

def test_public_articles_are_found_without_signing_in_and_shown_as_text(host: RunningHost):
    tag = "zq" + uuid.uuid4().hex[:8]
    with host.signed_in() as agent:
        public = agent.post("/api/kb/articles", json={
            "title": f"Reset {tag} <script>alert(1)</script>", "body": "Step <b>one</b>",
            "public": True}).json()
        internal = agent.post("/api/kb/articles", json={
            "title": f"Internal {tag} runbook", "body": "staff only"}).json()
        assert agent.get("/api/kb/search", params={"q": tag}).json()["items"][0]["id"] in (
            public["id"], internal["id"])
    with host.client() as anonymous:
        suggested = anonymous.get("/api/kb/suggest", params={"q": tag}).json()["items"]
        assert [s["id"] for s in suggested] == [public["id"]]
        page = anonymous.get("/api/help", params={"q": tag})
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
        article = anonymous.get(f"/api/help/{public['id']}")
        assert "Step &lt;b&gt;one&lt;/b&gt;" in article.text
        assert anonymous.get(f"/api/help/{internal['id']}").status_code == 404
        assert anonymous.post("/api/kb/articles", json={"title": "x", "body": "y"}).status_code == 401
