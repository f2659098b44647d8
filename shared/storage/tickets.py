"""The ticket store: a ticket's partition (head, thread, attachment metadata, sent mail)
and its index rows (`shared/storage/indexing.py`: the active queue rows, the closed
tickets, the requesters' lists, the search words)."""

from __future__ import annotations

import asyncio
import heapq
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.models import AttachmentInfo, ThreadEntry, Ticket
from shared.storage import entities as ent
from shared.storage import failures, transactions
from shared.storage.indexing import (
    ACTIVE_TABLE,
    CLOSED_TABLE,
    OLD_PARTITION,
    OLD_WORDS_TABLE,
    REQUESTERS_TABLE,
    WORDS_TABLE,
    active_partitions,
    candidate_keys,
    index_keys,
    live_address,
    parse_address,
    requester_partition,
    requester_row,
    summary,
    word_partitions,
    word_range,
    word_row_number,
    word_rows,
)


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
    """`index` holds a client for each index table (`INDEX_TABLES`), by name."""

    def __init__(self, *, tickets: TableClient, index: dict[str, TableClient]) -> None:
        self._tickets = tickets
        self._tables = index
        # Index entities written (upserted or deleted) by this store, by table: what the
        # tests and the benchmark count per intake and per action.
        self.written: Counter[str] = Counter()

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
            results = await transactions.submit(self._tickets, ops)
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

    # -- the index (shared/storage/indexing.py) ------------------------------------------

    async def write_index(self, ticket: Ticket, *, had: list[str]) -> int:
        """Make the ticket's index rows those of `index_keys(ticket)`; `had` lists the rows
        it had before (the head's `index_keys`, empty for a new ticket).

        The live row (active, or closed) is written with the ticket's summary; the
        requester row only if `had` lacks it (it never changes); a row in `had` the ticket
        no longer has is removed after the new one is written, so the ticket is never in
        neither. Every step is an upsert or a delete that ignores a row already gone: the
        write is idempotent, which lets a queue handler or the repair replay it. Returns
        how many entities it wrote (also added to `written`, by table).
        """
        wanted = index_keys(ticket)
        live = live_address(ticket)
        writes = [key for key in wanted if key == live or key not in had]
        count = 0
        for key in writes:
            await self._upsert(key, summary(ticket) if key == live else requester_row(ticket))
            count += 1
        for key in sorted(set(had) - set(wanted)):
            if parse_address(key) is not None:  # an old-layout key: tools.reindex drops those
                await self._delete(key)
                count += 1
        return count

    async def write_words(self, ticket: Ticket) -> int:
        """The ticket's search word rows (written once; rewriting them changes nothing)."""
        rows = word_rows(ticket)
        # One partition: one transaction (at most MAX_TOKENS rows, under its 100).
        await transactions.submit(self._tables[WORDS_TABLE],
                                  [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in rows])
        self.written[WORDS_TABLE] += len(rows)
        return len(rows)

    async def _upsert(self, key: str, props: dict[str, Any]) -> None:
        table, partition, row = _parsed(key)
        await self._tables[table].upsert_entity({"PartitionKey": partition, "RowKey": row, **props},
                                                mode=UpdateMode.REPLACE)
        self.written[table] += 1

    async def _delete(self, key: str) -> None:
        table, partition, row = _parsed(key)
        try:
            await self._tables[table].delete_entity(partition, row)
        except ResourceNotFoundError:
            pass
        self.written[table] += 1

    async def index_rows(self, ticket: Ticket) -> dict[str, dict[str, Any]]:
        """The rows this ticket has at any of its possible addresses (repair's check)."""
        async def one(key: str) -> dict[str, Any] | None:
            table, partition, row = _parsed(key)
            try:
                return dict(await self._tables[table].get_entity(partition, row))
            except ResourceNotFoundError:
                return None
        keys = candidate_keys(ticket)
        found = await asyncio.gather(*(one(key) for key in keys))
        return {key: row for key, row in zip(keys, found, strict=True) if row is not None}

    async def active_rows(self, conditions: list[Condition], *, after: str | None = None,
                          low: str | None = None, high: str | None = None,
                          limit: int | None = None, select: list[str] | None = None
                          ) -> list[dict[str, Any]]:
        """The active rows (every ticket but the closed) meeting `conditions`, in created
        order: the 16 partitions read in parallel, each up to `limit` rows after the key
        `after` (and within `low`..`high`), merged. Conditions are (property, operator,
        value), passed to the service as parameters."""
        table = self._tables[ACTIVE_TABLE]
        if select is not None and "RowKey" not in select:
            select = [*select, "RowKey"]

        async def one(partition: str) -> list[dict[str, Any]]:
            clauses = ["PartitionKey eq @pk"]
            parameters: dict[str, Any] = {"pk": partition}
            if after is not None:
                clauses.append("RowKey gt @after")
                parameters["after"] = after
            if low is not None:
                clauses.append("RowKey ge @low")
                parameters["low"] = low
            if high is not None:
                clauses.append("RowKey lt @high")
                parameters["high"] = high
            return await _read(table, clauses, parameters, conditions, limit=limit,
                               select=select)

        parts = await asyncio.gather(*(one(p) for p in active_partitions()))
        rows = sorted((row for part in parts for row in part), key=lambda r: r["RowKey"])
        return rows[:limit] if limit is not None else rows

    async def count_active(self, conditions: list[Condition], *, cap: int) -> int:
        """How many active rows meet `conditions`, up to `cap`: each partition's read
        selects only RowKey and stops at the cap."""
        table = self._tables[ACTIVE_TABLE]
        parts = await asyncio.gather(*(
            _read(table, ["PartitionKey eq @pk"], {"pk": p}, conditions, limit=cap,
                  select=["RowKey"]) for p in active_partitions()))
        return min(cap, sum(len(part) for part in parts))

    async def closed_rows(self, conditions: list[Condition], *, after: str | None = None,
                          first_day: str | None = None, end_day: str | None = None,
                          limit: int | None = None, select: list[str] | None = None
                          ) -> list[dict[str, Any]]:
        """Closed tickets' rows in created order (the partitions are days and every key
        starts with its day, so one query over the day range is in key order)."""
        clauses: list[str] = []
        parameters: dict[str, Any] = {}
        if after is not None:
            clauses += ["PartitionKey ge @afterday", "RowKey gt @after"]
            parameters.update(afterday=after[:8], after=after)
        if first_day is not None:
            clauses.append("PartitionKey ge @first")
            parameters["first"] = first_day
        if end_day is not None:
            clauses.append("PartitionKey lt @end")
            parameters["end"] = end_day
        return await _read(self._tables[CLOSED_TABLE], clauses, parameters, conditions,
                           limit=limit, select=select)

    async def requester_rows(self, email: str, *, limit: int) -> list[dict[str, Any]]:
        """A requester's tickets, newest first."""
        return await _read(self._tables[REQUESTERS_TABLE], ["PartitionKey eq @pk"],
                           {"pk": requester_partition(email)}, [], limit=limit)

    async def word_rows(self, token: str, *, limit: int) -> list[dict[str, Any]]:
        """The word rows of every word beginning with `token`, word by word, newest first
        (its key range in each bucket partition, read in parallel and merged)."""
        low, high = word_range(token)
        table = self._tables[WORDS_TABLE]
        parts = await asyncio.gather(*(
            _read(table, ["PartitionKey eq @pk", "RowKey ge @low", "RowKey lt @high"],
                  {"pk": partition, "low": low, "high": high}, [], limit=limit)
            for partition in word_partitions()))
        merged = islice(heapq.merge(*parts, key=lambda row: row["RowKey"]), limit)
        return [{**row, "number": word_row_number(row["RowKey"])} for row in merged]

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
        rows = await _read(self._tickets, ["PartitionKey gt @after", "RowKey eq @head"],
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

    async def drop_requester_rows(self, email: str) -> int:
        """Delete every requester row an address still has (an erasure's last check: a
        handler that read a ticket before it was erased may have written one back)."""
        count = 0
        for row in await self.requester_rows(email, limit=100_000):
            await self._delete(f"{REQUESTERS_TABLE}/{row['PartitionKey']}/{row['RowKey']}")
            count += 1
        return count

    async def replace_words(self, before: Ticket, after: Ticket) -> int:
        """Make the ticket's word rows those of `after`: its rows written, the rows of
        words only `before` had deleted (idempotent, like `write_words`)."""
        count = await self.write_words(after)
        keep = {row["RowKey"] for row in word_rows(after)}  # one partition: the bucket
        table = self._tables[WORDS_TABLE]
        for old in word_rows(before):
            if old["RowKey"] in keep:
                continue
            try:
                await table.delete_entity(old["PartitionKey"], old["RowKey"])
            except ResourceNotFoundError:
                pass
            self.written[WORDS_TABLE] += 1
            count += 1
        return count

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

    # -- the old layout and the reindex' checkpoint (shared/tickets/reindex.py) -----------

    async def old_layout(self) -> bool:
        """Whether any row of the old index (one partition `idx`) or of the first search
        layout (the table `ticketwords`) is left."""
        rows = await _read(self._tables[ACTIVE_TABLE], ["PartitionKey eq @pk"],
                           {"pk": OLD_PARTITION}, [], limit=1, select=["RowKey"])
        return bool(rows) or await self._old_words_left()

    async def _old_words_left(self) -> bool:
        old = self._tables.get(OLD_WORDS_TABLE)
        if old is None:
            return False
        try:
            return bool(await _read(old, [], {}, [], limit=1, select=["RowKey"]))
        except ResourceNotFoundError:  # never there, or dropped already
            return False

    async def drop_old_words(self) -> bool:
        """Delete the first search layout's table (once every ticket's words are in the
        new one); False if it was not there."""
        old = self._tables.get(OLD_WORDS_TABLE)
        if old is None or not await self._old_words_left():
            return False
        try:
            await old.delete_table()
        except ResourceNotFoundError:
            return False
        return True

    async def drop_old_layout(self, *, limit: int = 1000) -> int:
        """Delete up to `limit` rows of the old index, 100 to a transaction; returns how
        many were deleted (0 when none is left)."""
        table = self._tables[ACTIVE_TABLE]
        rows = await _read(table, ["PartitionKey eq @pk"], {"pk": OLD_PARTITION}, [],
                           limit=limit, select=["RowKey"])
        for start in range(0, len(rows), 100):
            ops = [("delete", {"PartitionKey": OLD_PARTITION, "RowKey": r["RowKey"]})
                   for r in rows[start:start + 100]]
            try:
                await transactions.submit(table, ops)
            except TableTransactionError as exc:
                if _code(exc) != "ResourceNotFound":
                    raise
                for _, row in ops:  # another run took some meanwhile: one by one
                    try:
                        await table.delete_entity(OLD_PARTITION, row["RowKey"])
                    except ResourceNotFoundError:
                        pass
        return len(rows)

    async def reindex_state(self) -> dict[str, Any] | None:
        try:
            return dict(await self._tables[ACTIVE_TABLE].get_entity(*REINDEX_STATE))
        except ResourceNotFoundError:
            return None

    async def save_reindex_state(self, **props: Any) -> None:
        partition, row = REINDEX_STATE
        await self._tables[ACTIVE_TABLE].upsert_entity(
            {"PartitionKey": partition, "RowKey": row, **props}, mode=UpdateMode.REPLACE)


Condition = tuple[str, str, Any]
OPERATORS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
# The reindex' checkpoint: a partition of its own in the active table, which no queue reads.
REINDEX_STATE = ("reindex", "state")


def _parsed(key: str) -> tuple[str, str, str]:
    parsed = parse_address(key)
    if parsed is None:
        raise ValueError(f"not an index address: {key!r}")
    return parsed


async def _read(table: TableClient, clauses: list[str], parameters: dict[str, Any],
                conditions: list[Condition], *, limit: int | None,
                select: list[str] | None = None) -> list[dict[str, Any]]:
    """Up to `limit` entities of one query; conditions become parameters, never text."""
    clauses = list(clauses)
    parameters = dict(parameters)
    for i, (name, op, value) in enumerate(conditions):
        if not name.isidentifier() or op not in OPERATORS:
            raise ValueError(f"bad condition {name!r} {op!r}")
        clauses.append(f"{name} {op} @c{i}")
        parameters[f"c{i}"] = value
    query = table.query_entities(" and ".join(clauses) or "PartitionKey ne ''",
                                 parameters=parameters,
                                 results_per_page=min(limit or 1000, 1000), select=select)
    rows: list[dict[str, Any]] = []
    async for row in query:
        rows.append(dict(row))
        if limit is not None and len(rows) >= limit:
            break
    return rows
