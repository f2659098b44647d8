"""The `audit` table: the audit log, append-only.

One partition per UTC day, keyed by the day inverted (`99999999 - YYYYMMDD`), and in it
one row per entry keyed by the time inverted (`10**13 - epoch milliseconds`) and a random
suffix: one query over a range of partitions returns the newest entries first, and
retention deletes whole old days. The store offers no way to change an entry besides
completing it once with its outcome (`finish`, under the ETag `begin` got), and no way to
delete one besides `prune`, which removes whole days older than the retention.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.audit import Actor, AuditEntry, AuditQuery
from shared.storage import failures, transactions

_DAY_BASE = 99_999_999
_MS_BASE = 10**13


def day_key(day: date) -> str:
    return f"{_DAY_BASE - int(day.strftime('%Y%m%d')):08d}"


def _row_key(at: datetime) -> str:
    ms = int(at.timestamp() * 1000)
    return f"{_MS_BASE - ms:013d}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Written:
    """An entry as written: where it is and the ETag that lets it be completed once."""

    partition: str
    row: str
    etag: str

    @property
    def id(self) -> str:
        return f"{self.partition}.{self.row}"


def _entity(entry: AuditEntry) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "at": entry.at.astimezone(UTC), "actor_kind": entry.actor.kind,
        "actor_id": entry.actor.id, "actor_name": entry.actor.name,
        "actor_roles": " ".join(entry.actor.roles), "method": entry.method,
        "route": entry.route, "params": json.dumps(entry.params), "summary": entry.summary,
    }
    for name in ("ticket", "target", "status", "address"):
        if (value := getattr(entry, name)) is not None:
            entity[name] = value
    return entity


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=f"{row['PartitionKey']}.{row['RowKey']}", at=row["at"],
        actor=Actor(kind=row["actor_kind"], id=row["actor_id"], name=row.get("actor_name", ""),
                    roles=row.get("actor_roles", "").split()),
        method=row["method"], route=row["route"], params=json.loads(row.get("params") or "{}"),
        ticket=row.get("ticket"), target=row.get("target"), status=row.get("status"),
        summary=row.get("summary", ""), address=row.get("address"))


@failures.store
class AuditStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def begin(self, entry: AuditEntry) -> Written:
        """Write a new entry (never over another one)."""
        pk, rk = day_key(entry.at.astimezone(UTC).date()), _row_key(entry.at)
        meta = await self._table.create_entity({"PartitionKey": pk, "RowKey": rk,
                                                **_entity(entry)})
        return Written(pk, rk, meta["etag"])

    async def finish(self, written: Written, *, status: int, summary: str | None = None,
                     ticket: str | None = None, target: str | None = None) -> bool:
        """Complete an entry with its outcome, once; False if it was completed already."""
        update: dict[str, Any] = {"PartitionKey": written.partition, "RowKey": written.row,
                                  "status": status}
        for name, value in (("summary", summary), ("ticket", ticket), ("target", target)):
            if value is not None:
                update[name] = value
        try:
            await self._table.update_entity(update, mode=UpdateMode.MERGE, etag=written.etag,
                                            match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    async def page(self, query: AuditQuery, *, first: date, last: date,
                   after: tuple[str, str] | None) -> tuple[list[AuditEntry], tuple[str, str] | None]:
        """Up to `query.limit` entries of days first..last, newest first, after the key
        `after`; and the key to continue from when there are more."""
        clauses = ["PartitionKey ge @low", "PartitionKey le @high"]
        params: dict[str, Any] = {"low": day_key(last), "high": day_key(first)}
        if after is not None:
            clauses.append("(PartitionKey gt @apk or (PartitionKey eq @apk and RowKey gt @ark ))")
            params.update(apk=after[0], ark=after[1])
        for name, value in (("actor_id", query.actor), ("method", query.method)):
            if value:
                clauses.append(f"{name} eq @{name}")
                params[name] = value
        if query.target:
            clauses.append("(ticket eq @target or target eq @target )")
            params["target"] = query.target
        found: list[AuditEntry] = []
        keys: list[tuple[str, str]] = []
        rows = self._table.query_entities(" and ".join(clauses), parameters=params,
                                          results_per_page=min(query.limit + 1, 1000))
        async for row in rows:
            entry = _entry(dict(row))
            if not query.matches(entry):
                continue
            found.append(entry)
            keys.append((row["PartitionKey"], row["RowKey"]))
            if len(found) > query.limit:
                break
        if len(found) > query.limit:
            return found[:query.limit], keys[query.limit - 1]
        return found, None

    async def prune(self, *, keep_from: date, batch: int = 1000, most: int = 200_000) -> int:
        """Delete the entries of the days before `keep_from`, a day after another, 100 rows
        to a transaction, at most about `most` in one call (the timer's run stays short;
        the next run goes on); returns how many were deleted."""
        deleted = 0
        while deleted < most:
            rows = await self._old_rows(keep_from, batch)
            if not rows:
                return deleted
            by_day: dict[str, list[str]] = defaultdict(list)
            for row in rows:
                by_day[row["PartitionKey"]].append(row["RowKey"])
            for pk, keys in by_day.items():
                for start in range(0, len(keys), 100):
                    ops = [("delete", {"PartitionKey": pk, "RowKey": rk})
                           for rk in keys[start:start + 100]]
                    try:
                        await transactions.submit(self._table, ops)
                    except TableTransactionError:
                        for _, key in ops:  # another run took some meanwhile: one by one
                            try:
                                await self._table.delete_entity(pk, key["RowKey"])
                            except ResourceNotFoundError:
                                pass
            deleted += len(rows)
        return deleted

    async def _old_rows(self, keep_from: date, batch: int) -> list[dict[str, Any]]:
        query = self._table.query_entities(
            "PartitionKey gt @cut", parameters={"cut": day_key(keep_from)},
            select=["PartitionKey", "RowKey"], results_per_page=min(batch, 1000))
        rows: list[dict[str, Any]] = []
        async for row in query:
            rows.append(dict(row))
            if len(rows) >= batch:
                break
        return rows
