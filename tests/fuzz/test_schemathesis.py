"""schemathesis generates requests for every operation in /api/openapi.json and checks
that none gets a server error or a response the description does not allow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningHost
from tests.e2e.test_portal import link, new_ticket

pytestmark = pytest.mark.e2e

# A fixed budget: examples per operation and a seed, so a run takes the same few minutes
# and a failure can be replayed.
MAX_EXAMPLES = 30
SEED = 20261127


def test_no_operation_gives_a_server_error_or_breaks_its_schema(host: RunningHost,
                                                                 tmp_path: Path):
    # As an admin, so every operation is reached past its role check. Agent endpoints read
    # the principal the platform injects; the host strips a client-sent one, so the dev
    # sign-in's cookie stands in for it, with the header every cookie-carrying change needs.
    # The integrations get a key for both scopes and the portal a link's session, so their
    # requests reach the code behind the check (chat's HMAC over each body cannot be given).
    with host.signed_in(roles="agent,supervisor,admin", user="fuzzer",
                        email="fuzzer@example.com") as admin:
        cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
        key = admin.post("/api/apikeys", json={"name": "fuzz", "scopes": ["tickets", "email"]}
                         ).json()["key"]
    number = new_ticket(host, "fuzz-requester@example.org")
    portal = link(host, number, "fuzz-requester@example.org").rsplit("/", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{host.base_url}/api/openapi.json",
         "--url", host.base_url,
         "--checks", "not_a_server_error,response_schema_conformance",
         "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
         "--phases", "examples,coverage,fuzzing", "--workers", "1",
         "--request-timeout", "30", "--suppress-health-check", "all",
         "--report", "junit", "--report-dir", str(tmp_path),
         "-H", f"Cookie: {cookie}; helpdesk_portal={portal}", "-H", "X-Helpdesk-Request: 1",
         "-H", f"X-API-Key: {key}"],
        capture_output=True, text=True, timeout=900)
    # The webhook endpoints it registered (any URL goes on a local desk) would be sent the
    # events of the tests after it.
    with host.signed_in(roles="agent,admin", user="fuzzer", email="fuzzer@example.com") as admin:
        for endpoint in admin.get("/api/webhooks").json():
            admin.delete(f"/api/webhooks/{endpoint['id']}")
    assert done.returncode == 0, done.stdout[-15000:] + done.stderr[-3000:]
