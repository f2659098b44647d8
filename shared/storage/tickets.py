"""The ticket store: a ticket's partition (head, thread, attachment metadata, sent mail)
and its rows in the queue index."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.models import AttachmentInfo, ThreadEntry, Ticket
from shared.storage import entities as ent
from shared.storage import failures
from shared.storage.indexing import INDEX_PARTITION, index_keys, is_word_key, summary, tokens


def _code(exc: TableTransactionError) -> str | None:
    """The storage error code (the SDK sets it at run time; its stubs do not declare it)."""
    return getattr(exc, "error_code", None)


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
class TicketStore:
    def __init__(self, *, tickets: TableClient, index: TableClient) -> None:
        self._tickets = tickets
        self._index = index

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
            await self._tickets.submit_transaction(ops)
        except TableTransactionError as exc:
            if _code(exc) == "EntityAlreadyExists":
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
            results = await self._tickets.submit_transaction(ops)
        except TableTransactionError as exc:
            if _code(exc) in ("UpdateConditionNotSatisfied", "EntityAlreadyExists",
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

    # -- the queue index ---------------------------------------------------------------

    async def write_index(self, ticket: Ticket, *, stale: list[str]) -> None:
        """Make the ticket's index rows exactly `index_keys(ticket)`, removing `stale` ones.

        One transaction in the index partition, so a ticket moves between queues
        atomically. A stale row that is already gone fails the transaction (404); then
        the same operations run one by one, ignoring rows that are already gone: the
        write is idempotent, which is what lets a queue handler replay it as a repair.
        """
        ops = index_operations(ticket, stale=stale)
        try:
            await self._index.submit_transaction(ops)
        except TableTransactionError as exc:
            if _code(exc) != "ResourceNotFound":
                raise
            for op in ops:
                if op[0] == "upsert":
                    await self._index.upsert_entity(op[1], mode=UpdateMode.REPLACE)
                else:
                    await self._index.delete_entity(op[1]["PartitionKey"], op[1]["RowKey"])

    async def list_index(self, prefix: str, *, limit: int, after: str | None = None,
                         before: str | None = None,
                         filters: list[tuple[str, str]] | None = None,
                         exclude: list[tuple[str, str]] | None = None
                         ) -> list[dict[str, Any]]:
        """Up to `limit` rows of one index range, after the key `after` and before the key
        `before`, optionally narrowed by equality (`filters`) and inequality (`exclude`)
        on summary properties (server-side)."""
        query = self.range_query(prefix, after=after, before=before, filters=filters,
                            exclude=exclude, page=min(limit, 1000))
        rows: list[dict[str, Any]] = []
        async for row in query:
            rows.append(dict(row))
            if len(rows) >= limit:
                break
        return rows

    async def count_index(self, prefix: str, *, cap: int, before: str | None = None,
                          filters: list[tuple[str, str]] | None = None,
                          exclude: list[tuple[str, str]] | None = None) -> int:
        """How many rows one index range holds, up to `cap`: the same range query as a
        page, selecting only RowKey, so a count of up to 1,000 is one small request."""
        query = self.range_query(prefix, before=before, filters=filters, exclude=exclude,
                            page=min(cap, 1000), select=["RowKey"])
        count = 0
        async for _row in query:
            count += 1
            if count >= cap:
                break
        return count

    def range_query(self, prefix: str, *, after: str | None = None, before: str | None = None,
               filters: list[tuple[str, str]] | None = None,
               exclude: list[tuple[str, str]] | None = None, page: int,
               select: list[str] | None = None) -> Any:
        """The SDK's paged query over one index range (no request is sent until it is read)."""
        clauses = ["PartitionKey eq @pk", "RowKey gt @low" if after else "RowKey ge @low",
                   "RowKey lt @high"]
        parameters: dict[str, Any] = {"pk": INDEX_PARTITION, "low": after or prefix,
                                      "high": before or prefix + "\x7f"}
        conditions = [(name, "eq", value) for name, value in filters or []]
        conditions += [(name, "ne", value) for name, value in exclude or []]
        for i, (name, op, value) in enumerate(conditions):
            if not name.isidentifier():
                raise ValueError(f"bad property name {name!r}")
            clauses.append(f"{name} {op} @f{i}")
            parameters[f"f{i}"] = value
        return self._index.query_entities(" and ".join(clauses), parameters=parameters,
                                          results_per_page=page, select=select)

    async def updated_since(self, since: datetime) -> list[Ticket]:
        """The heads of every ticket changed at or after `since` (a scan: repair only)."""
        return [ent.ticket_from_entity(head) async for head in self._tickets.query_entities(
            "RowKey eq @head and updated_at ge @since",
            parameters={"head": ent.HEAD, "since": since})]

    async def index_keys_by_ticket(self) -> dict[str, set[str]]:
        """Every index row's key, by the ticket it belongs to (its key's last part)."""
        rows: dict[str, set[str]] = defaultdict(set)
        async for row in self._index.query_entities(
                "PartitionKey eq @pk", parameters={"pk": INDEX_PARTITION},
                select=["RowKey"], results_per_page=1000):
            key = row["RowKey"]
            rows[key.rpartition("|")[2]].add(key)
        return rows

    async def attachment_blobs(self) -> set[str]:
        """The blob of every attachment any ticket holds."""
        return {row["blob_name"] async for row in self._tickets.query_entities(
            "RowKey ge @lo and RowKey lt @hi",
            parameters={"lo": ent.ATTACHMENT_PREFIX, "hi": ent.ATTACHMENT_PREFIX[:-1] + "."},
            select=["blob_name"])}


def index_operations(ticket: Ticket, *, stale: list[str]) -> list[tuple[Any, ...]]:
    """The transaction operations that make the ticket's index rows `index_keys(ticket)`."""
    wanted = index_keys(ticket)
    props = summary(ticket)
    word_props = {**props, "words": " ".join(tokens(ticket))}
    ops: list[tuple[Any, ...]] = [
        ("upsert", {"PartitionKey": INDEX_PARTITION, "RowKey": key,
                    **(word_props if is_word_key(key) else props)},
         {"mode": UpdateMode.REPLACE})
        for key in wanted
    ]
    ops += [
        ("delete", {"PartitionKey": INDEX_PARTITION, "RowKey": key})
        for key in sorted(set(stale) - set(wanted))
    ]
    return ops
