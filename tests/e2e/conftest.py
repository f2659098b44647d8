"""The running help desk: the local host started as a subprocess against the session's
Azurite and MailDev, driven over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from azure.data.tables import TableServiceClient

from devtools import services
from tests.conftest import ROOT, LocalServices, app_env
from tests.support import wait_for

LIMITS = {
    "HELPDESK_LIMIT_ATTACHMENT_BYTES": str(1024 * 1024),
    "HELPDESK_LIMIT_ATTACHMENTS_PER_TICKET": "3",
    "HELPDESK_LIMIT_REQUEST_BYTES": str(4 * 1024 * 1024),
    # All tests come from 127.0.0.1; the limit has its own test with its own host.
    "HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR": "0",
    "HELPDESK_CHAT_SECRET": "test-chat-secret",
    "HELPDESK_OSTICKET_TOPICS": "1=general,2=billing,10=access",
}


@dataclass(frozen=True)
class RunningHost:
    base_url: str
    storage: str
    keys_file: Path | None = None

    def run_function(self, name: str, body: str = "") -> None:
        """Run a timer or queue function now, through the host's admin API (master key)."""
        assert self.keys_file is not None
        key = json.loads(self.keys_file.read_text())["masterKey"]
        r = httpx.post(f"{self.base_url}/admin/functions/{name}", json={"input": body},
                       headers={"x-functions-key": key}, timeout=30)
        assert r.status_code == 202, r.text

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    @contextmanager
    def signed_in(self, roles: str = "agent", user: str = "agent1",
                  email: str = "agent1@example.com") -> Iterator[httpx.Client]:
        with self.client() as client:
            yield self._sign_in(client, roles=roles, user=user, email=email)

    def _sign_in(self, client: httpx.Client, *, roles: str, user: str, email: str
                 ) -> httpx.Client:
        response = client.post("/.auth/login/dev", data={
            "userId": user, "userDetails": email, "userRoles": roles,
            "post_login_redirect_uri": "/api/health"})
        assert response.status_code in (302, 303), response.text
        assert client.get("/.auth/me").json(), "the dev sign-in did not stick"
        # What the agent page's scripts send with every change (see functions.http.agent).
        client.headers["X-Helpdesk-Request"] = "1"
        return client

    def tickets_of(self, email: str) -> list[dict]:
        """What storage holds for a requester, read straight from the table."""
        with TableServiceClient.from_connection_string(self.storage) as service:
            table = service.get_table_client("tickets")
            return list(table.query_entities("requester_email eq @e", parameters={"e": email}))


def route_domain_to_sla_plan(admin: httpx.Client, plan_id: str, domain: str, *,
                             name: str, first_response_hours: float, resolution_hours: float,
                             **plan: object) -> None:
    """An SLA plan in calendar time with the same targets at every priority, and the rule
    `plan_id` that gives it, and the service desk team, to every ticket from `domain`."""
    targets = {p: {"first_response_hours": first_response_hours,
                   "resolution_hours": resolution_hours, "business_hours": False}
               for p in ("low", "normal", "high", "urgent")}
    assert admin.put(f"/api/directory/sla-plans/{plan_id}", json={
        "name": name, "calendar": {"id": "any"}, "targets": targets, **plan}).status_code == 200
    assert admin.put(f"/api/directory/rules/{plan_id}", json={
        "name": f"{name} SLA", "conditions": [
            {"field": "requester_domain", "op": "equals", "value": domain}],
        "actions": [{"type": "set_sla_plan", "value": plan_id},
                    {"type": "set_team", "value": "service-desk"}]}).status_code == 200


@contextmanager
def running_host(test_services: LocalServices, workdir: Path, *, host_args: tuple[str, ...] = (),
                 **env_overrides: str) -> Iterator[RunningHost]:
    """`python -m devhost` on a free port against the session's services; `host_args`
    are more of its options (`--no-auth`)."""
    port = services.free_port()
    log_path = workdir / "devhost.log"
    env = {**os.environ, **app_env(test_services, HELPDESK_PUBLIC_URL=f"http://127.0.0.1:{port}",
                                   **{**LIMITS, **env_overrides})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devhost", "--port", str(port),
             "--keys-file", str(workdir / "keys.json"),
             "--settings", str(ROOT / "local.settings.example.json"), *host_args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"devhost exited: {log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{base}/api/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=60, interval=0.2, what="the local host to be healthy")
        yield RunningHost(base_url=base, storage=test_services.storage,
                          keys_file=workdir / "keys.json")
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def own_storage(test_services: LocalServices, workdir: Path) -> Iterator[LocalServices]:
    """The session's MailDev with an Azurite of its own: for a host whose data (a rate
    limit's count, what a fuzzer writes) must not meet the other tests' or their queues."""
    with services.memory_azurite(workdir) as storage:
        yield LocalServices(storage=storage, smtp_port=test_services.smtp_port,
                            maildev_url=test_services.maildev_url)


@contextmanager
def host_of_its_own(test_services: LocalServices, workdir: Path) -> Iterator[RunningHost]:
    """A local host on an Azurite of its own (`own_storage`), for a module whose data must
    not meet the other tests'."""
    with own_storage(test_services, workdir) as storage, running_host(storage, workdir) as running:
        yield running


_session_hosts: list[RunningHost] = []


@pytest.fixture(scope="session")
def host(test_services: LocalServices, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[RunningHost]:
    # The browser tests import this fixture into their conftest, which makes it a second
    # fixture of the same name. Both must be one host: hosts on one Azurite poll the same
    # queues, and a second one would handle the first one's messages with its own
    # few-seconds directory cache (agents added through the first unseen) and its own URL.
    if _session_hosts:
        yield _session_hosts[0]
        return
    with running_host(test_services, tmp_path_factory.mktemp("devhost")) as running:
        _session_hosts.append(running)
        try:
            yield running
        finally:
            _session_hosts.clear()
