"""Storage requests per operation, counted (not estimated) with the SDKs' request hook.

    python -m bench.requests

Each figure is the number of HTTP requests the storage SDKs sent (retries included) for
one operation of the help desk's services, on a warm process (tables created, directory
cached), against its own in-memory Azurite. These map straight onto Azure's per-transaction
cost and do not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from bench.stack import fresh_desk
from shared.core.events import TicketEvent
from shared.core.lifecycle import Action
from shared.core.models import AttachmentUpload
from shared.notifications import notify
from shared.tickets import actionbodies, intake, workflow
from shared.tickets.queues import QueueQuery, list_queue
from shared.tickets.views import read_ticket


class Counting:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.on = False

    def __call__(self, request: Any) -> None:
        if self.on:
            r = request.http_request
            parts = urlsplit(r.url).path.split("/")  # /<account>/<table, container or queue>…
            self.calls[f"{r.method} {parts[2] if len(parts) > 2 else ''}"] += 1

    async def count(self, call) -> dict[str, Any]:
        self.calls.clear()
        self.on = True
        try:
            await call()
        finally:
            self.on = False
        return {"requests": sum(self.calls.values()), "by": dict(self.calls)}


class Outbox:
    """Takes the email (sending it is SMTP, not a storage request, so not counted here)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, message: Any) -> None:
        self.sent.append(message)


async def measure() -> dict[str, Any]:
    counter = Counting()
    outbox = Outbox()
    async with fresh_desk("bench-requests-", request_hook=counter, mailer=outbox) as desk:
        body = {"name": "B", "email": "b@example.org", "subject": "s", "description": "d"}
        warm = await intake.submit_ticket(body, [], desk=desk)  # caches filled
        number = warm.number
        await workflow.act(number, Action.NOTE, actionbodies.parse_body(Action.NOTE, {"body": "w"}),
                           actor="a", roles=frozenset({"agent"}), if_match=None, desk=desk)
        results: dict[str, Any] = {}
        created: dict[str, str] = {}

        async def do_intake() -> None:
            created["n"] = (await intake.submit_ticket(body, [], desk=desk)).number

        results["intake"] = await counter.count(do_intake)
        upload = AttachmentUpload(filename="a.bin", data=b"x" * 100_000)
        results["intake with a 100 KB attachment"] = await counter.count(
            lambda: intake.submit_ticket(body, [upload], desk=desk))
        results["agent action (note)"] = await counter.count(
            lambda: workflow.act(number, Action.NOTE,
                                 actionbodies.parse_body(Action.NOTE, {"body": "n"}),
                                 actor="a", roles=frozenset({"agent"}), if_match=None,
                                 desk=desk))
        results["agent action (assign: status and queues change)"] = await counter.count(
            lambda: workflow.act(created["n"], Action.ASSIGN,
                                 actionbodies.parse_body(Action.ASSIGN, {"team": "service-desk"}),
                                 actor="a", roles=frozenset({"agent"}), if_match=None,
                                 desk=desk))
        results["queue page"] = await counter.count(
            lambda: list_queue(QueueQuery(status="new"), me="a", desk=desk))
        results["ticket view"] = await counter.count(lambda: read_ticket(number, desk=desk))
        fresh = (await intake.submit_ticket(body, [], desk=desk)).number
        results["notification (acknowledgement)"] = await counter.count(
            lambda: notify.handle_event(TicketEvent(ticket=fresh, seq=1, kind="created",
                                                    indexed=True), desk=desk))
        assert len(outbox.sent) == 1
        results["notification redelivered"] = await counter.count(
            lambda: notify.handle_event(TicketEvent(ticket=fresh, seq=1, kind="created",
                                                    indexed=True), desk=desk))
        assert len(outbox.sent) == 1
        results["web-form intake, rate limit on (60/hour)"] = await rate_limited()
        return results


async def rate_limited() -> dict[str, Any]:
    counter = Counting()
    async with fresh_desk("bench-requests-", request_hook=counter, mailer=Outbox()) as desk:
        from datetime import UTC, datetime

        body = {"name": "B", "email": "b@example.org", "subject": "s", "description": "d"}
        await intake.submit_ticket(body, [], desk=desk)

        async def web_intake() -> None:
            await desk.ratelimit.hit("203.0.113.9", datetime.now(UTC))
            await intake.submit_ticket(body, [], desk=desk)

        await web_intake()
        return await counter.count(web_intake)


def main() -> None:
    results = asyncio.run(measure())
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
