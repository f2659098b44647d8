"""Rebuild the ticket index from the tickets table, and remove the old layout's rows.

    python -m tools.reindex                  # with the app's settings in the environment
    python -m tools.reindex --budget 600     # stop after ten minutes; the next run resumes
    python -m tools.reindex --again          # start over even if a run finished

Run it once after deploying the index of `shared/storage/indexing.py` over a desk that
has the old one (one partition `idx`): until it has run, the agents' queues list only
tickets changed since the deploy. Safe to run at any time and as often as you like: every
write is an upsert, a checkpoint lets a stopped run resume, and a finished run makes the
next one a no-op (the daily `automation_repair` timer runs it when it finds the old
layout). See shared/tickets/reindex.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.tickets import reindex


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.reindex",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=None,
                        help="stop after this many seconds (the next run resumes)")
    parser.add_argument("--again", action="store_true",
                        help="start over from the first ticket even if a run finished")
    args = parser.parse_args(argv)
    desk = await Helpdesk.start(Settings.from_env(os.environ))
    try:
        report = await reindex.reindex(desk, again=args.again, budget=args.budget)
    finally:
        await desk.close()
    for line in report.lines():
        print(line)
    return 0 if report.finished else 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
