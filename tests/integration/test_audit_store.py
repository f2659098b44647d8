"""The audit table against Azurite: an entry is completed once and only once, pages come
newest first across days, and retention deletes whole old days, more than one
transaction's worth at a time. Each test has a table of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.core.audit import Actor, AuditEntry, AuditQuery
from shared.helpdesk import Helpdesk
from shared.storage.audit import AuditStore, day_key

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(desk: Helpdesk) -> AsyncIterator[AuditStore]:
    name = f"audit{uuid.uuid4().hex[:10]}"
    await desk.clients.tables.create_table(name)
    yield AuditStore(desk.clients.table(name))
    await desk.clients.tables.delete_table(name)


def entry(at: datetime, *, route: str = "/api/directory/{kind}/{id}", actor: str = "a",
          target: str | None = None) -> AuditEntry:
    return AuditEntry(at=at, actor=Actor(kind="principal", id=actor, roles=["admin"]),
                      method="PUT", route=route, target=target)


async def test_an_entry_is_completed_once(store: AuditStore):
    written = await store.begin(entry(NOW, target="t1"))
    found, _ = await store.page(AuditQuery(), first=NOW.date(), last=NOW.date(), after=None)
    assert [(e.id, e.status) for e in found] == [(written.id, None)]
    assert await store.finish(written, status=200, summary="changed: name")
    assert not await store.finish(written, status=500, summary="forged")
    found, _ = await store.page(AuditQuery(), first=NOW.date(), last=NOW.date(), after=None)
    assert [(e.status, e.summary, e.target) for e in found] == [(200, "changed: name", "t1")]


async def test_pages_are_newest_first_across_days(store: AuditStore):
    times = [NOW - timedelta(hours=7 * i) for i in range(12)]  # four days
    for at in reversed(times):
        await store.begin(entry(at, route="/api/apikeys" if at.hour % 2 else "/api/x"))
    seen: list[datetime] = []
    after = None
    while True:
        page, after = await store.page(AuditQuery(limit=5), first=date(2026, 3, 1),
                                       last=NOW.date(), after=after)
        seen += [e.at for e in page]
        if after is None:
            break
    assert seen == times
    only, more = await store.page(AuditQuery(route="apikeys", limit=50), first=date(2026, 3, 1),
                                  last=NOW.date(), after=None)
    assert [e.at for e in only] == [t for t in times if t.hour % 2] and more is None
    day, _ = await store.page(AuditQuery(), first=NOW.date(), last=NOW.date(), after=None)
    assert {e.at.date() for e in day} == {NOW.date()}


async def test_retention_deletes_whole_old_days(store: AuditStore):
    old_day = NOW - timedelta(days=40)
    for i in range(230):  # three transactions' worth in one partition
        await store.begin(entry(old_day + timedelta(seconds=i)))
    for days in (31, 30, 1):
        await store.begin(entry(NOW - timedelta(days=days)))
    assert await store.prune(keep_from=(NOW - timedelta(days=30)).date(), batch=100) == 231
    left, _ = await store.page(AuditQuery(), first=date(2026, 1, 1), last=NOW.date(), after=None)
    assert [e.at for e in left] == [NOW - timedelta(days=1), NOW - timedelta(days=30)]
    assert await store.prune(keep_from=(NOW - timedelta(days=30)).date()) == 0
    assert day_key(date(2026, 3, 10)) < day_key(date(2026, 3, 9))  # newer days sort first
