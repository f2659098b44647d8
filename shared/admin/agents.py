"""An agent's directory record, kept in step with their sign-in.

Agents are not registered by hand: the first request of a signed-in principal with an
agent role creates their record (id, name, email and roles from the token; no teams,
available), as Zammad and osTicket do with single sign-on. A later request refreshes
name, email and roles when the token says otherwise (the name only where the token has
a display name, not just an address: the local sign-in has none, and an admin's name
stays); teams and availability stay what an admin set. Creating is an insert, so two
first requests at once make one record.

An agent an admin removed stays removed: the removal is remembered (a tombstone in the
directory), their next sign-in does not create them again and their role in the token
no longer lets them act (403), until an admin puts them back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from shared.core.auth import ROLES, Principal
from shared.core.directory import Agent
from shared.core.errors import Forbidden

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)


def _from_token(principal: Principal) -> Agent | None:
    """The record the token describes; None when it cannot name a valid agent."""
    try:
        return Agent(id=principal.user_id,
                     name=principal.display_name or principal.name or principal.user_id,
                     email=principal.email or "",
                     roles=sorted(role for role in principal.roles if role in ROLES))
    except ValidationError:
        return None


def _refreshed(current: Agent, token: Agent, *, name_given: bool) -> Agent | None:
    name = token.name if name_given else current.name
    if (current.name, current.email, sorted(current.roles)) == (name, token.email, token.roles):
        return None
    return current.model_copy(update={"name": name, "email": token.email,
                                      "roles": token.roles})


async def keep_agent_record(principal: Principal, *, desk: Helpdesk) -> None:
    """Create or refresh the signed-in agent's record; 403 for a removed agent."""
    if not principal.has("agent"):
        return
    if any(a.id == principal.user_id for a in await desk.directory.removed(Agent)):
        raise Forbidden("An admin removed your agent account; ask an admin to restore it.")
    token = _from_token(principal)
    if token is None:
        log.info("agent %r has no usable email in their token; no directory record",
                    principal.user_id)
        return
    current = await desk.directory.get(Agent, principal.user_id)
    if current is None:
        if await desk.directory.add(token):
            log.info("agent %s added to the directory at their first sign-in", token.id)
        return
    named = principal.display_name is not None
    if _refreshed(current, token, name_given=named) is not None:
        await desk.directory.modify(Agent, token.id,
                                    lambda now: _refreshed(now, token, name_given=named))
