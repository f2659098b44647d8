"""A flood from one address: past the hourly limit every public submission gets 429 with
Retry-After and nothing is stored, however many arrive at once; the portal's "check a
ticket" form is limited too. Its own host with the limit on, on an Azurite of its own, so
the count starts at zero whatever other tests sent from 127.0.0.1 this hour."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.conftest import LocalServices, unique_email
from tests.e2e.conftest import own_storage, running_host

LIMIT, FLOOD = 5, 40


def test_a_flood_from_one_address_gets_429_past_the_limit(test_services: LocalServices,
                                                           tmp_path: Path):
    email = unique_email("flood")
    with own_storage(test_services, tmp_path) as own, \
            running_host(own, tmp_path, HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR=str(LIMIT)) as limited:

        async def flood() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=limited.base_url, timeout=60) as client:
                return await asyncio.gather(*(client.post("/api/tickets", json={
                    "name": "F", "email": email, "subject": f"flood {i}", "description": "d"})
                    for i in range(FLOOD)))

        responses = asyncio.run(flood())
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] * LIMIT + [429] * (FLOOD - LIMIT), codes
        for r in responses:
            if r.status_code == 429:
                assert 0 < int(r.headers["retry-after"]) <= 3600
                assert r.headers["content-type"].startswith("application/problem+json")
        with limited.client() as client:
            page = client.post("/api/tickets", headers={"Accept": "text/html"}, data={
                "name": "F", "email": email, "subject": "s", "description": "d"})
            assert page.status_code == 429 and "text/html" in page.headers["content-type"]
            check = client.post("/api/portal", data={"email": email, "number": "12345674"})
            assert check.status_code == 429 and check.headers["retry-after"]
        assert len({e["PartitionKey"] for e in limited.tickets_of(email)}) == LIMIT
        with limited.signed_in() as agent:  # an agent taking a call is not limited
            phone = agent.post("/api/tickets", json={
                "channel": "phone", "name": "F", "email": email, "subject": "call",
                "description": "d"})
            assert phone.status_code == 201, phone.text
