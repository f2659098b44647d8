"""A category's own fields, through the running host: defined by an admin, filled in on the
web form (without JavaScript: the second step), the JSON API and osTicket's API, refused
by name when bad, edited by agents under If-Match, tested by rules, filtered on by queues,
exported as CSV columns, and kept when their definitions change."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost

TAG = uuid.uuid4().hex[:6]
CATEGORY = f"fx-{TAG}"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

FIELDS = [
    {"id": "os", "label": "Operating system", "type": "choice", "required": True,
     "choices": ["Windows", "macOS", "Linux"]},
    {"id": "apps", "label": "Affected apps", "type": "multi-choice",
     "choices": ["Mail", "Chat", "Files"]},
    {"id": "seats", "label": "Seats", "type": "number"},
    {"id": "since", "label": "Broken since", "type": "date"},
    {"id": "serial", "label": "Serial number", "type": "text"},
    {"id": "agree", "label": "You may restart my machine", "type": "checkbox"},
    {"id": "asset", "label": "Asset tag", "type": "text", "visibility": "agents"},
]


@pytest.fixture(scope="module")
def admin(host: RunningHost) -> Iterator[httpx.Client]:
    with host.signed_in(roles="agent,supervisor,admin") as client:
        r = client.put(f"/api/directory/categories/{CATEGORY}",
                       json={"name": f"Laptops {TAG}", "fields": FIELDS})
        assert r.status_code == 200, r.text
        r = client.put(f"/api/directory/rules/fx-linux-{TAG}", json={
            "name": "Linux laptops", "on": ["intake", "update"], "conditions": [
                {"field": "category", "op": "equals", "value": CATEGORY},
                {"field": "field.os", "op": "equals", "value": "linux"}],
            "actions": [{"type": "add_tag", "value": f"linux-{TAG}"}]})
        assert r.status_code == 200, r.text
        yield client
        client.delete(f"/api/directory/rules/fx-linux-{TAG}")
        client.delete(f"/api/directory/categories/{CATEGORY}")


def submit(host: RunningHost, fields: dict, email: str | None = None) -> httpx.Response:
    with host.client() as client:
        return client.post("/api/tickets", json={
            "name": "Lin", "email": email or unique_email("fx"), "subject": "Laptop broken",
            "description": "It will not boot.", "category": CATEGORY, "fields": fields})


def test_an_admin_defines_fields_and_bad_definitions_are_named(admin: httpx.Client):
    listed = admin.get("/api/directory/categories").json()
    mine = next(c for c in listed if c["id"] == CATEGORY)
    assert [f["id"] for f in mine["fields"]] == [f["id"] for f in FIELDS]
    r = admin.put(f"/api/directory/categories/bad-{TAG}", json={"name": "Bad", "fields": [
        {"id": "os", "label": "OS", "type": "choice"},
        {"id": "Not An Id", "label": "x", "type": "text"}]})
    assert r.status_code == 422
    named = {e["field"] for e in r.json()["errors"]}
    assert {"fields.0", "fields.1.id"} <= named


def test_the_api_takes_the_fields_and_agents_see_them(host: RunningHost, admin: httpx.Client):
    email = unique_email("fx")
    r = submit(host, {"os": "linux", "apps": ["Chat", "Mail"], "seats": "3",
                      "since": "2026-11-30", "serial": "SN-9", "agree": True}, email)
    assert r.status_code == 201, r.text
    assert "fields" not in r.json()
    ticket = admin.get(f"/api/tickets/{r.json()['number']}").json()["ticket"]
    assert ticket["fields"] == {"os": "Linux", "apps": ["Mail", "Chat"], "seats": 3,
                                "since": "2026-11-30", "serial": "SN-9", "agree": True}
    assert f"linux-{TAG}" in ticket["tags"]  # the intake rule tested a field


def test_validation_names_each_bad_field_and_stores_nothing(host: RunningHost,
                                                            admin: httpx.Client):
    email = unique_email("fx")
    r = submit(host, {"apps": ["Fax"], "seats": "lots", "since": "30.11.2026",
                      "asset": "A-1", "colour": "red"}, email)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    named = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(named) == {"fields.os", "fields.apps", "fields.seats", "fields.since",
                          "fields.asset", "fields.colour"}
    assert named["fields.os"] == "Operating system is required"
    # An agent-only field is refused as any unknown one is: a requester learns nothing.
    assert named["fields.asset"] == named["fields.colour"]
    assert host.tickets_of(email) == []


def test_osticket_api_takes_fields_as_top_level_keys(host: RunningHost, admin: httpx.Client):
    key = admin.post("/api/apikeys", json={"name": f"fx {TAG}", "scopes": ["tickets"]}
                     ).json()["key"]
    ost = {"name": "Ann", "email": unique_email("fx-ost"), "subject": "Dock", "message": "Dead",
           "topicId": "10"}
    with host.signed_in(roles="agent,admin") as other_admin:
        original = next(c for c in other_admin.get("/api/directory/categories").json()
                        if c["id"] == "access")
        r = other_admin.put("/api/directory/categories/access",
                            json={**original, "fields": FIELDS[2:]})
        assert r.status_code == 200, r.text
        try:
            with host.client() as client:
                ok = client.post("/api/tickets.json", headers={"X-API-Key": key},
                                 json={**ost, "seats": "7", "asset": "A-42"})
                bad = client.post("/api/tickets.json", headers={"X-API-Key": key},
                                  json={**ost, "seats": "seven", "shoe_size": "44"})
        finally:
            other_admin.put("/api/directory/categories/access", json=original)
        assert ok.status_code == 201, ok.text
        stored = other_admin.get(f"/api/tickets/{ok.text.strip()}").json()["ticket"]
        assert stored["fields"] == {"seats": 7, "asset": "A-42"}
    assert bad.status_code == 422
    assert "fields.seats" in bad.text and "fields.shoe_size" in bad.text


def test_agents_edit_fields_under_if_match(host: RunningHost, admin: httpx.Client):
    number = submit(host, {"os": "Windows", "seats": 2}).json()["number"]
    first = admin.get(f"/api/tickets/{number}")
    etag = first.headers["ETag"]
    r = admin.post(f"/api/tickets/{number}/change", headers={"If-Match": etag},
                   json={"fields": {"os": "Linux", "seats": None, "asset": "A-7"}})
    assert r.status_code == 200, r.text
    ticket = r.json()["ticket"]
    assert ticket["fields"] == {"os": "Linux", "asset": "A-7"}
    assert f"linux-{TAG}" in ticket["tags"]  # the update rule saw the new value
    entry = r.json()["thread"][-1]
    assert entry["kind"] == "changed" and entry["public"] is False
    assert entry["data"]["fields"] == {"os": {"from": "Windows", "to": "Linux"},
                                       "seats": {"from": 2, "to": None},
                                       "asset": {"from": None, "to": "A-7"}}
    # The version read before is stale now: nothing is overwritten.
    stale = admin.post(f"/api/tickets/{number}/change", headers={"If-Match": etag},
                       json={"fields": {"serial": "X"}})
    assert stale.status_code == 412
    bad = admin.post(f"/api/tickets/{number}/change", headers={"If-Match": r.headers["ETag"]},
                     json={"fields": {"os": None, "since": "yesterday"}})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"fields.os", "fields.since"}
    assert admin.get(f"/api/tickets/{number}").headers["ETag"] == r.headers["ETag"]


def test_changing_definitions_never_loses_stored_values(host: RunningHost, admin: httpx.Client):
    number = submit(host, {"os": "macOS", "serial": "SN-1", "apps": ["Files"]}).json()["number"]
    changed = [dict(f, label=f["label"] + " (renamed)") for f in FIELDS if f["id"] != "serial"]
    changed[0]["choices"] = ["Windows", "Linux"]  # macOS is no longer offered
    assert admin.put(f"/api/directory/categories/{CATEGORY}",
                     json={"name": f"Laptops {TAG}", "fields": changed}).status_code == 200
    try:
        view = admin.get(f"/api/tickets/{number}")
        assert view.json()["ticket"]["fields"] == {"os": "macOS", "serial": "SN-1",
                                                   "apps": ["Files"]}
        # Editing another field keeps the retired value and the choice no longer offered.
        r = admin.post(f"/api/tickets/{number}/change", headers={"If-Match": view.headers["ETag"]},
                       json={"fields": {"seats": 1}})
        assert r.status_code == 200, r.text
        assert r.json()["ticket"]["fields"] == {"os": "macOS", "serial": "SN-1",
                                                "apps": ["Files"], "seats": 1}
        # A retired value can be cleared, not set.
        again = admin.post(f"/api/tickets/{number}/change", json={"fields": {"serial": "SN-2"}})
        assert again.status_code == 422
        cleared = admin.post(f"/api/tickets/{number}/change", json={"fields": {"serial": None}})
        assert "serial" not in cleared.json()["ticket"]["fields"]
    finally:
        admin.put(f"/api/directory/categories/{CATEGORY}",
                  json={"name": f"Laptops {TAG}", "fields": FIELDS})


def test_queues_filter_on_choice_fields_and_the_export_has_a_column_per_field(
        host: RunningHost, admin: httpx.Client):
    linux = submit(host, {"os": "Linux", "apps": ["Chat"], "serial": "=cmd()"}).json()["number"]
    windows = submit(host, {"os": "Windows", "apps": ["Mail", "Chat"]}).json()["number"]
    found = admin.get("/api/tickets", params={"category": CATEGORY, "field.os": "linux"}).json()
    numbers = [i["number"] for i in found["items"]]
    assert linux in numbers and windows not in numbers
    both = admin.get("/api/tickets", params={"category": CATEGORY, "field.apps": "Chat",
                                             "sort": "updated"}).json()
    assert {linux, windows} <= {i["number"] for i in both["items"]}
    paged = admin.get("/api/tickets", params={"category": CATEGORY, "field.apps": "Chat",
                                              "limit": 1}).json()
    assert len(paged["items"]) == 1 and paged["continuation"]
    rest = admin.get("/api/tickets", params={"category": CATEGORY, "field.apps": "Chat",
                                             "limit": 1, "continuation": paged["continuation"]})
    assert rest.status_code == 200 and rest.json()["items"][0]["number"] != paged["items"][0]["number"]
    assert admin.get("/api/tickets", params={"field.Bad Id": "x"}).status_code == 422

    export = admin.get("/api/reports/tickets.csv")
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {f"field.{f['id']}" for f in FIELDS} <= set(rows[0])
    mine = next(r for r in rows if r["number"] == linux)
    assert (mine["field.os"], mine["field.apps"], mine["field.serial"]) == \
        ("Linux", "Chat", "'=cmd()")
    assert next(r for r in rows if r["number"] == windows)["field.apps"] == "Mail, Chat"


def test_the_form_without_javascript_shows_the_fields_in_a_second_step(host: RunningHost,
                                                                       admin: httpx.Client):
    email = unique_email("fx-form")
    typed = {"name": "Lin", "email": email, "subject": "Screen", "description": "Flickers.",
             "category": CATEGORY}
    with host.client() as client:
        first = client.get("/api/form").text
        # Every category's requester fields are on the page, the others' hidden and off.
        assert re.search(rf'data-category="{CATEGORY}" hidden disabled', first)
        assert "Asset tag" not in first  # agents only
        step = client.post("/api/tickets", headers=HTML, data={**typed, "step": "fields"})
        assert step.status_code == 200 and host.tickets_of(email) == []
        assert re.search(rf'data-category="{CATEGORY}">', step.text)
        assert 'value="Flickers."' not in step.text and "Flickers." in step.text
        missing = client.post("/api/tickets", headers=HTML, data=typed)
        assert missing.status_code == 422
        assert "Operating system is required" in missing.text
        done = client.post("/api/tickets", headers=HTML, data={
            **typed, "field.os": "Linux", "field.apps": ["Mail", "Files"], "field.agree": "yes",
            "field.since": "2026-12-01"})
    assert done.status_code == 201, done.text
    number = re.search(r'id="ticket-number">(\d{8})<', done.text).group(1)
    fields = admin.get(f"/api/tickets/{number}").json()["ticket"]["fields"]
    assert fields == {"os": "Linux", "apps": ["Mail", "Files"], "agree": True,
                      "since": "2026-12-01"}


def test_closed_tickets_keep_their_fields_in_the_closed_queue_and_the_export(
        host: RunningHost, admin: httpx.Client):
    number = submit(host, {"os": "Linux", "apps": ["Files"]}).json()["number"]
    assert admin.post(f"/api/tickets/{number}/resolve",
                      json={"resolution": "Reinstalled."}).status_code == 200
    assert admin.post(f"/api/tickets/{number}/close", json={}).status_code == 200
    closed = admin.get("/api/tickets", params={"status": "closed", "field.apps": "files",
                                               "limit": 200}).json()
    assert number in [i["number"] for i in closed["items"]]
    other = admin.get("/api/tickets", params={"status": "closed", "field.apps": "Mail",
                                              "limit": 200}).json()
    assert number not in [i["number"] for i in other["items"]]
    rows = list(csv.DictReader(io.StringIO(admin.get("/api/reports/tickets.csv").text)))
    mine = next(r for r in rows if r["number"] == number)
    assert (mine["status"], mine["field.os"], mine["field.apps"]) == ("closed", "Linux", "Files")


def test_the_rules_dry_run_takes_fields(admin: httpx.Client):
    sample = {"email": "x@example.org", "subject": "s", "description": "d",
              "category": CATEGORY, "fields": {"os": "Linux", "asset": "A-1"}}
    fired = admin.post("/api/rules/test", json=sample)
    assert fired.status_code == 200, fired.text
    assert f"fx-linux-{TAG}" in fired.json()["fired"]
    bad = admin.post("/api/rules/test", json={**sample, "fields": {"os": "BeOS"}})
    assert bad.status_code == 422 and "fields.os" in bad.text
