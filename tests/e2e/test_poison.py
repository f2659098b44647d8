"""A notification that keeps failing ends in the poison queue, where an admin sees it and
replays it once the cause is gone; the replay sends exactly one email."""

from __future__ import annotations

import base64
import contextlib
import json

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from tests.conftest import unique_email
from tests.e2e.conftest import RunningHost
from tests.support import MailDev, wait_for


def test_a_poisoned_event_is_listed_and_replayed(host: RunningHost, maildev: MailDev):
    requester = unique_email("poison")
    with host.client() as client:
        number = client.post("/api/tickets", json={
            "name": "P", "email": requester, "subject": "s", "description": "d"}).json()["number"]
    maildev.wait_to(requester)
    # The message the host gave up on: the same event, parked in the poison queue.
    event = json.dumps({"ticket": number, "seq": 1, "kind": "created", "indexed": True})
    poison = QueueClient.from_connection_string(host.storage, "ticket-events-poison")
    with contextlib.suppress(ResourceExistsError):  # the host made it already
        poison.create_queue()
    poison.send_message(base64.b64encode(event.encode()).decode())

    with host.signed_in(roles="agent,admin") as admin:
        listed = admin.get("/api/poison/ticket-events").json()
        mine = [m for m in listed if json.loads(m["body"])["ticket"] == number]
        assert len(mine) == 1
        assert admin.get("/api/poison/nope").status_code == 404
        r = admin.post("/api/poison/ticket-events/replay", json={"ids": [mine[0]["id"]]})
        assert r.status_code == 200 and r.json()["replayed"] == [mine[0]["id"]]

        def gone():
            return not [m for m in admin.get("/api/poison/ticket-events").json()
                        if json.loads(m["body"])["ticket"] == number]
        wait_for(gone, what="the replayed message to leave the poison queue")
    # Handled again, but the acknowledgement was sent already: still one email.
    import time
    time.sleep(2)
    assert len(maildev.to(requester)) == 1
