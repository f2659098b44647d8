"""Sample data for a first `make run`: a few tickets posted through the real API, so the
desk has something to show and MailDev shows the acknowledgements."""

from __future__ import annotations

import httpx

SAMPLES = [
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
    numbers = []
    for i, sample in enumerate(SAMPLES):
        response = httpx.post(f"{base_url}/api/tickets", json=sample,
                              headers={"Idempotency-Key": f"seed-{i}"}, timeout=30)
        response.raise_for_status()
        numbers.append(response.json()["number"])
    print(f"seeded sample tickets: {', '.join(numbers)}")
    return numbers
