"""Daily summaries in the `reports` table, and what each ticket last added to them.

A day's rows are `all` and one per dimension value (`team|sysadmins-developers`), each
holding its counters as JSON. Every event of a day adds to that day's `all` row, so each
row is kept as `SHARDS` parts: a ticket always adds to the part its number picks, and
readers add the parts up. Each part lives in a partition of its own
(`d|2026-11-27|03`), so a day's writes spread over `SHARDS` partitions instead of
crowding one (Azure's target is about 2,000 entities a second per partition). Adding a
ticket's change to a day is one entity group transaction in its part's partition: the
rows, updated under their ETags, and a marker row `~m|<ticket>|<revision>` inserted. The
marker makes the addition happen at most once per revision: a second try finds it and
stops, a concurrent one fails the transaction and reads again. (Desks from before kept
all parts in one partition per day, `d|2026-11-27`; readers add those rows in too. A fold
interrupted by the upgrade itself, its marker in the old partition, would be added again:
`python -m tools.rebuild_reports` recomputes every day from the tickets.)

What a ticket has added (`applied`) and is about to add (`pending`) live in its own
partition of the tickets table (row `metrics`), which the ticket read brings for free.
Writing `pending` first, under the ticket row's ETag, serialises the handlers of one
ticket, and lets whichever handler comes next finish an addition a crash interrupted.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.counters import Contribution, Counters, add_into
from shared.storage import failures, transactions
from shared.storage.entities import METRICS as RECORD_KEY
from shared.storage.keys import join, key_part

DAY_PREFIX = "d|"
MARKER_PREFIX = "~m|"  # after every dimension row, so a range of rows never reads markers
RETRIES = 30
SHARDS = 8
SHARD_MARK = ":"  # `team|sysadmins-developers:3`: part 3 of the row (Azure refuses "#" in keys)
PART_END = "|~"  # after every part's partition of a day: `d|<day>|00` … `d|<day>|07` < `d|<day>|~`


def day_partition(day: str, shard: int) -> str:
    """The partition of a day's part `shard` (its rows and the markers of its tickets)."""
    return f"{DAY_PREFIX}{day}|{shard:02d}"


def day_of(partition: str) -> str:
    """The day of a partition, in either layout (`d|<day>|<part>`, or the old `d|<day>`)."""
    return partition[len(DAY_PREFIX):].split("|", 1)[0]


@dataclass(frozen=True)
class MetricsRecord:
    revision: int
    applied: Contribution
    pending: Contribution | None
    etag: str | None  # None: not stored yet


def encode(contribution: Contribution) -> str:
    return json.dumps([[day, row, counters] for (day, row), counters in sorted(contribution.items())],
                      separators=(",", ":"))


def decode(text: str | None) -> Contribution:
    return {(day, row): counters for day, row, counters in json.loads(text or "[]")}


def record_from_entity(entity: Any) -> MetricsRecord:
    if entity is None:
        return MetricsRecord(revision=0, applied={}, pending=None, etag=None)
    pending = entity.get("pending")
    return MetricsRecord(revision=int(entity["revision"]), applied=decode(entity.get("applied")),
                         pending=decode(pending) if pending else None,
                         etag=entity.metadata["etag"])


def row_key(row: str) -> str:
    """`team|service desk` → a RowKey Azure accepts (the value part is encoded)."""
    dim, _, value = row.partition("|")
    return join(dim, key_part(value)) if value else dim


@failures.store
class ReportStore:
    def __init__(self, *, reports: TableClient, tickets: TableClient) -> None:
        self._reports = reports
        self._tickets = tickets
        # One addition at a time per row part within this process: a worker handles many
        # messages at once, and they would otherwise mostly race each other for the ETag.
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    # -- the per-ticket record ------------------------------------------------------------

    async def read_record(self, number: str) -> MetricsRecord:
        try:
            return record_from_entity(await self._tickets.get_entity(number, RECORD_KEY))
        except ResourceNotFoundError:
            return record_from_entity(None)

    async def write_record(self, number: str, record: MetricsRecord, *, revision: int,
                           applied: Contribution, pending: Contribution | None,
                           force: bool = False) -> str | None:
        """Replace the record if it is still `record` (its ETag): the new ETag, or None if
        it changed meanwhile. `force` writes whatever is there (the rebuild)."""
        entity = {"PartitionKey": number, "RowKey": RECORD_KEY, "revision": revision,
                  "applied": encode(applied), "pending": encode(pending) if pending is not None else ""}
        try:
            if force:
                result = await self._tickets.upsert_entity(entity, mode=UpdateMode.REPLACE)
            elif record.etag is None:
                result = await self._tickets.create_entity(entity)
            else:
                result = await self._tickets.update_entity(entity, mode=UpdateMode.REPLACE, etag=record.etag,
                                                           match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError):
            return None
        return str(result["etag"])

    # -- the daily summaries ------------------------------------------------------------

    async def add_to_day(self, day: str, rows: dict[str, Counters], *, marker: str, shard: int) -> bool:
        """Add counters to a day's rows once per marker; False if the marker was there.
        The rows are the ticket's part of each (`shard`), in that part's partition."""
        lock = self._locks.setdefault((day, shard % SHARDS), asyncio.Lock())
        async with lock:
            return await self._add_to_day(day, rows, marker=marker, shard=shard % SHARDS)

    async def _add_to_day(self, day: str, rows: dict[str, Counters], *, marker: str, shard: int) -> bool:
        partition = day_partition(day, shard)
        marker_key = MARKER_PREFIX + marker
        keys = {f"{row_key(row)}{SHARD_MARK}{shard}": row for row in rows}
        names = [f"r{i}" for i in range(len(keys) + 1)]
        params = {"pk": partition, **dict(zip(names, [marker_key, *keys], strict=True))}
        query = "PartitionKey eq @pk and (" + " or ".join(f"RowKey eq @{n}" for n in names) + " )"
        for attempt in range(RETRIES):
            found = {e["RowKey"]: e async for e in self._reports.query_entities(query, parameters=params)}
            if marker_key in found:
                return False
            ops: list[tuple[Any, ...]] = [("create", {"PartitionKey": partition, "RowKey": marker_key})]
            for key, row in keys.items():
                entity = found.get(key)
                before = json.loads(entity["c"]) if entity else {}
                counters = add_into(before, rows[row])
                new = {"PartitionKey": partition, "RowKey": key, "row": row, "c": json.dumps(counters)}
                if entity is None:
                    ops.append(("create", new))
                else:
                    ops.append(("update", new, {"mode": UpdateMode.REPLACE, "etag": entity.metadata["etag"],
                                                "match_condition": MatchConditions.IfNotModified}))
            try:
                await transactions.submit(self._reports, ops)
                return True
            except TableTransactionError:
                # Another ticket's handler changed one of the rows (or took the marker):
                # read again and retry, after a random wait that grows with each try.
                await asyncio.sleep(random.uniform(0, min(1.0, 0.01 * 2 ** attempt)))
        raise RuntimeError(f"could not add to the summaries of {day} after {RETRIES} tries")

    async def read_days(self, first: str, last: str, *, rows: str | None = None
                        ) -> AsyncIterator[tuple[str, str, Counters]]:
        """(day, row, counters) for the days first..last; `rows` a dimension, `all`, or None for all."""
        clauses = ["PartitionKey ge @lo", "PartitionKey lt @hi"]
        params = {"lo": DAY_PREFIX + first, "hi": DAY_PREFIX + last + PART_END}
        if rows == "all":
            clauses += ["RowKey ge @rlo", "RowKey lt @rhi"]
            params |= {"rlo": "all" + SHARD_MARK, "rhi": "all" + chr(ord(SHARD_MARK) + 1)}
        elif rows:
            clauses += ["RowKey ge @rlo", "RowKey lt @rhi"]
            params |= {"rlo": rows + "|", "rhi": rows + "}"}
        else:
            clauses.append("RowKey lt @marks")
            params["marks"] = MARKER_PREFIX
        async for entity in self._reports.query_entities(" and ".join(clauses), parameters=params,
                                                         select=["PartitionKey", "RowKey", "row", "c"]):
            if entity["RowKey"].startswith(MARKER_PREFIX):
                continue
            yield day_of(entity["PartitionKey"]), entity["row"], json.loads(entity["c"])

    async def read_all(self) -> Contribution:
        """Every day's rows, their parts added up."""
        out: Contribution = {}
        async for day, row, counters in self.read_days("0000-00-00", "9999-99-99"):
            out[(day, row)] = add_into(out.get((day, row), {}), counters)
        return {key: counters for key, counters in out.items() if counters}

    async def clear(self) -> None:
        """Delete every summary and marker (before a rebuild)."""
        batch: dict[str, list[tuple[Any, ...]]] = {}
        async for entity in self._reports.list_entities(select=["PartitionKey", "RowKey"]):
            ops = batch.setdefault(entity["PartitionKey"], [])
            ops.append(("delete", {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"]}))
            if len(ops) == 100:
                await transactions.submit(self._reports, ops)
                ops.clear()
        for ops in batch.values():
            if ops:
                await transactions.submit(self._reports, ops)

    async def write_day(self, day: str, rows: dict[str, Counters]) -> None:
        """Write a day's rows outright (the rebuild), 100 to a transaction."""
        entities = [{"PartitionKey": day_partition(day, 0), "RowKey": f"{row_key(row)}{SHARD_MARK}0", "row": row,
                     "c": json.dumps(counters)} for row, counters in rows.items()]
        for start in range(0, len(entities), 100):
            await transactions.submit(self._reports,
                [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in entities[start:start + 100]])

    async def ticket_numbers(self) -> AsyncIterator[str]:
        """Every ticket's number (the rebuild walks them all)."""
        async for entity in self._tickets.query_entities("RowKey eq 'ticket'", select=["PartitionKey"]):
            yield entity["PartitionKey"]
