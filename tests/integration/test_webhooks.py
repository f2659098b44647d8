"""Outbound webhooks end to end below HTTP: a real ticket, the fan-out, the
`webhook-deliveries` queue on Azurite (visibility timeouts as the backoff, shortened here),
and a real HTTP receiver on loopback that checks signatures as docs/webhooks.md tells
receivers to, and answers 500, stalls past the timeout, is down, or takes it, on demand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from shared.core.errors import ValidationFailed
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.core.models import EntryKind
from shared.core.settings import Settings, WebhookSettings
from shared.core.webhooks import DeliveryMessage, EndpointSpec, verify
from shared.helpdesk import Helpdesk
from shared.notifications.notify import handle_escalation, handle_event
from shared.storage.webhooks import DeliveryQueue, WebhookStore
from shared.tickets import actionbodies, intake, workflow
from shared.webhooks import delivery, endpoints
from shared.webhooks.sender import WebhookSender
from tests.conftest import LocalServices, app_env, unique_email
from tests.support import LocalDns

TOLERANCE = 300


@dataclass
class Receiver:
    """A webhook receiver as docs/webhooks.md describes one: it checks the signature over
    `<t>.<body>`, refuses a timestamp more than 5 minutes off its clock, and takes each
    event id once. `mode` is what it does next: "ok", "fail" (500) or "stall"."""

    secret: str = ""
    mode: str = "ok"
    clock_skew: int = 0  # seconds added to the receiver's clock
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    port: int = 0
    _runner: web.AppRunner | None = None

    def check(self, headers: dict[str, str], body: bytes) -> str | None:
        """Why the request is refused, or None: the documented check, written out here."""
        fields = dict(p.split("=", 1) for p in headers.get("X-Helpdesk-Signature", "").split(","))
        t = int(fields.get("t", "0"))
        mac = hmac.new(self.secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, fields.get("v1", "")):
            return "bad signature"
        if abs(time.time() + self.clock_skew - t) > TOLERANCE:
            return "timestamp outside tolerance"
        event_id = json.loads(body).get("id") or headers.get("X-Helpdesk-Event-Id")
        if event_id in self.seen:
            return "already processed"
        return None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        self.requests.append((headers, body))
        if self.mode == "fail":
            return web.Response(status=500)
        if self.mode == "stall":
            await asyncio.sleep(5)
            return web.Response(status=200)
        why = self.check(headers, body)
        if why:
            self.rejected.append(why)
            return web.Response(status=400, text=why)
        self.seen.add(headers["X-Helpdesk-Event-Id"])
        self.accepted.append(json.loads(body))
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


async def _desk(test_services: LocalServices, *, local: bool = True) -> Helpdesk:
    """A desk whose webhook table and queue are the test's own, retries 1 s apart and a
    2 s timeout; `local=False` is the desk as it runs on Azure."""
    settings = Settings.from_env(app_env(test_services)).model_copy(update={
        "local": local, "webhooks": WebhookSettings(retry_delays=(1, 1, 1, 1, 1), timeout_seconds=2)})
    started = await Helpdesk.start(settings)
    tag = uuid.uuid4().hex[:8]
    table = started.clients.table(f"itwebhooks{tag}")
    await started.clients.tables.create_table(f"itwebhooks{tag}")
    queue = started.clients.queue(f"it-webhooks-{tag}")
    await queue.create_queue()
    await started.webhook_sender.close()
    return dataclasses.replace(
        started, webhooks=WebhookStore(table), webhook_deliveries=DeliveryQueue(queue),
        webhook_sender=WebhookSender(local=local, dns_server=settings.mail.dns_server,
                                     timeout=2))


@pytest.fixture
async def desk(test_services: LocalServices) -> AsyncIterator[Helpdesk]:
    started = await _desk(test_services)
    yield started
    await started.close()


async def pump(desk: Helpdesk, *, seconds: float, until: Any = None,
               count: int | None = None) -> list[str]:
    """Run the queue function over the test's queue as the host would (messages as they
    become visible) for up to `seconds`, or until `until()` holds or `count` messages were
    handled; the outcomes."""
    queue = desk.webhook_deliveries._queue  # the test's own queue
    outcomes: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (until is not None and until()) or (count is not None and len(outcomes) >= count):
            break
        got = False
        wanted = 8 if count is None else max(1, count - len(outcomes))
        async for msg in queue.receive_messages(max_messages=wanted, visibility_timeout=30):
            got = True
            outcomes.append(await delivery.deliver(
                DeliveryMessage.model_validate_json(msg.content), desk=desk))
            await queue.delete_message(msg)
        if not got:
            await asyncio.sleep(0.3)
    return outcomes


async def _ticket(desk: Helpdesk, subject: str = "VPN down") -> Any:
    created = await intake.submit_ticket(
        {"name": "Ada Lovelace", "email": unique_email("hook"), "subject": subject,
         "description": "Since 9:00 nothing works."}, [], desk=desk)
    stored = await desk.tickets.get(created.number)
    assert stored is not None
    return stored


def _created(stored: Any) -> Any:
    return next(e for e in stored.thread if e.kind == EntryKind.CREATED)


async def _endpoint(desk: Helpdesk, url: str, **extra: Any) -> dict[str, Any]:
    spec = EndpointSpec.model_validate({"name": "CRM", "url": url,
                                        "events": ["ticket.created"], **extra})
    return await endpoints.create(spec, by="admin-1", desk=desk)


async def test_a_delivery_survives_receiver_downtime_and_arrives_once(desk: Helpdesk,
                                                                     receiver: Receiver):
    made = await _endpoint(desk, receiver.url)
    receiver.secret = made["signing_secret"]
    stored = await _ticket(desk)

    # The receiver is down: its port refuses connections.
    await receiver.stop()
    assert await delivery.fan_out(stored, _created(stored), desk=desk)
    outcomes = await pump(desk, seconds=10, count=1)
    # It is back but failing (500), then too slow to answer (2 s timeout), then well.
    await receiver.start()
    receiver.mode = "fail"
    outcomes += await pump(desk, seconds=10, count=1)
    receiver.mode = "stall"
    outcomes += await pump(desk, seconds=10, count=1)
    receiver.mode = "ok"
    outcomes += await pump(desk, seconds=10, count=1)
    assert outcomes == ["failed", "failed", "failed", "delivered"]
    assert receiver.accepted and len(receiver.requests) == 3

    # A second fan-out of the same event (its queue message delivered twice) and a
    # duplicate of the last message change nothing.
    assert await delivery.fan_out(stored, _created(stored), desk=desk) == []
    await desk.webhook_deliveries.publish(DeliveryMessage(
        endpoint=made["id"], event_id=receiver.accepted[0]["id"], attempt=4))
    assert await pump(desk, seconds=3) == ["stale"]

    [event] = receiver.accepted
    assert event["type"] == "ticket.created" and event["schema_version"] == 1
    assert event["id"] == f"{stored.ticket.number}-1-ticket.created"
    assert event["ticket"]["number"] == stored.ticket.number
    assert stored.ticket.requester_email not in json.dumps(event)
    assert "Ada" not in json.dumps(event)
    log = await endpoints.deliveries(made["id"], desk=desk)
    assert [(a["outcome"], a["code"]) for a in log["attempts"]] == [
        ("delivered", 204), ("failed", None), ("failed", 500), ("failed", None)]
    assert "within 2 s" in log["attempts"][1]["error"]
    assert log["parked"] == [] and log["retrying"] == []


async def test_two_messages_of_one_attempt_send_it_once(desk: Helpdesk, receiver: Receiver):
    made = await _endpoint(desk, receiver.url)
    receiver.secret = made["signing_secret"]
    receiver.mode = "stall"  # the first holds its lease while the second arrives
    stored = await _ticket(desk)
    await delivery.fan_out(stored, _created(stored), desk=desk)
    event_id = f"{stored.ticket.number}-1-ticket.created"
    message = DeliveryMessage(endpoint=made["id"], event_id=event_id)
    first = asyncio.create_task(delivery.deliver(message, desk=desk))
    await asyncio.sleep(0.5)
    assert await delivery.deliver(message, desk=desk) == "busy"
    assert await first == "failed"
    assert len(receiver.requests) == 1


async def test_parked_after_the_last_retry_and_replayed_by_an_admin(desk: Helpdesk,
                                                                   receiver: Receiver):
    made = await _endpoint(desk, receiver.url)
    receiver.secret = made["signing_secret"]
    receiver.mode = "fail"
    stored = await _ticket(desk)
    await delivery.fan_out(stored, _created(stored), desk=desk)
    outcomes = await pump(desk, seconds=20, count=6)
    outcomes += await pump(desk, seconds=2)
    assert outcomes == ["failed"] * 5 + ["parked"]
    assert len(receiver.requests) == 6
    log = await endpoints.deliveries(made["id"], desk=desk)
    [parked] = log["parked"]
    assert parked["attempts"] == 6 and parked["last_code"] == 500

    receiver.mode = "ok"
    replayed = await endpoints.replay(made["id"], parked["event_id"], desk=desk)
    assert replayed["round"] == 2 and replayed["state"] == "pending"
    assert await pump(desk, seconds=5, until=lambda: receiver.accepted) == ["delivered"]
    assert (await endpoints.deliveries(made["id"], desk=desk))["parked"] == []
    with pytest.raises(Exception, match="delivered"):
        await endpoints.replay(made["id"], parked["event_id"], desk=desk)


async def test_a_replayed_request_is_rejected_by_the_documented_check(desk: Helpdesk,
                                                                     receiver: Receiver):
    made = await _endpoint(desk, receiver.url)
    receiver.secret = made["signing_secret"]
    stored = await _ticket(desk)
    await delivery.fan_out(stored, _created(stored), desk=desk)
    await pump(desk, seconds=5, until=lambda: receiver.accepted)
    [(headers, body)] = receiver.requests
    assert verify(receiver.secret, headers["X-Helpdesk-Signature"], body, now=int(time.time()))
    sent = {k: v for k, v in headers.items() if k.lower().startswith(("x-helpdesk", "content-type"))}

    async with aiohttp.ClientSession() as client:
        async def again(headers: dict[str, str], body: bytes = body) -> tuple[int, str]:
            async with client.post(receiver.url, data=body, headers=headers) as answer:
                return answer.status, await answer.text()

        # The same request again, at once: its event id was processed.
        assert await again(sent) == (400, "already processed")
        # Captured and sent an hour later (the receiver's clock moved on).
        receiver.seen.clear()
        receiver.clock_skew = 3600
        assert await again(sent) == (400, "timestamp outside tolerance")
        assert not verify(receiver.secret, headers["X-Helpdesk-Signature"], body,
                          now=int(time.time()) + 3600)
        # A fresh timestamp on the old signature, or a changed body, does not verify.
        receiver.clock_skew = 0
        original, signature = headers["X-Helpdesk-Signature"].split(",")
        fresh = int(original.removeprefix("t=")) + 7
        assert await again({**sent, "X-Helpdesk-Signature": f"t={fresh},{signature}"}) == \
            (400, "bad signature")
        assert await again(sent, body.replace(b"VPN", b"VPM")) == (400, "bad signature")
    assert len(receiver.accepted) == 1


async def test_forged_addresses_are_refused_outside_local(test_services: LocalServices,
                                                         local_dns: LocalDns,
                                                         receiver: Receiver):
    desk = await _desk(test_services, local=False)
    try:
        for url in ("https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data",
                    "https://[::1]/hook", "https://10.1.2.3/hook", "https://localhost/hook",
                    "https://[::ffff:127.0.0.1]/hook", "https://168.63.129.16/hook",
                    f"http://hooks-{uuid.uuid4().hex[:6]}.example.com/hook",
                    "https://user:pw@hooks.example.com/hook"):
            with pytest.raises(ValidationFailed):
                await _endpoint(desk, url)
        assert await desk.webhooks.endpoints() == []

        # A name is checked after resolution, at every attempt: a name resolving to a
        # private address (or loopback, where the receiver listens, or one public and
        # one private) is refused without a connection, and the delivery is parked.
        private = f"crm-{uuid.uuid4().hex[:6]}.example.com"
        loop = f"loop-{uuid.uuid4().hex[:6]}.example.com"
        mixed = f"mixed-{uuid.uuid4().hex[:6]}.example.com"
        local_dns.addresses[private] = ["10.0.0.5"]
        local_dns.addresses[loop] = ["127.0.0.1"]
        local_dns.addresses[mixed] = ["93.184.215.14", "169.254.169.254"]
        six = f"six-{uuid.uuid4().hex[:6]}.example.com"
        local_dns.addresses[six] = ["fd00::5"]
        stored = await _ticket(desk)
        made = [await _endpoint(desk, f"https://{name}:{receiver.port}/hook")
                for name in (private, loop, mixed, six)]
        assert len(await delivery.fan_out(stored, _created(stored), desk=desk)) == 4
        outcomes = await pump(desk, seconds=10, count=4)
        outcomes += await pump(desk, seconds=2)
        assert outcomes == ["refused"] * 4
        assert receiver.requests == []
        for endpoint, address in zip(made, ("10.0.0.5", "127.0.0.1", "169.254.169.254",
                                            "fd00::5"), strict=True):
            log = await endpoints.deliveries(endpoint["id"], desk=desk)
            [parked] = log["parked"]
            assert address in parked["last_error"] and "not a public address" in parked["last_error"]

        # A name with public addresses only passes the guard (the connection itself fails
        # here, no route out): it fails as any unreachable receiver does, and waits.
        public = f"public-{uuid.uuid4().hex[:6]}.example.com"
        local_dns.addresses[public] = ["93.184.215.14"]
        open_ = await _endpoint(desk, f"https://{public}:{receiver.port}/hook")
        assert len(await delivery.fan_out(stored, _created(stored), desk=desk)) == 1
        assert await pump(desk, seconds=10, count=1) == ["failed"]
        log = await endpoints.deliveries(open_["id"], desk=desk)
        assert "not a public address" not in (log["attempts"][0]["error"] or "")
        assert log["retrying"] and not log["parked"]
    finally:
        await desk.close()


async def test_a_teams_channel_gets_a_card_for_its_team_only(desk: Helpdesk,
                                                             receiver: Receiver):
    made = await _endpoint(desk, receiver.url, format="teams", teams=["service-desk"],
                           events=["ticket.created", "ticket.escalated", "sla.breached"])
    assert made["url"] == receiver.url and made["secret"] == "stored"
    receiver.secret = made["signing_secret"]
    stored = await _ticket(desk, subject="Printer *on fire*")
    ticket = stored.ticket
    entry = _created(stored)
    other = ticket.model_copy(update={"team": "senior-support"})
    assert await delivery.fan_out(dataclasses.replace(stored, ticket=other), entry,
                                  desk=desk) == []
    mine = ticket.model_copy(update={"team": "service-desk"})
    assert await delivery.fan_out(dataclasses.replace(stored, ticket=mine), entry, desk=desk)
    await pump(desk, seconds=5, until=lambda: receiver.accepted)
    [message] = receiver.accepted
    assert message["type"] == "message"
    card = message["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["body"][1]["text"] == f"#{ticket.number} Printer \\*on fire\\*"
    assert card["actions"][0]["url"].endswith(f"/api/agent#/ticket/{ticket.number}")


async def test_an_attempt_whose_handler_died_is_taken_over_once_its_lease_ran_out(
        desk: Helpdesk, receiver: Receiver):
    made = await _endpoint(desk, receiver.url)
    receiver.secret = made["signing_secret"]
    stored = await _ticket(desk)
    await delivery.fan_out(stored, _created(stored), desk=desk)
    event_id = f"{stored.ticket.number}-1-ticket.created"
    # A handler took attempt 1 and died before it recorded anything.
    got = await desk.webhooks.delivery(made["id"], event_id)
    assert got is not None
    row, etag = got
    now = desk.clock()
    etag = await desk.webhooks.save_delivery(row.model_copy(update={
        "attempts": 1, "lease_until": now + timedelta(seconds=30)}), etag)
    message = DeliveryMessage(endpoint=made["id"], event_id=event_id)
    assert await delivery.deliver(message, desk=desk) == "busy"  # its lease still holds
    got = await desk.webhooks.delivery(made["id"], event_id)
    assert got is not None
    await desk.webhooks.save_delivery(got[0].model_copy(update={
        "lease_until": now - timedelta(seconds=1)}), got[1])
    assert await delivery.deliver(message, desk=desk) == "delivered"
    assert await delivery.deliver(message, desk=desk) == "stale"
    assert len(receiver.accepted) == 1 and len(receiver.requests) == 1


async def test_an_escalation_reaches_the_teams_channel_of_the_team_escalated_to_once(
        desk: Helpdesk, receiver: Receiver):
    """An agent's escalation travels on both the ticket-events and the escalations queue:
    both handlers fan it out, and the channel gets one card."""
    made = await _endpoint(desk, receiver.url, format="teams", teams=["senior-support"],
                           events=["ticket.escalated"])
    receiver.secret = made["signing_secret"]
    stored = await _ticket(desk, subject="Database slow")
    number = stored.ticket.number
    await workflow.act(number, Action.ESCALATE, actionbodies.parse_body(Action.ESCALATE, {
        "tier": "senior-support", "reason": "Needs a DBA"}),
        actor="a1", roles=frozenset({"agent"}), if_match=None, desk=desk)
    stored = await desk.tickets.get(number)
    assert stored is not None
    escalated = next(e for e in stored.thread if e.kind == EntryKind.ESCALATED)
    event = TicketEvent(ticket=number, seq=escalated.seq, kind="escalated", indexed=True)
    await handle_escalation(event, desk=desk)
    await handle_event(event, desk=desk)
    # The second fan-out found the delivery not yet attempted and queued it again (its
    # first fan-out might have died before queuing it): the spare message is dropped.
    assert sorted(await pump(desk, seconds=5, count=2)) == ["delivered", "stale"]
    assert len(receiver.requests) == 1
    [message] = receiver.accepted
    card = message["attachments"][0]["content"]
    assert card["body"][0]["text"] == "Escalated to Senior Support"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Reason"] == "Needs a DBA" and facts["Tier"] == "senior-support"
