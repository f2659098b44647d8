"""Sample data for a first `make run`, posted through the real API: agents in each team
(so the dev sign-in is usable at once) and a few tickets, whose acknowledgements show up
in MailDev; and the sample mailbox in Dovecot, connected to the desk on every run."""

from __future__ import annotations

from typing import Any

import httpx

AGENTS: list[dict[str, Any]] = [
    {"id": "alice", "name": "Alice Agent", "email": "alice@helpdesk.example.com",
     "teams": ["service-desk"], "roles": ["agent"]},
    {"id": "bob", "name": "Bob Senior", "email": "bob@helpdesk.example.com",
     "teams": ["senior-support"], "roles": ["agent"]},
    {"id": "sam", "name": "Sam Sysadmin", "email": "sam@helpdesk.example.com",
     "teams": ["sysadmins-developers"], "roles": ["agent"]},
    {"id": "vera", "name": "Vera Vendor-Liaison", "email": "vera@helpdesk.example.com",
     "teams": ["vendor-support"], "roles": ["agent"]},
    {"id": "sue", "name": "Sue Supervisor", "email": "sue@helpdesk.example.com",
     "teams": ["service-desk", "senior-support"], "roles": ["agent", "supervisor", "admin"]},
]

TICKETS = [
    {"name": "Ada Lovelace", "email": "ada@example.org", "subject": "Cannot print to 3rd floor",
     "description": "The printer on the 3rd floor says 'offline' since this morning.",
     "priority": "normal", "category": "hardware"},
    {"name": "Grace Hopper", "email": "grace@example.org", "subject": "VPN drops every 10 minutes",
     "description": "Working from home, the VPN disconnects every ten minutes or so.",
     "priority": "high", "category": "network"},
    {"name": "Alan Turing", "email": "alan@example.org", "subject": "Access to the finance share",
     "description": "I need read access to \\\\fileserver\\finance for the audit.",
     "priority": "low", "category": "access"},
]


def seed(base_url: str) -> list[str]:
    with httpx.Client(base_url=base_url, timeout=30, headers={"X-Helpdesk-Request": "1"}) as admin:
        admin.post("/.auth/login/dev", data={"userId": "seed", "userDetails": "seed@localhost",
                                             "userRoles": "agent,admin"})
        for agent in AGENTS:
            admin.put(f"/api/directory/agents/{agent['id']}", json=agent).raise_for_status()
        numbers = []
        for i, ticket in enumerate(TICKETS):
            response = admin.post("/api/tickets", json=ticket,
                                  headers={"Idempotency-Key": f"seed-{i}"})
            response.raise_for_status()
            numbers.append(response.json()["number"])
        admin.get("/.auth/logout")
    print(f"seeded agents {', '.join(a['id'] for a in AGENTS)} and tickets {', '.join(numbers)}")
    return numbers


def connect_sample_mailbox(base_url: str, *, address: str, port: int,
                           password_setting: str) -> None:
    """The desk fetches the sample `support@` mailbox from this run's Dovecot: added on the
    first run, its port kept in step with this run's (HELPDESK_RUN_PORTS may move it);
    anything else an admin changed in it is left alone."""
    with httpx.Client(base_url=base_url, timeout=30, headers={"X-Helpdesk-Request": "1"}) as admin:
        admin.post("/.auth/login/dev", data={"userId": "seed", "userDetails": "seed@localhost",
                                             "userRoles": "agent,admin"})
        found = {m["id"]: m for m in admin.get("/api/directory/mailboxes").json()}
        current = found.get("support")
        if current is None:
            mailbox: dict[str, Any] = {
                "address": address, "host": "127.0.0.1", "port": port, "security": "plain",
                "username": address, "auth": "password", "password_setting": password_setting,
                "team": "service-desk"}
        elif current.get("port") != port:
            mailbox = {**current, "port": port}
        else:
            mailbox = {}
        if mailbox:
            admin.put("/api/directory/mailboxes/support", json=mailbox).raise_for_status()
        admin.get("/.auth/logout")
