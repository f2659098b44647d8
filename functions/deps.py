"""The process-wide `Helpdesk`, built on first use from the environment.

The Functions worker runs async invocations on one event loop per process, so one
set of async storage clients serves them all. Settings are validated here, once; a bad
setting fails the first invocation with a message naming it.
"""

from __future__ import annotations

import asyncio
import os

from shared.core.settings import Settings
from shared.helpdesk import Helpdesk

_desk: Helpdesk | None = None
_lock: asyncio.Lock | None = None


async def helpdesk() -> Helpdesk:
    global _desk, _lock
    if _desk is not None:
        return _desk
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _desk is None:
            _desk = await Helpdesk.start(Settings.from_env(os.environ))
    return _desk
