"""The ticket store: a ticket's partition (head, thread, attachment metadata, sent mail),
its scans (repair, reindex, the attachment sweep) and the erasure's rewrite of it.

`TicketStore` inherits the ticket's index rows (the active queue rows, the closed
tickets, the requesters' lists, the search words) from `TicketIndex`
(`shared/storage/ticketindex.py`), so `desk.tickets` is one object for both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.models import AttachmentInfo, ThreadEntry, Ticket
from shared.storage import entities as ent
from shared.storage import failures, transactions
from shared.storage.indexing import index_keys
from shared.storage.ticketindex import TicketIndex, read_rows


class NumberTaken(Exception):
    """The drawn ticket number already exists; draw another."""


class Stale(Exception):
    """The ticket's head changed since it was read (its storage ETag no longer matches)."""


@dataclass
class StoredTicket:
    ticket: Ticket
    thread: list[ThreadEntry]
    attachments: list[AttachmentInfo]
    blob_names: dict[str, str]
    index_keys: list[str]
    # The head's storage ETag: every write to the head (a person's action or a record the
    # desk adds on its own, such as an SLA warning) moves it; conditional writes use it.
    etag: str
    # What the ticket last added to the daily reports (shared/storage/reports.py), read
    # with the rest of the partition; None when nothing was added yet.
    metrics: dict[str, Any] | None = None
    # The version of what agents decide on (shared/core/actions.py `moves_version`): the ETag
    # the HTTP API hands out. Records the desk adds on its own leave it as it was.
    version: int = 0


@failures.store
class TicketStore(TicketIndex):
    """`tickets` is the tickets table; `index` holds a client for each index table
    (`INDEX_TABLES`), by name (`TicketIndex`)."""

    def __init__(self, *, tickets: TableClient, index: dict[str, TableClient]) -> None:
        super().__init__(index=index)
        self._tickets = tickets

    async def create(
        self,
        ticket: Ticket,
        entries: list[ThreadEntry],
        attachments: list[tuple[AttachmentInfo, str]],
    ) -> None:
        """Write the head, its first entries and attachment metadata in one transaction."""
        ops: list[tuple[str, dict[str, Any]]] = [
            ("create", ent.ticket_entity(ticket, index_keys=index_keys(ticket), version=1))
        ]
        ops += [("create", ent.entry_entity(ticket.number, e)) for e in entries]
        ops += [
            ("create", ent.attachment_entity(ticket.number, info, blob_name=blob))
            for info, blob in attachments
        ]
        try:
            await transactions.submit(self._tickets, ops)
        except TableTransactionError as exc:
            if transactions.error_code(exc) == "EntityAlreadyExists":
                raise NumberTaken(ticket.number) from exc
            raise

    async def update(
        self,
        ticket: Ticket,
        entry: ThreadEntry,
        attachments: list[tuple[AttachmentInfo, str]],
        *,
        etag: str,
        version: int,
        more: list[ThreadEntry] | None = None,
    ) -> str:
        """Replace the head (only if it still has the storage ETag `etag`), now at
        `version`, and add the entry, in one transaction. Returns the new storage ETag;
        raises `Stale` if anything changed the head meanwhile."""
        head = ent.ticket_entity(ticket, index_keys=index_keys(ticket), version=version)
        ops: list[tuple[Any, ...]] = [
            ("update", head, {"mode": UpdateMode.REPLACE, "etag": etag,
                              "match_condition": MatchConditions.IfNotModified}),
            ("create", ent.entry_entity(ticket.number, entry)),
        ]
        ops += [("create", ent.entry_entity(ticket.number, e)) for e in more or []]
        ops += [
            ("create", ent.attachment_entity(ticket.number, info, blob_name=blob))
            for info, blob in attachments
        ]
        try:
            results = await transactions.submit(self._tickets, ops)
        except TableTransactionError as exc:
            if transactions.error_code(exc) in ("UpdateConditionNotSatisfied", "EntityAlreadyExists",
                                  "ResourceNotFound") or exc.status_code == 412:
                raise Stale(ticket.number) from exc
            raise
        return results[0]["etag"]

    async def get(self, number: str) -> StoredTicket | None:
        """The whole partition in one query (paged by the SDK past 1,000 entities)."""
        head: Any = None
        thread: list[ThreadEntry] = []
        attachments: list[AttachmentInfo] = []
        blob_names: dict[str, str] = {}
        metrics = None
        async for entity in self._tickets.query_entities(
            "PartitionKey eq @pk", parameters={"pk": number}
        ):
            key = entity["RowKey"]
            if key == ent.HEAD:
                head = entity
            elif key.startswith(ent.ENTRY_PREFIX):
                thread.append(ent.entry_from_entity(entity))
            elif key.startswith(ent.ATTACHMENT_PREFIX):
                info = ent.attachment_from_entity(entity)
                attachments.append(info)
                blob_names[info.id] = entity["blob_name"]
            elif key.startswith(ent.MAIL_PREFIX) and entity.get("state") == "sent":
                thread.append(ent.mail_entry(entity))
            elif key == ent.METRICS:
                metrics = entity
        if head is None:
            return None
        thread.sort(key=lambda e: (e.at, e.seq))
        return StoredTicket(
            ticket=ent.ticket_from_entity(head),
            thread=thread,
            attachments=attachments,
            blob_names=blob_names,
            index_keys=json.loads(head.get("index_keys") or "[]"),
            etag=head.metadata["etag"],
            metrics=metrics,
            version=ent.version_of(head),
        )

    async def head(self, number: str) -> Ticket | None:
        """The ticket's head alone (one point read): what a linked ticket shows."""
        try:
            entity = await self._tickets.get_entity(number, ent.HEAD)
        except ResourceNotFoundError:
            return None
        return ent.ticket_from_entity(entity)

    async def get_attachment(self, number: str, attachment_id: str
                             ) -> tuple[AttachmentInfo, str] | None:
        try:
            entity = await self._tickets.get_entity(number, ent.attachment_key(attachment_id))
        except ResourceNotFoundError:
            return None
        return ent.attachment_from_entity(entity), entity["blob_name"]

    # -- sent mail: the record that makes a notification idempotent -------------------

    async def claim_mail(self, number: str, seq: int, purpose: str, *, now: datetime,
                         stale_after: timedelta) -> Literal["claimed", "sent", "busy"]:
        """Take the right to send one email: only one handler at a time gets "claimed".

        A claim older than `stale_after` (its handler died between claiming and recording)
        may be taken over; "busy" means another handler is sending it right now."""
        key = ent.mail_key(seq, purpose)
        try:
            await self._tickets.create_entity({"PartitionKey": number, "RowKey": key,
                                               "seq": seq, "purpose": purpose,
                                               "state": "sending", "claimed_at": now})
            return "claimed"
        except ResourceExistsError:
            pass
        entity = await self._tickets.get_entity(number, key)
        if entity.get("state") == "sent":
            return "sent"
        claimed_at = entity.get("claimed_at")
        if claimed_at is not None and now - claimed_at < stale_after:
            return "busy"
        entity["claimed_at"] = now
        try:
            await self._tickets.update_entity(entity, mode=UpdateMode.REPLACE,
                                              etag=entity.metadata["etag"],
                                              match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return "busy"
        return "claimed"

    async def release_mail(self, number: str, seq: int, purpose: str) -> None:
        """Give back a claim whose email was certainly not sent."""
        try:
            await self._tickets.delete_entity(number, ent.mail_key(seq, purpose))
        except ResourceNotFoundError:
            pass

    async def record_mail(self, number: str, seq: int, purpose: str, **props: Any) -> None:
        entity = {
            "PartitionKey": number,
            "RowKey": ent.mail_key(seq, purpose),
            "seq": seq,
            "purpose": purpose,
            "state": "sent",
            **props,
        }
        await self._tickets.upsert_entity(entity, mode=UpdateMode.REPLACE)

    # -- heads and scans ------------------------------------------------------------------

    async def heads(self, numbers: list[str]) -> dict[str, Ticket]:
        """The tickets of `numbers` (one point read of each head, in parallel)."""
        async def one(number: str) -> Ticket | None:
            try:
                return ent.ticket_from_entity(await self._tickets.get_entity(number, ent.HEAD))
            except ResourceNotFoundError:
                return None
        found = await asyncio.gather(*(one(n) for n in numbers))
        return {t.number: t for t in found if t is not None}

    async def updated_since(self, since: datetime) -> list[Ticket]:
        """The heads of every ticket changed at or after `since` (a scan: repair only)."""
        return [ent.ticket_from_entity(head) async for head in self._tickets.query_entities(
            "RowKey eq @head and updated_at ge @since",
            parameters={"head": ent.HEAD, "since": since})]

    async def heads_after(self, after: str, *, limit: int) -> list[Ticket]:
        """Up to `limit` tickets numbered after `after`, in number order (a scan: reindex)."""
        rows = await read_rows(self._tickets, ["PartitionKey gt @after", "RowKey eq @head"],
                               {"after": after, "head": ent.HEAD}, [], limit=limit)
        return [ent.ticket_from_entity(row) for row in rows]

    async def attachment_blobs(self) -> set[str]:
        """The blob of every attachment any ticket holds."""
        return {row["blob_name"] async for row in self._tickets.query_entities(
            "RowKey ge @lo and RowKey lt @hi",
            parameters={"lo": ent.ATTACHMENT_PREFIX, "hi": ent.ATTACHMENT_PREFIX[:-1] + "."},
            select=["blob_name"])}

    # -- erasure (shared/admin/erasure.py, erasers.py) ----------------------------------

    async def numbers_copying(self, address: str) -> list[str]:
        """The tickets that copy `address` (their `cc`): a scan of the heads, which only an
        erasure makes."""
        address = address.strip().lower()
        found = []
        async for head in self._tickets.query_entities(
                "RowKey eq @head", parameters={"head": ent.HEAD}, select=["PartitionKey", "cc"]):
            if address in json.loads(head.get("cc") or "[]"):
                found.append(head["PartitionKey"])
        return found

    async def rewrite(self, stored: StoredTicket, ticket: Ticket, *, entries: list[ThreadEntry],
                      drop_attachments: list[str], text: Callable[[str], str]) -> None:
        """Write an erased ticket over `stored`: the changed `entries`, the attachment
        records of `drop_attachments` deleted, every other record of the partition (sent
        mail, metrics) with `text` applied to its strings, and last the head, only if it
        still has the ETag it was read with (`Stale` otherwise: read it and start again).
        Each write but the head's is a replace or a delete of a row already gone, so a
        second run changes nothing."""
        for entry in entries:
            await self._tickets.upsert_entity(ent.entry_entity(ticket.number, entry),
                                              mode=UpdateMode.REPLACE)
        for attachment_id in drop_attachments:
            try:
                await self._tickets.delete_entity(ticket.number, ent.attachment_key(attachment_id))
            except ResourceNotFoundError:
                pass
        async for entity in self._tickets.query_entities(
                "PartitionKey eq @pk", parameters={"pk": ticket.number}):
            key = entity["RowKey"]
            if key == ent.HEAD or key.startswith(ent.ENTRY_PREFIX):
                continue
            changed = {k: text(v) if isinstance(v, str) and k not in ("PartitionKey", "RowKey") else v
                       for k, v in entity.items()}
            if changed != dict(entity):
                await self._tickets.upsert_entity(changed, mode=UpdateMode.REPLACE)
        head = ent.ticket_entity(ticket, index_keys=index_keys(ticket), version=stored.version + 1)
        try:
            await self._tickets.update_entity(head, mode=UpdateMode.REPLACE, etag=stored.etag,
                                              match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise Stale(ticket.number) from exc
