"""The `mailboxes` table: per fetched mailbox (PartitionKey = the mailbox's id), its fetch
state and its health.

RowKey `state` holds the lease and the checkpoint together, so that one ETag guards both:
a fetch takes the lease by writing its holder id and expiry under the row's ETag (two
fetches of one mailbox never run at once), and every advance of the checkpoint is a write
under the ETag it last wrote, which also extends the lease. A fetch whose lease was taken
over (it stalled past the expiry) learns so at its next advance (`LeaseLost`) and stops
before it touches the mailbox again.

RowKey `health` is what operators see (shared/core/mailboxes.py MailboxHealth), changed
under its ETag so that the alert's "email admins once" is claimed by one writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.queue.aio import QueueClient

from shared.core.mailboxes import Checkpoint, FetchRequest, MailboxHealth
from shared.storage import failures

STATE = "state"
_NEVER = datetime.fromtimestamp(0, UTC)  # an absent lease (the SDK drops None properties)
HEALTH = "health"


class LeaseLost(Exception):
    """Another fetch holds this mailbox now; stop without touching it."""


@dataclass
class Lease:
    mailbox: str
    holder: str
    etag: str
    checkpoint: Checkpoint | None


@failures.store
class MailboxStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def acquire(self, mailbox: str, holder: str, *, now: datetime,
                      seconds: float) -> Lease | None:
        """The mailbox's lease for `seconds`, with its checkpoint; None while another
        fetch holds an unexpired one."""
        until = now + timedelta(seconds=seconds)
        try:
            entity = await self._table.get_entity(mailbox, STATE)
        except ResourceNotFoundError:
            try:
                meta = await self._table.create_entity({
                    "PartitionKey": mailbox, "RowKey": STATE, "holder": holder,
                    "lease_until": until, "checkpoint": ""})
            except ResourceExistsError:
                return None  # another fetch created it this instant
            return Lease(mailbox, holder, meta["etag"], None)
        held_until = entity.get("lease_until")
        if entity.get("holder") and held_until is not None and held_until > now:
            return None
        entity["holder"] = holder
        entity["lease_until"] = until
        try:
            meta = await self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            return None
        raw = entity.get("checkpoint") or ""
        return Lease(mailbox, holder, meta["etag"],
                     Checkpoint.model_validate_json(raw) if raw else None)

    async def advance(self, lease: Lease, checkpoint: Checkpoint, *, now: datetime,
                      seconds: float) -> None:
        """Write the checkpoint and extend the lease, under the lease's ETag."""
        await self._write(lease, checkpoint, holder=lease.holder,
                          until=now + timedelta(seconds=seconds))

    async def release(self, lease: Lease) -> None:
        """Give the lease back (the checkpoint stays); quietly when already lost."""
        try:
            await self._write(lease, lease.checkpoint, holder="", until=None)
        except LeaseLost:
            pass

    async def _write(self, lease: Lease, checkpoint: Checkpoint | None, *, holder: str,
                     until: datetime | None) -> None:
        entity = {"PartitionKey": lease.mailbox, "RowKey": STATE, "holder": holder,
                  "lease_until": until or _NEVER,
                  "checkpoint": checkpoint.model_dump_json() if checkpoint else ""}
        try:
            meta = await self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=lease.etag,
                match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            raise LeaseLost(lease.mailbox) from None
        lease.etag = meta["etag"]
        lease.checkpoint = checkpoint

    async def checkpoint(self, mailbox: str) -> Checkpoint | None:
        try:
            entity = await self._table.get_entity(mailbox, STATE)
        except ResourceNotFoundError:
            return None
        raw = entity.get("checkpoint") or ""
        return Checkpoint.model_validate_json(raw) if raw else None

    async def health(self, mailbox: str) -> MailboxHealth:
        try:
            entity = await self._table.get_entity(mailbox, HEALTH)
        except ResourceNotFoundError:
            return MailboxHealth()
        return MailboxHealth.model_validate_json(entity["json"])

    async def all_health(self) -> dict[str, MailboxHealth]:
        return {entity["PartitionKey"]: MailboxHealth.model_validate_json(entity["json"])
                async for entity in self._table.query_entities("RowKey eq @r",
                                                               parameters={"r": HEALTH})}

    async def change_health(self, mailbox: str,
                            change: Callable[[MailboxHealth], MailboxHealth | None], *,
                            tries: int = 10) -> tuple[MailboxHealth, bool]:
        """Apply `change` under the row's ETag (again on a race); `change` returns None to
        leave it. (the health now, whether this call changed it)"""
        for _ in range(tries):
            try:
                entity = await self._table.get_entity(mailbox, HEALTH)
                current = MailboxHealth.model_validate_json(entity["json"])
                etag: str | None = entity.metadata["etag"]
            except ResourceNotFoundError:
                current, etag = MailboxHealth(), None
            changed = change(current)
            if changed is None:
                return current, False
            row = {"PartitionKey": mailbox, "RowKey": HEALTH, "json": changed.model_dump_json()}
            try:
                if etag is None:
                    await self._table.create_entity(row)
                else:
                    await self._table.update_entity(
                        row, mode=UpdateMode.REPLACE, etag=etag,
                        match_condition=MatchConditions.IfNotModified)
            except (ResourceExistsError, ResourceModifiedError):
                continue
            return changed, True
        raise LeaseLost(f"{mailbox}: health kept changing under us")

    async def forget(self, mailbox: str) -> None:
        """A removed mailbox: its state and health go (a new one of that id starts anew)."""
        for row in (STATE, HEALTH):
            try:
                await self._table.delete_entity(mailbox, row)
            except ResourceNotFoundError:
                pass


@failures.store
class FetchQueue:
    """The `mailbox-fetch` queue."""

    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    async def publish(self, request: FetchRequest) -> None:
        await self._queue.send_message(request.model_dump_json())
