"""Choosing an agent in a team automatically: round-robin, or the available agent with
the fewest open tickets (ties broken round-robin). Agents marked unavailable are skipped.

The round-robin position of each team is a counter in the directory, advanced under its
ETag (`DirectoryStore.advance_rotation`): two tickets arriving at once never read the
same position, so they go to different agents.
"""

from __future__ import annotations

from typing import Literal

from shared.core.directory import Agent
from shared.core.errors import Conflict
from shared.core.lifecycle import Category, statuses
from shared.storage.directory import DirectoryStore
from shared.storage.tickets import TicketStore

Strategy = Literal["round-robin", "fewest-open"]


async def open_count(tickets: TicketStore, agent_id: str) -> int:
    return await tickets.count_active(
        [("assignee", "eq", agent_id), *(("status", "ne", s.value) for s in statuses(Category.DONE))],
        cap=1000)


async def pick_agent(team: str, *, strategy: Strategy, directory: DirectoryStore,
                     tickets: TicketStore) -> Agent | None:
    members = sorted((a for a in await directory.list(Agent) if team in a.teams and a.available),
                     key=lambda a: a.id)
    if not members:
        return None
    if strategy == "fewest-open":
        counts = {a.id: await open_count(tickets, a.id) for a in members}
        fewest = min(counts.values())
        members = [a for a in members if counts[a.id] == fewest]
        if len(members) == 1:
            return members[0]
    position = await directory.advance_rotation(team)
    if position is None:
        raise Conflict("Could not pick an agent: too many assignments at once.",
                       extra={"retry_after": 1})
    return members[position % len(members)]
