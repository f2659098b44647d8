"""Rebuild every daily report summary from the tickets themselves.

    python -m tools.rebuild_reports            # with the app's settings in the environment

The summaries are kept up to date by the ticket-events handler; this command recomputes
them from scratch (after a change to what the reports count, or to check them). Run it
while no events are being handled (e.g. with the notifications function disabled), or
run it twice: an event handled during the first run is then counted by the second.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.reports import summaries


async def main() -> int:
    desk = await Helpdesk.start(Settings.from_env(os.environ))
    try:
        started = time.perf_counter()
        count = await summaries.rebuild(desk)
        print(f"rebuilt the reports from {count} tickets in {time.perf_counter() - started:.1f} s")
    finally:
        await desk.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
