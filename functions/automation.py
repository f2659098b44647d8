"""Timer-triggered automation: auto-close of abandoned tickets."""

from __future__ import annotations

import logging

import azure.functions as func

from functions.deps import helpdesk
from shared import autoclose

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("automation_autoclose")
@bp.timer_trigger(arg_name="timer", schedule="0 */15 * * * *", run_on_startup=False)
async def automation_autoclose(timer: func.TimerRequest) -> None:
    desk = await helpdesk()
    result = await autoclose.run(desk, now=desk.clock(), default=desk.settings.auto_close)
    log.info("auto-close: reminded %d, resolved %d, closed %d", len(result.reminded),
             len(result.resolved), len(result.closed))
