"""Settle what storage failures left half-done: stale intake claims, missing or stale
index rows, lost events (an acknowledgement never sent), orphaned attachment blobs.

    python -m tools.repair                     # with the app's settings in the environment
    python -m tools.repair --grace 60 --json   # also what is at least a minute old

Safe to run at any time and as often as you like (the `automation_repair` timer runs it
daily): what is younger than `--grace` seconds is left to the requests and queue
handlers still at work, and every step is idempotent. See shared/tickets/repair.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import timedelta

from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.tickets import repair


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.repair", description=__doc__.split("\n")[0])
    parser.add_argument("--grace", type=float, default=repair.GRACE.total_seconds(),
                        help="leave alone what changed less than this many seconds ago")
    parser.add_argument("--since", type=float, default=repair.SINCE.total_seconds() / 3600,
                        help="check tickets changed within this many hours")
    parser.add_argument("--json", action="store_true", help="print a JSON summary too")
    args = parser.parse_args(argv)
    desk = await Helpdesk.start(Settings.from_env(os.environ))
    try:
        report = await repair.repair(desk, grace=timedelta(seconds=args.grace),
                                     since=timedelta(hours=args.since))
    finally:
        await desk.close()
    for line in report.lines():
        print(line)
    if args.json:
        print(repair.summary_json(report))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
