"""A requester's data over HTTP on a host with an Azurite of its own: the export (the
admin's and the requester's own, from the portal) holds their requests, the public
thread only, their files and ratings; after an erasure the address and the name are
found nowhere in the storage account (every table, blob container and queue, listed, not
named), while the tickets are still counted in the reports."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from tests.conftest import LocalServices
from tests.e2e.conftest import RunningHost, host_of_its_own
from tests.e2e.test_portal import csrf_of, open_portal
from tests.support import email_message, wait_for


@pytest.fixture(scope="module")
def own_host(test_services: LocalServices, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[RunningHost]:
    workdir = tmp_path_factory.mktemp("requester-data")
    with host_of_its_own(test_services, workdir) as running:
        yield running


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def act(host: RunningHost, number: str, action: str, body: dict) -> None:
    with host.signed_in() as agent:
        r = agent.post(f"/api/tickets/{number}/{action}", json=body)
        assert r.status_code == 200, r.text


def created_count(host: RunningHost) -> int:
    with host.signed_in(roles="supervisor", user="sup1", email="sup1@example.com") as sup:
        return sup.get("/api/reports/summary", params={"from": today(), "to": today()}
                       ).json()["totals"]["created"]


def found_in_storage(connection: str, needles: list[str]) -> list[str]:
    """Where in the whole storage account any of `needles` occurs (case-insensitive): every
    table's every entity (keys and values), every container's every blob, every queue's
    waiting messages (decoded from base64)."""
    wanted = [n.lower() for n in needles]
    hits: list[str] = []

    def look(where: str, text: str) -> None:
        low = text.lower()
        hits.extend(f"{where}: {n}" for n in wanted if n in low)

    with TableServiceClient.from_connection_string(connection) as tables:
        for table in tables.list_tables():
            client = tables.get_table_client(table.name)
            for entity in client.list_entities():
                look(f"table {table.name} {entity['PartitionKey']}/{entity['RowKey']}",
                     json.dumps({**entity}, default=str, ensure_ascii=False))
    with BlobServiceClient.from_connection_string(connection) as blobs:
        for container in blobs.list_containers():
            client = blobs.get_container_client(container.name)
            for blob in client.list_blobs(include=["metadata"]):
                data = client.download_blob(blob.name).readall()
                look(f"blob {container.name}/{blob.name}",
                     data.decode("utf-8", "replace") + json.dumps(blob.metadata or {}))
    with QueueServiceClient.from_connection_string(connection) as queues:
        for queue in queues.list_queues():
            for message in queues.get_queue_client(queue.name).peek_messages(max_messages=32):
                text = message.content
                try:
                    text += base64.b64decode(text).decode("utf-8", "replace")
                except ValueError:
                    pass
                look(f"queue {queue.name}", text)
    return hits


def settled(host: RunningHost, numbers: list[str]) -> None:
    """Every event of these tickets handled (their word rows, the reports, the emails)."""
    def done() -> bool:
        with QueueServiceClient.from_connection_string(host.storage) as queues:
            waiting = queues.get_queue_client("ticket-events").get_queue_properties()
            return waiting.approximate_message_count == 0
    wait_for(done, timeout=60, interval=0.5, what="the ticket events to be handled")


@pytest.fixture(scope="module")
def requester(own_host: RunningHost) -> dict:
    """A requester with two tickets: a file, an agent's answer and an internal note that
    name them, a portal message, a resolution they rated; one ticket closed."""
    tag = uuid.uuid4().hex[:8]
    email = f"Quinta.Erasmus.{tag}@Example.org"
    name = f"Quinta Erasmus{tag}"
    host = own_host
    with host.client() as client:
        files = [("attachments", ("details.txt", f"From {name} <{email}>\n".encode(), "text/plain"))]
        r = client.post("/api/tickets", data={
            "name": name, "email": email, "subject": f"Printer of {name} jams",
            "description": f"Please call me, {name}, at {email}.", "priority": "normal",
            "category": "hardware"}, files=files)
        assert r.status_code == 201, r.text
        first = r.json()["number"]
        r = client.post("/api/tickets", json={
            "name": name, "email": email.upper(), "subject": "VPN drops",
            "description": "It drops every hour."})
        assert r.status_code == 201, r.text
        second = r.json()["number"]
    with host.signed_in(roles="agent,admin") as admin:
        key = admin.post("/api/apikeys", json={"name": "mx", "scopes": ["email"]}).json()["key"]
    mail = email_message(email, f"Mail from {name}", f"Regards, {name}", name=name)
    mail.add_alternative(f"<p>Regards, <b>{name}</b> &lt;{email}&gt;</p>", subtype="html")
    with host.client() as client:
        r = client.post("/api/tickets.email", content=bytes(mail), headers={
            "X-API-Key": key, "content-type": "message/rfc822", "Accept": "application/json"})
        assert r.status_code == 201, r.text
        third = r.json()["number"]
    act(host, first, "reply", {"body": f"Hello {name}, could you try again?"})
    act(host, first, "note", {"body": f"Internal: {email} called twice."})
    with open_portal(host, first, email.lower()) as portal:
        page = portal.get("/api/portal/ticket").text
        r = portal.post("/api/portal/ticket/reply", data={
            "body": f"Still jams. {name}", "csrf": csrf_of(page)},
            files=[("attachments", ("photo.txt", f"photo by {email}".encode(), "text/plain"))])
        assert r.status_code == 303, r.text
        act(host, first, "resolve", {"resolution": f"Cleaned the rollers for {name}."})
        page = portal.get("/api/portal/ticket").text
        r = portal.post("/api/portal/ticket/rating", data={
            "solved": "yes", "comment": f"Thanks, {name}", "csrf": csrf_of(page)})
        assert r.status_code == 303, r.text
        act(host, second, "resolve", {"resolution": "Replaced the router."})
        act(host, second, "close", {})
        settled(host, [first, second, third])
        export = portal.get("/api/portal/export")
        refused = portal.get("/api/portal/export", params={"email": "someone@example.org"})
    return {"email": email, "name": name, "numbers": [first, second, third], "portal_export": export,
            "portal_refused": refused}


def unzip(response: httpx.Response) -> dict[str, bytes]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def check_export(files: dict[str, bytes], requester: dict) -> None:
    first, second, third = requester["numbers"]
    listed = json.loads(files["requester.json"])
    assert sorted(listed["tickets"]) == sorted([first, second, third])
    ticket = json.loads(files[f"tickets/{first}.json"])
    texts = [e["text"] for e in ticket["thread"]]
    assert any(f"Hello {requester['name']}" in t for t in texts)  # the agent's answer
    assert any("Still jams." in t for t in texts)  # the portal message
    assert not any("Internal:" in t for t in texts)  # never the internal note
    assert not any(e["kind"] in ("note", "email_sent", "assigned") for e in ticket["thread"])
    assert ticket["rating"]["solved"] is True and requester["name"] in ticket["rating"]["comment"]
    ratings = json.loads(files["ratings.json"])
    assert [r["ticket"] for r in ratings] == [first]
    paths = [f["path"] for e in ticket["thread"] for f in e["files"]]
    assert len(paths) == 2
    assert sorted(files[p] for p in paths) == sorted([
        f"From {requester['name']} <{requester['email']}>\n".encode(),
        f"photo by {requester['email']}".encode()])
    assert json.loads(files[f"tickets/{second}.json"])["status"] == "closed"
    assert "Regards" in json.loads(files[f"tickets/{third}.json"])["description"]


def test_an_admin_exports_a_requesters_tickets_thread_files_and_ratings(own_host: RunningHost,
                                                                       requester: dict):
    with own_host.signed_in(roles="admin", user="admin1", email="admin1@example.com") as admin:
        files = unzip(admin.post("/api/requesters/export", json={"email": requester["email"]}))
        check_export(files, requester)
        assert admin.post("/api/requesters/export", json={"email": "not an address"}).status_code == 422
    with own_host.signed_in(roles="agent,supervisor") as agent:
        assert agent.post("/api/requesters/export",
                          json={"email": requester["email"]}).status_code == 403


def test_the_requester_downloads_their_own_export_and_no_one_elses(requester: dict):
    check_export(unzip(requester["portal_export"]), requester)
    refused = requester["portal_refused"]
    assert refused.status_code == 400
    assert "PK" not in refused.text[:2]


def test_after_an_erasure_the_address_and_name_are_nowhere_and_the_tickets_still_count(
        own_host: RunningHost, requester: dict):
    email, name = requester["email"], requester["name"]
    needles = [email, email.lower(), email.upper(), name]
    before = found_in_storage(own_host.storage, needles)
    # Where the test put them: tickets, index and word rows, the search log, files, the
    # received email as it came and its HTML, the per-address limits.
    for place in ("table tickets ", "table ticketrequesters ", "table ticketsearch ",
                  "table ticketindex ", "table ticketclosed ", "table ratelimits ",
                  "blob search/resolved/", "blob attachments/raw/", "blob attachments/html/"):
        assert any(hit.startswith(place) for hit in before), (place, before)
    counted = created_count(own_host)
    assert counted >= 3
    with own_host.signed_in(roles="admin", user="admin1", email="admin1@example.com") as admin:
        wrong = admin.post("/api/requesters/erase", json={"email": email, "confirm": "other@x.org"})
        assert wrong.status_code == 422
        r = admin.post("/api/requesters/erase", json={"email": email, "confirm": email.lower()})
        assert r.status_code == 202, r.text
        job = r.json()
        assert email.lower() not in r.text.lower() and r.headers["location"].endswith(job["id"])
        status = wait_for(lambda: (s := admin.get(f"/api/requesters/erasures/{job['id']}").json())
                          ["state"] == "done" and s, timeout=60, interval=0.5,
                          what="the erasure to finish")
        assert status["tickets"] == 3 and "tickets" in status["steps_done"]
        view = admin.get(f"/api/tickets/{requester['numbers'][0]}").json()
        # The audit log has the request (HTTP layer) and the job's own entry, by id only.
        audit = admin.get("/api/audit", params={"target": job["id"]}).json()["entries"]
        assert sorted((e["route"], e["actor"]["id"]) for e in audit) == [
            ("/api/requesters/erase", "admin1"), ("erasure", "admin1")]
        done = next(e for e in audit if e["route"] == "erasure")
        assert "3 tickets" in done["summary"] and status["replacement"] in done["summary"]
        requests = admin.get("/api/audit", params={"route": "/api/requesters/erase"}).json()["entries"]
        assert {e["status"] for e in requests} >= {202, 422}
    assert found_in_storage(own_host.storage, needles) == []
    assert created_count(own_host) == counted
    assert view["ticket"]["requester_name"] == "Erased requester"
    assert view["ticket"]["requester_email"] == status["replacement"]
    assert view["ticket"]["requester_email"].endswith("@erased.invalid")
    assert not view["attachments"]  # the requester's files are gone
    assert any(e["kind"] == "reply" and "Erased requester" in e["body"] for e in view["thread"])


def test_an_unknown_erasure_is_404(own_host: RunningHost, tmp_path: Path):
    with own_host.signed_in(roles="admin", user="admin1", email="admin1@example.com") as admin:
        assert admin.get(f"/api/requesters/erasures/{uuid.uuid4().hex}").status_code == 404
        assert admin.get("/api/requesters/erasures/not-an-id").status_code == 404
