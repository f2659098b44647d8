"""The ticket store's index rows (`shared/storage/indexing.py` says which rows a ticket
has and where): the active queue rows, the closed tickets, the requesters' lists and the
search words, written and read; the old layout's clean-up and the reindex' checkpoint.

`TicketIndex` is the base of `TicketStore` (`shared/storage/tickets.py`, a ticket's own
partition): the desk uses one object, `desk.tickets`, for both.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter
from itertools import islice
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.models import Ticket
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


@failures.store
class TicketIndex:
    """`index` holds a client for each index table (`INDEX_TABLES`), by name."""

    def __init__(self, *, index: dict[str, TableClient]) -> None:
        self._tables = index
        # Index entities written (upserted or deleted) by this store, by table: what the
        # tests and the benchmark count per intake and per action.
        self.written: Counter[str] = Counter()

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
            clauses, parameters = key_bounds(("PartitionKey eq @pk", "pk", partition),
                                             ("RowKey gt @after", "after", after),
                                             ("RowKey ge @low", "low", low),
                                             ("RowKey lt @high", "high", high))
            return await read_rows(table, clauses, parameters, conditions, limit=limit,
                                   select=select)

        parts = await asyncio.gather(*(one(p) for p in active_partitions()))
        rows = sorted((row for part in parts for row in part), key=lambda r: r["RowKey"])
        return rows[:limit] if limit is not None else rows

    async def count_active(self, conditions: list[Condition], *, cap: int) -> int:
        """How many active rows meet `conditions`, up to `cap`: each partition's read
        selects only RowKey and stops at the cap."""
        table = self._tables[ACTIVE_TABLE]
        parts = await asyncio.gather(*(
            read_rows(table, ["PartitionKey eq @pk"], {"pk": p}, conditions, limit=cap,
                      select=["RowKey"]) for p in active_partitions()))
        return min(cap, sum(len(part) for part in parts))

    async def closed_rows(self, conditions: list[Condition], *, after: str | None = None,
                          first_day: str | None = None, end_day: str | None = None,
                          limit: int | None = None, select: list[str] | None = None
                          ) -> list[dict[str, Any]]:
        """Closed tickets' rows in created order (the partitions are days and every key
        starts with its day, so one query over the day range is in key order)."""
        clauses, parameters = key_bounds(
            ("PartitionKey ge @afterday", "afterday", None if after is None else after[:8]),
            ("RowKey gt @after", "after", after),
            ("PartitionKey ge @first", "first", first_day),
            ("PartitionKey lt @end", "end", end_day))
        return await read_rows(self._tables[CLOSED_TABLE], clauses, parameters, conditions,
                               limit=limit, select=select)

    async def requester_rows(self, email: str, *, limit: int) -> list[dict[str, Any]]:
        """A requester's tickets, newest first."""
        return await read_rows(self._tables[REQUESTERS_TABLE], ["PartitionKey eq @pk"],
                               {"pk": requester_partition(email)}, [], limit=limit)

    async def word_rows(self, token: str, *, limit: int) -> list[dict[str, Any]]:
        """The word rows of every word beginning with `token`, word by word, newest first
        (its key range in each bucket partition, read in parallel and merged)."""
        low, high = word_range(token)
        table = self._tables[WORDS_TABLE]
        parts = await asyncio.gather(*(
            read_rows(table, ["PartitionKey eq @pk", "RowKey ge @low", "RowKey lt @high"],
                      {"pk": partition, "low": low, "high": high}, [], limit=limit)
            for partition in word_partitions()))
        merged = islice(heapq.merge(*parts, key=lambda row: row["RowKey"]), limit)
        return [{**row, "number": word_row_number(row["RowKey"])} for row in merged]

    # -- erasure (shared/admin/erasure.py) ----------------------------------------------

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

    # -- the old layout and the reindex' checkpoint (shared/tickets/reindex.py) -----------

    async def old_layout(self) -> bool:
        """Whether any row of the old index (one partition `idx`) or of the first search
        layout (the table `ticketwords`) is left."""
        rows = await read_rows(self._tables[ACTIVE_TABLE], ["PartitionKey eq @pk"],
                               {"pk": OLD_PARTITION}, [], limit=1, select=["RowKey"])
        return bool(rows) or await self._old_words_left()

    async def _old_words_left(self) -> bool:
        old = self._tables.get(OLD_WORDS_TABLE)
        if old is None:
            return False
        try:
            return bool(await read_rows(old, [], {}, [], limit=1, select=["RowKey"]))
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
        rows = await read_rows(table, ["PartitionKey eq @pk"], {"pk": OLD_PARTITION}, [],
                               limit=limit, select=["RowKey"])
        for start in range(0, len(rows), 100):
            ops = [("delete", {"PartitionKey": OLD_PARTITION, "RowKey": r["RowKey"]})
                   for r in rows[start:start + 100]]
            try:
                await transactions.submit(table, ops)
            except TableTransactionError as exc:
                if transactions.error_code(exc) != "ResourceNotFound":
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


def key_bounds(*bounds: tuple[str, str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The query clauses and parameters of the bounds that are given: each bound is
    (clause, its parameter's name, value), left out when the value is None."""
    given = [(clause, name, value) for clause, name, value in bounds if value is not None]
    return [clause for clause, _, _ in given], {name: value for _, name, value in given}


async def read_rows(table: TableClient, clauses: list[str], parameters: dict[str, Any],
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
