"""The fetch of a mailbox against a real Azurite, with the IMAP server played by an
in-memory folder (the same runs against Dovecot are in tests/e2e/test_mailboxes.py):
start from "now", batches and continuations, a crash between any two steps, quarantine,
a UIDVALIDITY change, the lease, and the health and its alerts."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from shared.automation.rules import Rule
from shared.channels import mailfetch
from shared.channels.imap import Folder, LoginFailed, MailboxError, Summary
from shared.core.directory import Agent
from shared.core.mailboxes import FetchRequest, Mailbox
from shared.helpdesk import Helpdesk
from shared.sla.clocks import SlaPlan
from shared.storage.directory import DirectoryStore
from shared.storage.mailboxes import FetchQueue, MailboxStore
from shared.tickets.idempotency import record_key


class FakeImap:
    """One IMAP account: folders of {uid: [raw, flags, internaldate]}."""

    def __init__(self) -> None:
        self.uidvalidity = 1
        self.folders: dict[str, dict[int, list]] = {"INBOX": {}}
        self.next_uid: dict[str, int] = {"INBOX": 1}
        self.fail_on: dict[str, int] = {}  # method -> times to fail
        self.refuse_login = False
        self.selected = "INBOX"

    def append(self, raw: bytes, folder: str = "INBOX", when: datetime | None = None) -> int:
        self.folders.setdefault(folder, {})
        uid = self.next_uid.get(folder, 1)
        self.next_uid[folder] = uid + 1
        self.folders[folder][uid] = [raw, set(), when or datetime.now(UTC)]
        return uid

    def renumber(self) -> None:
        """What a server does on a UIDVALIDITY change."""
        self.uidvalidity += 1
        items = list(self.folders["INBOX"].values())
        self.folders["INBOX"] = {i + 1: item for i, item in enumerate(items)}
        self.next_uid["INBOX"] = len(items) + 1

    # --- the connector and the session ---
    def connect(self, mailbox: Mailbox) -> FakeImap:
        if self.refuse_login:
            raise LoginFailed("login refused for support (password): [AUTHENTICATIONFAILED]")
        return self

    def _maybe_fail(self, name: str) -> None:
        if self.fail_on.get(name):
            self.fail_on[name] -= 1
            raise MailboxError(f"{name}: connection reset")

    def select(self, folder: str) -> Folder:
        self.selected = folder
        return Folder(self.uidvalidity, self.next_uid.get(folder, 1), len(self.folders[folder]))

    def uids_above(self, uid: int) -> list[int]:
        return sorted(u for u in self.folders[self.selected] if u > uid)

    def summaries(self, uids: list[int]) -> dict[int, Summary]:
        box = self.folders[self.selected]
        return {u: Summary(len(box[u][0]), box[u][2]) for u in uids if u in box}

    def body(self, uid: int) -> bytes | None:
        self._maybe_fail("body")
        item = self.folders[self.selected].get(uid)
        return None if item is None else item[0]

    def mark_seen(self, uids: list[int]) -> None:
        self._maybe_fail("mark_seen")
        for u in uids:
            if u in self.folders[self.selected]:
                self.folders[self.selected][u][1].add("\\Seen")

    def move(self, uids: list[int], folder: str) -> None:
        self._maybe_fail("move")
        for u in uids:
            item = self.folders[self.selected].pop(u, None)
            if item is not None:
                self.append(item[0], folder)

    def close(self) -> None:
        pass


class Mails:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


def message(n: int, tag: str, *, body: str = "My printer is on fire.") -> tuple[bytes, str]:
    mid = f"<m{n}-{tag}@example.org>"
    raw = (f"From: Requester {n} <req{n}-{tag}@example.org>\r\nTo: support@example.com\r\n"
           f"Subject: Problem {n}\r\nMessage-ID: {mid}\r\nDate: Fri, 4 Dec 2026 10:00:00 +0000"
           f"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body} ({n})\r\n").encode()
    return raw, mid


@pytest.fixture
async def fetching(desk: Helpdesk) -> AsyncIterator[tuple[Helpdesk, FakeImap, Mails]]:
    """The desk with its own directory, mailboxes table and fetch queue (the e2e host,
    which may run on the same Azurite, must not see this test's mailbox)."""
    tag = uuid.uuid4().hex[:8]
    tables = [f"itdir{tag}", f"itmbx{tag}"]
    for name in tables:
        await desk.clients.tables.create_table(name)
    queue = desk.clients.queue(f"it-fetch-{tag}")
    await queue.create_queue()
    imap, mails = FakeImap(), Mails()
    directory = DirectoryStore(desk.clients.table(tables[0]),
                               kinds={Rule: "rule", SlaPlan: "slaplan", Mailbox: "mailbox"})
    await directory.seed(desk.settings.categories)
    await directory.put(Agent(id="boss", name="Boss", email="boss@example.com",
                              roles=["agent", "admin"]))
    await directory.put(Mailbox(id="support", address="support@example.com", host="127.0.0.1",
                                security="plain", username="support",
                                password_setting="HELPDESK_MAILBOX_SUPPORT_PASSWORD",
                                team="senior-support", category="hardware", priority="high"))
    yield dataclasses.replace(desk, directory=directory,
                              mailboxes=MailboxStore(desk.clients.table(tables[1])),
                              mailbox_fetches=FetchQueue(queue), mail_connector=imap,
                              mailer=mails), imap, mails
    await queue.delete_queue()
    for name in tables:
        await desk.clients.tables.delete_table(name)


def with_settings(desk: Helpdesk, **mailboxes: float) -> Helpdesk:
    settings = desk.settings.model_copy(update={
        "mailboxes": desk.settings.mailboxes.model_copy(update=mailboxes)})
    return dataclasses.replace(desk, settings=settings)


async def tickets_for(desk: Helpdesk, mids: list[str]) -> list[str]:
    numbers = []
    for mid in mids:
        found = await desk.idempotency.read(record_key("mail", mid.lower()))
        assert found is not None and found[0].get("number"), f"{mid} made no ticket"
        numbers.append(found[0]["number"])
    return numbers


async def run(desk: Helpdesk, **kw: object) -> mailfetch.FetchResult:
    return await mailfetch.fetch(FetchRequest(mailbox="support"), desk=desk, **kw)  # type: ignore[arg-type]


async def test_a_new_mailbox_starts_from_now_and_new_mail_becomes_tickets(fetching):
    desk, imap, _ = fetching
    tag = uuid.uuid4().hex[:6]
    last_week = datetime.now(UTC) - timedelta(days=7)
    for n in range(5):
        imap.append(message(n, tag)[0], when=last_week)
    first = await run(desk)
    assert (first.outcome, first.fetched, first.waiting) == ("done", 0, 0)
    new = [message(n, tag) for n in range(5, 8)]
    for raw, _ in new:
        imap.append(raw)
    second = await run(desk)
    assert (second.outcome, second.fetched) == ("done", 3)
    numbers = await tickets_for(desk, [mid for _, mid in new])
    assert len(set(numbers)) == 3
    stored = await desk.tickets.get(numbers[0])
    assert stored is not None
    assert (stored.ticket.team, stored.ticket.category, stored.ticket.priority) == (
        "senior-support", "hardware", "high")
    assert stored.thread[0].data["mailbox"] == "support"
    assert [bool(item[1]) for item in imap.folders["INBOX"].values()] == [False] * 5 + [True] * 3
    health = await desk.mailboxes.health("support")
    assert (health.fetched_today, health.waiting, health.failing_since) == (3, 0, None)


async def test_import_existing_takes_what_is_there(fetching):
    desk, imap, _ = fetching
    await desk.directory.modify(Mailbox, "support",
                                lambda m: m.model_copy(update={"import_existing": True}))
    tag = uuid.uuid4().hex[:6]
    old = [message(n, tag) for n in range(4)]
    for raw, _ in old:
        imap.append(raw)
    assert (await run(desk)).fetched == 4
    assert len(set(await tickets_for(desk, [mid for _, mid in old]))) == 4


async def test_a_run_stops_at_its_budget_and_its_continuation_finishes(fetching):
    desk, imap, _ = fetching
    desk = with_settings(desk, batch_size=3, fetch_seconds=5)
    await run(desk)
    tag = uuid.uuid4().hex[:6]
    mails = [message(n, tag) for n in range(11)]
    for raw, _ in mails:
        imap.append(raw)
    ticks = itertools.count()
    results = []
    for _ in range(10):
        clock = itertools.count()  # each run: one "second" per message
        result = await run(desk, monotonic=lambda c=clock: float(next(c)))
        results.append(result)
        next(ticks)
        if result.outcome == "done":
            break
    assert [r.outcome for r in results][-1] == "done"
    assert results[0].outcome == "more" and results[0].waiting
    assert sum(r.fetched for r in results) == 11
    assert len(set(await tickets_for(desk, [mid for _, mid in mails]))) == 11
    queued = [m async for m in desk.mailbox_fetches._queue.receive_messages()]
    assert len(queued) == len(results) - 1, "one continuation per run that stopped"


@pytest.mark.parametrize("step", ["body", "mark_seen"])
async def test_a_crash_between_steps_neither_loses_nor_doubles(fetching, step: str):
    desk, imap, _ = fetching
    await run(desk)
    tag = uuid.uuid4().hex[:6]
    mails = [message(n, tag) for n in range(4)]
    for raw, _ in mails:
        imap.append(raw)
    imap.fail_on[step] = 1
    failed = await run(desk)
    assert failed.outcome == "failed" and "connection reset" in (failed.error or "")
    assert (await desk.mailboxes.health("support")).failing_since is not None
    done = await run(desk)
    assert done.outcome == "done"
    numbers = await tickets_for(desk, [mid for _, mid in mails])
    assert len(set(numbers)) == 4
    for number in numbers:
        stored = await desk.tickets.get(number)
        assert stored is not None
        assert [e.kind.value for e in stored.thread].count("created") == 1
        assert not [e for e in stored.thread if e.kind.value == "requester_reply"]
    assert all(item[1] for item in imap.folders["INBOX"].values()), "all marked seen"
    assert (await desk.mailboxes.health("support")).failing_since is None


async def test_oversized_and_unreadable_messages_are_quarantined_once(fetching):
    desk, imap, _ = fetching
    settings = desk.settings.model_copy(update={
        "limits": desk.settings.limits.model_copy(update={"request_bytes": 4000})})
    desk = dataclasses.replace(desk, settings=settings)
    await run(desk)
    tag = uuid.uuid4().hex[:6]
    good, good_mid = message(1, tag)
    imap.append(message(2, tag, body="x" * 5000)[0])
    imap.append(b"\x00\x01 not a message at all")
    imap.append(good)
    result = await run(desk)
    assert (result.outcome, result.fetched, result.quarantined) == ("done", 1, 2)
    assert len(imap.folders["Quarantine"]) == 2
    await tickets_for(desk, [good_mid])
    notes = [n.text for n in (await desk.mailboxes.health("support")).notes]
    assert any("over the limit" in n for n in notes) and len(notes) == 2
    again = await run(desk)
    assert (again.fetched, again.quarantined) == (0, 0), "not retried"


async def test_a_uidvalidity_change_rescans_without_duplicates(fetching):
    desk, imap, _ = fetching
    await run(desk)
    tag = uuid.uuid4().hex[:6]
    mails = [message(n, tag) for n in range(3)]
    for raw, _ in mails:
        imap.append(raw)
    await run(desk)
    before = await tickets_for(desk, [mid for _, mid in mails])
    imap.renumber()
    extra, extra_mid = message(9, tag)
    imap.append(extra)
    result = await run(desk)
    assert result.outcome == "done"
    assert await tickets_for(desk, [mid for _, mid in mails]) == before
    await tickets_for(desk, [extra_mid])
    assert any("UIDVALIDITY" in n.text for n in (await desk.mailboxes.health("support")).notes)


async def test_two_fetches_of_one_mailbox_never_overlap(fetching):
    desk, _, _ = fetching
    lease = await desk.mailboxes.acquire("support", "other", now=desk.clock(), seconds=60)
    assert lease is not None
    assert (await run(desk)).outcome == "busy"
    await desk.mailboxes.release(lease)
    assert (await run(desk)).outcome == "done"


async def test_a_refused_login_alerts_admins_once_and_recovery_once(fetching):
    desk, imap, mails = fetching
    desk = with_settings(desk, alert_after_seconds=0.5)
    await run(desk)
    imap.refuse_login = True
    tag = uuid.uuid4().hex[:6]
    waiting = [message(n, tag) for n in range(2)]
    for raw, _ in waiting:
        imap.append(raw)
    for _ in range(3):
        result = await run(desk)
        assert result.outcome == "failed" and "AUTHENTICATIONFAILED" in (result.error or "")
        await mailfetch.schedule(desk=desk)
        import asyncio
        await asyncio.sleep(0.3)
    health = await desk.mailboxes.health("support")
    assert health.alerted_at is not None and "login refused" in (health.last_error or "")
    assert [m["Subject"] for m in mails.sent] == ["Mailbox support@example.com is not being fetched"]
    assert mails.sent[0]["To"] == "boss@example.com"
    assert [a["id"] for a in await mailfetch.alerts(desk=desk)] == ["support"]
    imap.refuse_login = False
    assert (await run(desk)).fetched == 2
    await run(desk)
    assert [m["Subject"] for m in mails.sent][1:] == ["Mailbox support@example.com is fetched again"]
    assert await mailfetch.alerts(desk=desk) == []
    await tickets_for(desk, [mid for _, mid in waiting])
