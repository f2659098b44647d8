"""Our entity group transactions (shared/storage/transactions.py) against Azurite: what
they write, what they answer, and each failure raised as the SDK's own
`submit_transaction` raises it (the same type, error code, status and failing index)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.data.tables import EdmType, EntityProperty, TableTransactionError, UpdateMode

from shared.helpdesk import Helpdesk
from shared.storage import transactions
from shared.storage.clients import TICKETS_TABLE

WHEN = datetime(2026, 12, 4, 10, 30, 15, 123456, tzinfo=UTC)


async def both(desk: Helpdesk, operations: Any) -> tuple[Any, Any]:
    """What the SDK's submit and ours each give (a result list or the raised error),
    each in a partition of its own so they do not meet."""
    table = desk.clients.table(TICKETS_TABLE)
    out = []
    for send in (table.submit_transaction, lambda ops: transactions.submit(table, ops)):
        partition = f"tx-{uuid.uuid4().hex[:12]}"
        try:
            out.append((partition, await send(operations(partition))))
        except TableTransactionError as exc:
            out.append((partition, exc))
    return out[0], out[1]


async def test_a_transaction_writes_every_type_and_answers_each_etag(desk: Helpdesk) -> None:
    def ops(pk: str) -> list[tuple[Any, ...]]:
        return [("create", {"PartitionKey": pk, "RowKey": "a", "text": "naïve ✓ 日本語 \U0001f600",
                            "at": WHEN, "blob": b"\x00\xff", "big": EntityProperty(2**40, EdmType.INT64),
                            "n": 7, "yes": True}),
                ("upsert", {"PartitionKey": pk, "RowKey": "b", "v": 1}, {"mode": UpdateMode.REPLACE}),
                ("upsert", {"PartitionKey": pk, "RowKey": "c", "v": 2}, {"mode": UpdateMode.MERGE})]

    (sdk_pk, sdk), (our_pk, ours) = await both(desk, ops)
    assert len(ours) == len(sdk) == 3
    assert all(r["etag"].startswith('W/"datetime') for r in ours)
    table = desk.clients.table(TICKETS_TABLE)
    for pk in (sdk_pk, our_pk):
        row = await table.get_entity(pk, "a")
        assert row["text"] == "naïve ✓ 日本語 \U0001f600"
        assert row["at"] == WHEN and row["blob"] == b"\x00\xff" and row["big"].value == 2**40
    # The etag a transaction answers is the entity's: a conditional update takes it.
    again = await transactions.submit(table, [
        ("update", {"PartitionKey": our_pk, "RowKey": "b", "v": 3},
         {"mode": UpdateMode.REPLACE, "etag": ours[1]["etag"],
          "match_condition": MatchConditions.IfNotModified}),
        ("delete", {"PartitionKey": our_pk, "RowKey": "c"})])
    assert len(again) == 2
    assert (await table.get_entity(our_pk, "b"))["v"] == 3


async def test_a_hundred_operations(desk: Helpdesk) -> None:
    (_, sdk), (pk, ours) = await both(desk, lambda pk: [
        ("create", {"PartitionKey": pk, "RowKey": f"evt-{i:06d}", "body": "x" * i})
        for i in range(100)])
    assert len(ours) == len(sdk) == 100
    rows = [r async for r in desk.clients.table(TICKETS_TABLE).query_entities(
        "PartitionKey eq @pk", parameters={"pk": pk})]
    assert len(rows) == 100


def same_error(sdk: Any, ours: Any, *, code: str, index: int) -> None:
    assert isinstance(sdk, TableTransactionError), sdk
    assert type(ours) is type(sdk)
    assert (ours.error_code, ours.index, ours.status_code) == \
        (sdk.error_code, sdk.index, sdk.status_code)
    assert ours.error_code == code and ours.index == index
    assert ours.message.split("\n")[0].split(":", 1)[1] == sdk.message.split("\n")[0].split(":", 1)[1]


async def seeded(desk: Helpdesk, pk: str) -> str:
    entity = await desk.clients.table(TICKETS_TABLE).create_entity(
        {"PartitionKey": pk, "RowKey": "exists", "v": 1})
    return str(entity["etag"])


async def test_an_entity_that_exists_fails_at_its_index(desk: Helpdesk) -> None:
    table = desk.clients.table(TICKETS_TABLE)
    results = []
    for send in (table.submit_transaction, lambda ops: transactions.submit(table, ops)):
        pk = f"tx-{uuid.uuid4().hex[:12]}"
        await seeded(desk, pk)
        with pytest.raises(TableTransactionError) as failed:
            await send([("create", {"PartitionKey": pk, "RowKey": "new"}),
                        ("create", {"PartitionKey": pk, "RowKey": "exists"})])
        results.append(failed.value)
        # All or nothing: the first operation did not land either.
        assert [r["RowKey"] async for r in table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": pk})] == ["exists"]
    same_error(*results, code="EntityAlreadyExists", index=1)


async def test_a_stale_etag_fails_with_update_condition_not_satisfied(desk: Helpdesk) -> None:
    table = desk.clients.table(TICKETS_TABLE)
    results = []
    for send in (table.submit_transaction, lambda ops: transactions.submit(table, ops)):
        pk = f"tx-{uuid.uuid4().hex[:12]}"
        etag = await seeded(desk, pk)
        await table.update_entity({"PartitionKey": pk, "RowKey": "exists", "v": 2})
        with pytest.raises(TableTransactionError) as failed:
            await send([("update", {"PartitionKey": pk, "RowKey": "exists", "v": 3},
                         {"mode": UpdateMode.REPLACE, "etag": etag,
                          "match_condition": MatchConditions.IfNotModified}),
                        ("create", {"PartitionKey": pk, "RowKey": "entry"})])
        results.append(failed.value)
    same_error(*results, code="UpdateConditionNotSatisfied", index=0)
    assert results[1].status_code == 412


async def test_a_missing_entity_fails_with_resource_not_found(desk: Helpdesk) -> None:
    (_, sdk), (_, ours) = await both(desk, lambda pk: [
        ("create", {"PartitionKey": pk, "RowKey": "a"}),
        ("delete", {"PartitionKey": pk, "RowKey": "gone"})])
    same_error(sdk, ours, code="ResourceNotFound", index=1)
