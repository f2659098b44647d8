"""Entities each operation leaves in storage, counted from outside the app.

    python -m bench.entities [--tickets 20] [--single-host]

Starts its own Azurite (in memory), MailDev and local hosts, makes `--tickets` tickets
through the HTTP API, then takes each of them through the agents' actions (assign, note,
reply, resolve, close), one action at a time. Before and after each step, once the queue
functions have handled what it caused (acknowledgements, report folds, index repairs), it
reads every entity of every table through the SDK and compares: an entity that is new or
whose ETag changed was written, one that is gone was deleted. It names no table and no
key, so it keeps counting when the storage layout changes. An entity written twice
within one step counts once: these are entities, not write requests (`bench.requests`
counts those). A closed ticket's figures add up the steps of its life.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from azure.data.tables import TableServiceClient

from bench.stack import Stack, drained, stack

Key = tuple[str, str]
# table → (PartitionKey, RowKey) → the entity (a dict, with its ETag in `.metadata`)
Snapshot = dict[str, dict[Key, Any]]

BODY = {"name": "Entity Count", "email": "count@example.org", "subject": "Printer offline",
        "description": "The printer on the third floor says offline since this morning.",
        "priority": "normal"}
OSTICKET_BODY = {"name": "Entity Count", "email": "count@example.org",
                 "subject": "Printer offline", "message": "data:text/plain,The printer is offline."}
LIFE = ("intake (web form)", "assign (team and agent)", "note", "reply", "resolve", "close")


def snapshot(storage: str) -> Snapshot:
    """Every entity of every table."""
    with TableServiceClient.from_connection_string(storage) as service:
        return {table.name: {(e["PartitionKey"], e["RowKey"]): e
                             for e in service.get_table_client(table.name).list_entities()}
                for table in service.list_tables()}


def diff(before: Snapshot, after: Snapshot) -> dict[str, dict[str, int]]:
    """Per table: entities written (new, or a new ETag), deleted, and the change in rows."""
    out = {}
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name, {}), after.get(name, {})
        written = sum(1 for key, e in new.items()
                      if key not in old or old[key].metadata["etag"] != e.metadata["etag"])
        deleted = len(old.keys() - new.keys())
        if written or deleted:
            out[name] = {"written": written, "deleted": deleted, "net": len(new) - len(old)}
    return out


def settled(storage: str) -> Snapshot:
    """A snapshot once the queue functions have handled everything queued (twice empty,
    a second apart: a handler may still be running after its message left the queue)."""
    for _ in range(2):
        asyncio.run(drained(storage))
        time.sleep(1)
    return snapshot(storage)


def sign_in(base_url: str, *, user: str, roles: str, email: str | None = None) -> httpx.Client:
    """A client signed in through the local host's dev sign-in, as an agent's browser."""
    client = httpx.Client(base_url=base_url, timeout=60)
    r = client.post("/.auth/login/dev", data={
        "userId": user, "userDetails": email or f"{user}@helpdesk.example.com",
        "userRoles": roles, "post_login_redirect_uri": "/api/health"})
    if r.status_code not in (302, 303):
        raise SystemExit(f"dev sign-in failed: {r.status_code} {r.text[:200]}")
    client.headers["X-Helpdesk-Request"] = "1"  # what the agent page's scripts send
    return client


def api_key(base_url: str) -> str:
    """An osTicket API key, made by an admin."""
    admin = sign_in(base_url, user="bench-admin", roles="agent,admin")
    try:
        r = admin.post("/api/apikeys", json={"name": "bench", "scopes": ["tickets"]})
        r.raise_for_status()
        return str(r.json()["key"])
    finally:
        admin.close()


def post_ticket(client: httpx.Client, *, key: str | None = None) -> str:
    if key is None:
        r = client.post("/api/tickets", json=BODY)
        r.raise_for_status()
        return str(r.json()["number"])
    r = client.post("/api/tickets.json", json=OSTICKET_BODY, headers={"X-API-Key": key})
    r.raise_for_status()
    return r.text.strip()


def act(agent: httpx.Client, number: str, action: str, body: dict[str, Any]) -> None:
    r = agent.post(f"/api/tickets/{number}/{action}", json=body)
    if r.status_code != 200:
        raise SystemExit(f"{action} on {number}: {r.status_code} {r.text[:300]}")


ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "assign (team and agent)": ("assign", {"team": "service-desk", "agent": "bench-agent"}),
    "note": ("note", {"body": "Checked the print server: the queue is stuck."}),
    "reply": ("reply", {"body": "We restarted the print queue; does it print now?"}),
    "resolve": ("resolve", {"resolution": "Print queue restarted."}),
    "close": ("close", {}),
}


def measure(running: Stack, tickets: int) -> dict[str, Any]:
    """Entities per operation, each step done `tickets` times through the HTTP API."""
    key = api_key(running.base_url)
    agent = sign_in(running.base_url, user="bench-agent", roles="agent")
    public = httpx.Client(base_url=running.base_url, timeout=60)
    numbers: list[str] = []

    def web_intake() -> None:
        numbers.extend(post_ticket(public) for _ in range(tickets))

    def api_intake() -> None:
        for _ in range(tickets):
            post_ticket(public, key=key)

    def action(name: str) -> Callable[[], None]:
        def run() -> None:
            for number in numbers:
                act(agent, number, *ACTIONS[name])
        return run

    steps = [("intake (web form)", web_intake), ("intake (osTicket API)", api_intake),
             *((name, action(name)) for name in ACTIONS)]
    per_step: dict[str, Any] = {}
    try:
        agent.get("/api/me").raise_for_status()  # the first sign-in's directory record
        before = settled(running.storage)
        for name, step in steps:
            step()
            after = settled(running.storage)
            per_step[name] = per_operation(diff(before, after), tickets)
            print(name, per_step[name]["total"], flush=True)
            before = after
    finally:
        agent.close()
        public.close()
    life = {name: per_step[name] for name in LIFE}
    closed = {"written": round(sum(s["total"]["written"] for s in life.values()), 2),
              "deleted": round(sum(s["total"]["deleted"] for s in life.values()), 2),
              "net": round(sum(s["total"]["net"] for s in life.values()), 2),
              "life": list(LIFE)}
    return {"tickets": tickets, "per operation": per_step, "closed ticket": closed}


def per_operation(tables: dict[str, dict[str, int]], count: int) -> dict[str, Any]:
    """Totals and per-table figures divided by the number of operations."""
    by_table = {name: {k: round(v / count, 2) for k, v in t.items()} for name, t in tables.items()}
    total = {k: round(sum(t[k] for t in tables.values()) / count, 2)
             for k in ("written", "deleted", "net")}
    return {"total": total, "by table": by_table}


def markdown(result: dict[str, Any]) -> str:
    tables = sorted({t for step in result["per operation"].values() for t in step["by table"]})
    lines = [f"| entities per operation ({result['tickets']} each) | written | deleted | "
             "rows added | " + " | ".join(f"`{t}` w/d/+" for t in tables) + " |",
             "| --- |" + " --- |" * (3 + len(tables))]
    for name, step in result["per operation"].items():
        cells = []
        for t in tables:
            f = step["by table"].get(t)
            cells.append(f"{f['written']:g} / {f['deleted']:g} / {f['net']:+g}" if f else "")
        lines.append(f"| {name} | {step['total']['written']:g} | {step['total']['deleted']:g} | "
                     f"{step['total']['net']:+g} | " + " | ".join(cells) + " |")
    c = result["closed ticket"]
    lines.append(f"| a closed ticket's life ({', '.join(c['life'])}) | {c['written']:g} | "
                 f"{c['deleted']:g} | {c['net']:+g} |" + " |" * len(tables))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20)
    parser.add_argument("--single-host", action="store_true",
                        help="one host runs HTTP and the queue functions (default: two, as Azure scales them)")
    args = parser.parse_args()
    with stack(split=not args.single_host) as running:
        result = measure(running, args.tickets)
    print(json.dumps(result, indent=2))
    print(markdown(result))


if __name__ == "__main__":
    main()
