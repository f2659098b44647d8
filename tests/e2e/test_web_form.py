"""The public web form, as a browser without JavaScript uses it: a plain HTML post."""

from __future__ import annotations

import re

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_the_root_leads_to_a_form_that_posts_to_intake(host: RunningHost):
    with host.client() as client:
        root = client.get("/", follow_redirects=True)
    assert root.status_code == 200 and root.url.path == "/api/form"
    page = root.text
    assert '<form method="post" action="/api/tickets" enctype="multipart/form-data"' in page
    for field in ("name", "email", "subject", "description", "priority", "category",
                  "attachments"):
        assert f'name="{field}"' in page
    assert '<option value="hardware"' in page and '<option value="urgent"' in page


def test_a_form_post_shows_the_ticket_number(host: RunningHost):
    email = unique_email("form")
    form = {"name": "Lin", "email": email, "subject": "Mouse", "description": "Broken.",
            "priority": "low", "category": "hardware"}
    with host.client() as client:
        response = client.post("/api/tickets", data=form, headers=HTML,
                               files=[("attachments", ("", b"", "application/octet-stream"))])
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("text/html")
    number = re.search(r'id="ticket-number">(\d{8})<', response.text).group(1)
    assert {e["PartitionKey"] for e in host.tickets_of(email)} == {number}


def test_a_bad_form_post_shows_readable_errors_and_keeps_what_was_typed(host: RunningHost):
    email = unique_email("form")
    form = {"name": "<script>alert(1)</script>", "email": email, "subject": "",
            "description": "Kept text", "priority": "normal", "category": "general"}
    with host.client() as client:
        response = client.post("/api/tickets", data=form, headers=HTML)
    assert response.status_code == 422
    assert "Your request was not sent." in response.text
    assert "subject" in response.text and "Kept text" in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text
    assert host.tickets_of(email) == []


def test_the_same_form_page_sent_twice_makes_one_ticket(host: RunningHost):
    """A double click or a refresh that posts again: the page's own key makes it one ticket."""
    with host.client() as client:
        page = client.get("/api/form").text
        key = re.search(r'name="submission_id" value="([0-9a-f]{32})"', page).group(1)
        assert key not in client.get("/api/form").text  # every page shown has its own
        email = unique_email("twice")
        form = {"name": "Lin", "email": email, "subject": "Twice", "description": "Clicked twice.",
                "submission_id": key}
        first, second = (client.post("/api/tickets", data=form, headers=HTML) for _ in range(2))
    numbers = {re.search(r'id="ticket-number">(\d{8})<', r.text).group(1) for r in (first, second)}
    assert first.status_code == second.status_code == 201 and len(numbers) == 1
    assert {e["PartitionKey"] for e in host.tickets_of(email)} == numbers
