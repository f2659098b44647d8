"""Queue-triggered notifications: ticket events become emails."""

from __future__ import annotations

import azure.functions as func

from functions.deps import helpdesk
from shared.core import telemetry
from shared.core.events import TicketEvent
from shared.notifications.notify import handle_escalation, handle_event
from shared.sla import flow
from shared.storage.clients import ESCALATIONS_QUEUE, EVENTS_QUEUE

bp = func.Blueprint()


@bp.function_name("notifications_send")
@bp.queue_trigger(arg_name="msg", queue_name=EVENTS_QUEUE, connection="AzureWebJobsStorage")
async def notifications_send(msg: func.QueueMessage) -> None:
    # A message that does not parse raises here; after maxDequeueCount tries the host
    # moves it to the poison queue, where an admin can look at it.
    event = TicketEvent.model_validate_json(msg.get_body())
    with telemetry.consuming("notifications_send", event.traceparent, ticket=event.ticket):
        await handle_event(event, desk=await helpdesk())


@bp.function_name("escalations_notify")
@bp.queue_trigger(arg_name="msg", queue_name=ESCALATIONS_QUEUE, connection="AzureWebJobsStorage")
async def escalations_notify(msg: func.QueueMessage) -> None:
    event = TicketEvent.model_validate_json(msg.get_body())
    desk = await helpdesk()
    with telemetry.consuming("escalations_notify", event.traceparent, ticket=event.ticket):
        if event.kind == "sla_check":
            await flow.check_ticket(event.ticket, desk=desk,
                                       escalate=desk.settings.sla_escalate_on_breach)
        else:
            await handle_escalation(event, desk=desk)
