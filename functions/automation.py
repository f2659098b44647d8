"""Timer-triggered automation: the SLA sweep, auto-close of abandoned tickets, the daily
repair of what storage failures left half-done and the audit log's retention."""

from __future__ import annotations

import logging

import azure.functions as func

from functions.deps import helpdesk
from shared.admin import audit
from shared.core.errors import HelpdeskError
from shared.sla import flow
from shared.tickets import autoclose, repair

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("automation_autoclose")
@bp.timer_trigger(arg_name="timer", schedule="0 */15 * * * *", run_on_startup=False)
async def automation_autoclose(timer: func.TimerRequest) -> None:
    desk = await helpdesk()
    result = await autoclose.run(desk, now=desk.clock(), default=desk.settings.auto_close)
    log.info("auto-close: reminded %d, resolved %d, closed %d", len(result.reminded),
             len(result.resolved), len(result.closed))


@bp.function_name("automation_sla_sweep")
@bp.timer_trigger(arg_name="timer", schedule="0 * * * * *", run_on_startup=False)
async def automation_sla_sweep(timer: func.TimerRequest) -> None:
    desk = await helpdesk()
    run = await flow.sweep(desk, now=desk.clock())
    if run.due:
        log.info("SLA sweep: %d ticket(s) due", len(run.due))


@bp.function_name("automation_repair")
@bp.timer_trigger(arg_name="timer", schedule="0 17 3 * * *", run_on_startup=False)
async def automation_repair(timer: func.TimerRequest) -> None:
    """Daily: settle what storage failures left half-done (shared/tickets/repair.py), and
    delete the audit log's days past its retention (shared/admin/audit.py)."""
    desk = await helpdesk()
    # The audit log's retention (HELPDESK_AUDIT_RETENTION_DAYS): whole days past it go.
    # Quick, and before the repair's long run; a failure waits for tomorrow's run.
    try:
        pruned = await audit.prune(desk=desk, now=desk.clock())
        log.info("audit: %d entries past the retention deleted", pruned)
    except HelpdeskError as exc:
        log.warning("audit: the retention was not applied: %s", exc)
    report = await repair.repair(desk)
    log.info("repair: %s", "; ".join(report.lines()))
