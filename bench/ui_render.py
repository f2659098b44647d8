"""Time to first render of the agents' queue page, measured in the browser.

    python -m bench.ui_render --tickets 10000 [--runs 5]

Starts a throwaway stack (Azurite in memory, MailDev, the local host), seeds that many
tickets straight through the storage layer (as `bench.queue_page` does), signs in through
the emulated App Service sign-in and opens `/api/agent#/queue/unassigned` in chromium,
each run in a fresh browser context (cold cache, new session). The figure is the time from
navigation start to the `queue-rendered` mark the page sets when its first list of tickets
is in the document (`performance.now()` at that mark); the median of the runs is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics

from playwright.sync_api import sync_playwright

from bench.queue_page import seed
from bench.stack import stack
from shared.core.settings import Settings
from shared.helpdesk import Helpdesk

CHROMIUM = os.environ.get("HELPDESK_CHROMIUM", "/usr/bin/chromium")
# As tests/browser/conftest.py: no network beyond loopback here.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


async def _seed(storage: str, count: int) -> float:
    desk = await Helpdesk.start(Settings.from_env({"AzureWebJobsStorage": storage}))
    try:
        return await seed(desk, count)
    finally:
        await desk.close()


def measure(base_url: str, runs: int) -> list[float]:
    times = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(base_url=base_url,
                                              viewport={"width": 1280, "height": 800})
                signed = context.request.post("/.auth/login/dev", form={
                    "userId": "bench-agent", "userDetails": "bench@example.com",
                    "userRoles": "agent", "post_login_redirect_uri": "/api/health"},
                    max_redirects=0)
                assert signed.status in (302, 303), signed.text()
                page = context.new_page()
                page.goto("/api/agent#/queue/unassigned")
                page.locator("table.list tbody tr").first.wait_for(timeout=60_000)
                page.wait_for_function(
                    "performance.getEntriesByName('queue-rendered').length > 0")
                times.append(page.evaluate(
                    "performance.getEntriesByName('queue-rendered')[0].startTime"))
                context.close()
        finally:
            browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with stack() as running:
        seconds = asyncio.run(_seed(running.storage, args.tickets))
        print(f"seeded {args.tickets} tickets in {seconds:.0f} s", flush=True)
        times = measure(running.base_url, args.runs)
    print(f"runs (ms): {', '.join(f'{t:.0f}' for t in times)}")
    print(f"time to first render of the queue page with {args.tickets} tickets: "
          f"median {statistics.median(times):.0f} ms over {len(times)} runs")


if __name__ == "__main__":
    main()
