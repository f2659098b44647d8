"""The per-address limits on Azurite (shared/storage/ratelimit.py), counted both ways: read
first (submissions by client address) and insert first (acknowledgements, where most
addresses are seen once an hour and the first use is then one request)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.storage.clients import RATELIMIT_TABLE
from shared.storage.ratelimit import RateLimiter
from tests.conftest import LocalServices, app_env

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("mostly_new", [False, True])
async def test_a_window_allows_its_limit_then_refuses(test_services: LocalServices,
                                                      mostly_new: bool) -> None:
    sent: list[str] = []

    def hook(request: Any) -> None:
        sent.append(request.http_request.method)

    desk = await Helpdesk.start(Settings.from_env(app_env(test_services)), request_hook=hook)
    try:
        limit = RateLimiter(desk.clients.table(RATELIMIT_TABLE), per_window=2,
                            prefix=f"t{uuid.uuid4().hex[:8]}", mostly_new=mostly_new)
        sent.clear()
        assert await limit.take("a@example.org", NOW)
        assert sent == (["POST"] if mostly_new else ["GET", "POST"])
        assert await limit.take("a@example.org", NOW)
        assert not await limit.take("a@example.org", NOW)
        assert await limit.take("b@example.org", NOW)  # another address
        assert await limit.take("a@example.org", NOW.replace(hour=11))  # the next hour
    finally:
        await desk.close()
