"""Fetching mailboxes: the timer's round (`schedule`), one fetch run (`fetch`), and what
operators are told (`check_alerts`).

One run of one mailbox, in order, and why:
1. take the mailbox's lease (shared/storage/mailboxes.py), so two runs never overlap;
2. log in (shared/channels/imap.py, in a worker thread) and SELECT the folder; a new
   mailbox starts at UIDNEXT-1 ("from now") unless it imports what is there, and a
   changed UIDVALIDITY starts the folder over (messages older than the first connection
   stay unimported when they were not to be imported);
3. for each UID above the checkpoint, oldest first, in batches: hand the raw message to
   the email channel (`receive_email`: stored, threaded, machine mail dropped), then
   advance the checkpoint under the lease's ETag, then mark it \\Seen or move it. A crash
   anywhere fetches the message again and its Message-ID makes that a no-op; a message
   advanced but not yet moved is moved by the next run;
4. an oversized message, one the desk refuses (unreadable, too many files), or one that
   failed `MAX_MESSAGE_FAILURES` times goes to the quarantine folder with a note in the
   mailbox's health, and is never fetched again;
5. before the time budget runs out, stop, give the lease back and queue a continuation.
A failure of the server, the login or storage ends the run: it is recorded in the
mailbox's health (never silently) and the next timer round tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import TYPE_CHECKING, Literal

from shared.channels.email import Inbox, receive_email
from shared.channels.imap import MailboxError, MailSession, Summary
from shared.core import mailboxes as rules
from shared.core.directory import Agent, CategoryDef, Team
from shared.core.errors import (
    Conflict,
    HelpdeskError,
    PreconditionFailed,
    StorageFailed,
    StorageUnavailable,
)
from shared.core.mailboxes import Checkpoint, FetchRequest, Mailbox, MailboxHealth
from shared.mail.compose import compose
from shared.mail.inbound.senders import SenderCheck
from shared.mail.mailer import MailError
from shared.storage.mailboxes import Lease, LeaseLost

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

log = logging.getLogger(__name__)

Outcome = Literal["done", "more", "busy", "disabled", "failed", "lost"]
# On a new mailbox's first connection: how many of the newest messages are looked at for
# ones that arrived within SINCE_MARGIN (sent to try it out before the first fetch).
RECENT_ON_FIRST = 50


@dataclass
class FetchResult:
    outcome: Outcome
    fetched: int = 0
    quarantined: int = 0
    waiting: int | None = None
    error: str | None = None


class _Stop(Exception):
    """End this run here (the reason is recorded as the mailbox's error)."""


def _threshold(desk: Helpdesk) -> timedelta:
    return timedelta(seconds=desk.settings.mailboxes.alert_after_seconds)


# --- the timer's round ----------------------------------------------------------------


async def schedule(*, desk: Helpdesk) -> list[str]:
    """Queue a fetch of every enabled mailbox; count one whose fetches stopped finishing
    as failing, and tell admins what they must be told. The mailboxes queued."""
    now = desk.clock()
    # Silence counts as failure once no run has finished for longer than a run may take.
    stall = max(_threshold(desk),
                timedelta(seconds=desk.settings.mailboxes.fetch_seconds + 60))
    queued = []
    for mailbox in await desk.directory.list(Mailbox):
        if not mailbox.enabled:
            continue
        await desk.mailbox_fetches.publish(FetchRequest(mailbox=mailbox.id))
        queued.append(mailbox.id)

        def watch(health: MailboxHealth) -> MailboxHealth | None:
            if health.watched_since is None:
                return health.model_copy(update={"watched_since": now})
            changed = rules.stalled(health, now, threshold=stall,
                                    enabled_since=health.watched_since)
            return None if changed is health else changed

        await desk.mailboxes.change_health(mailbox.id, watch)
        await check_alerts(mailbox, desk=desk)
    return queued


# --- one run --------------------------------------------------------------------------


async def fetch(request: FetchRequest, *, desk: Helpdesk,
                monotonic: Callable[[], float] = time.monotonic) -> FetchResult:
    mailbox = await desk.directory.get(Mailbox, request.mailbox)
    if mailbox is None or not mailbox.enabled:
        return FetchResult("disabled")
    settings = desk.settings.mailboxes
    lease = await desk.mailboxes.acquire(mailbox.id, uuid.uuid4().hex, now=desk.clock(),
                                         seconds=settings.lease_seconds)
    if lease is None:
        log.info("mailbox %s: another fetch holds it", mailbox.id)
        return FetchResult("busy")
    run = _Run(mailbox, lease, desk=desk, started=monotonic(), monotonic=monotonic)
    try:
        result = await run.go()
    except LeaseLost:
        log.warning("mailbox %s: the lease was taken over; stopping", mailbox.id)
        return FetchResult("lost", fetched=run.fetched)
    except (MailboxError, _Stop, StorageUnavailable) as exc:
        error = str(exc) or type(exc).__name__
        result = FetchResult("failed", fetched=run.fetched, quarantined=run.quarantined,
                             error=error)
        log.warning("mailbox %s: fetch failed: %s", mailbox.id, error)
    except Exception as exc:  # a bug must still show in the health, not only in a log
        log.exception("mailbox %s: fetch failed", mailbox.id)
        result = FetchResult("failed", fetched=run.fetched, error=f"{type(exc).__name__}: {exc}")
    finally:
        await run.close()
        try:
            await desk.mailboxes.release(lease)
        except StorageFailed:
            pass  # it runs out by itself
    await _record(mailbox, run, result, desk=desk)
    if result.outcome == "more":
        await desk.mailbox_fetches.publish(
            FetchRequest(mailbox=mailbox.id, continuation=request.continuation + 1))
    return result


async def _record(mailbox: Mailbox, run: _Run, result: FetchResult, *, desk: Helpdesk) -> None:
    now = desk.clock()

    def change(health: MailboxHealth) -> MailboxHealth:
        for note in run.notes:
            health = rules.noted(health, now, note)
        if result.outcome == "failed":
            return rules.failed(health, now, result.error or "failed", fetched=result.fetched)
        return rules.succeeded(health, now, fetched=result.fetched,
                               waiting=result.waiting or 0)

    try:
        await desk.mailboxes.change_health(mailbox.id, change)
        await check_alerts(mailbox, desk=desk)
    except (StorageFailed, LeaseLost) as exc:
        log.warning("mailbox %s: could not record its health: %s", mailbox.id, exc)


class _Run:
    def __init__(self, mailbox: Mailbox, lease: Lease, *, desk: Helpdesk, started: float,
                 monotonic: Callable[[], float]) -> None:
        self.mailbox = mailbox
        self.lease = lease
        self.desk = desk
        self.started = started
        self.monotonic = monotonic
        self.session: MailSession | None = None
        self.fetched = 0
        self.quarantined = 0
        self.notes: list[str] = []
        self.inbox: Inbox | None = None

    async def close(self) -> None:
        if self.session is not None:
            await asyncio.to_thread(self.session.close)

    async def _advance(self, checkpoint: Checkpoint) -> None:
        await self.desk.mailboxes.advance(self.lease, checkpoint, now=self.desk.clock(),
                                          seconds=self.desk.settings.mailboxes.lease_seconds)

    async def go(self) -> FetchResult:
        mailbox, settings = self.mailbox, self.desk.settings.mailboxes
        self.inbox = await self._inbox()
        self.session = await asyncio.to_thread(self.desk.mail_connector.connect, mailbox)
        session = self.session
        folder = await asyncio.to_thread(session.select, mailbox.folder)
        checkpoint = self.lease.checkpoint
        if checkpoint is None:
            recent: dict[int, datetime | None] = {}
            if not mailbox.import_existing:
                newest = (await asyncio.to_thread(session.uids_above, 0))[-RECENT_ON_FIRST:]
                summaries = await asyncio.to_thread(session.summaries, newest)
                recent = {uid: s.internaldate for uid, s in summaries.items()}
            checkpoint = rules.first_checkpoint(folder.uidvalidity, folder.uidnext,
                                                import_existing=mailbox.import_existing,
                                                now=self.desk.clock(), recent=recent)
            await self._advance(checkpoint)
        elif checkpoint.uidvalidity != folder.uidvalidity:
            self.notes.append(f"UIDVALIDITY of {mailbox.folder} changed from "
                              f"{checkpoint.uidvalidity} to {folder.uidvalidity}: read again "
                              "from the start (messages already received are not repeated)")
            checkpoint = rules.after_uidvalidity(checkpoint, folder.uidvalidity,
                                                 import_existing=mailbox.import_existing)
            await self._advance(checkpoint)
        elif checkpoint.pending is not None:
            # Passed but perhaps not marked or moved when the last run ended.
            await self._after_fetch(checkpoint.pending)
            checkpoint = checkpoint.model_copy(update={"pending": None})
            await self._advance(checkpoint)

        while True:
            uids = await asyncio.to_thread(session.uids_above, checkpoint.last_uid)
            batch = rules.next_batch(uids, checkpoint, settings.batch_size)
            if not batch:
                return FetchResult("done", fetched=self.fetched, quarantined=self.quarantined,
                                   waiting=0)
            summaries = await asyncio.to_thread(session.summaries, batch)
            for uid in batch:
                if not rules.should_continue(started=self.started, now=self.monotonic(),
                                             budget=settings.fetch_seconds):
                    waiting = len([u for u in uids if u > checkpoint.last_uid])
                    return FetchResult("more", fetched=self.fetched,
                                       quarantined=self.quarantined, waiting=waiting)
                checkpoint = await self._one(uid, summaries.get(uid), checkpoint)

    async def _inbox(self) -> Inbox:
        mailbox, desk = self.mailbox, self.desk
        teams = {t.id for t in await desk.directory.list(Team)}
        categories = {c.id for c in await desk.directory.list(CategoryDef)}
        for kind, value, known in (("team", mailbox.team, teams),
                                   ("category", mailbox.category, categories)):
            if value and value not in known:
                self.notes.append(f"{kind} {value!r} no longer exists: new tickets get the "
                                  "default")
        return Inbox(mailbox=mailbox.id, address=str(mailbox.address),
                     team=mailbox.team if mailbox.team in teams else None,
                     category=mailbox.category if mailbox.category in categories else None,
                     priority=mailbox.priority.value,
                     reply_to=str(mailbox.reply_from or mailbox.address),
                     sender_check=SenderCheck(mailbox.sender_check or "dkim",
                                              mailbox.authserv_id))

    async def _one(self, uid: int, summary: Summary | None, checkpoint: Checkpoint
                   ) -> Checkpoint:
        """Receive one message; the checkpoint after it."""
        mailbox, desk, session = self.mailbox, self.desk, self.session
        assert session is not None
        done = checkpoint.model_copy(update={"last_uid": uid, "failing_uid": None,
                                             "failures": 0, "pending": None})
        if summary is None:  # expunged since the search
            await self._advance(done)
            return done
        if checkpoint.since is not None and summary.internaldate is not None \
                and summary.internaldate < checkpoint.since:
            await self._advance(done)  # from before the first connection: not imported
            return done
        limit = desk.settings.limits.request_bytes
        if rules.is_oversized(summary.size, limit):
            return await self._quarantine(uid, done, f"{summary.size} bytes, over the limit "
                                                     f"of {limit}")
        raw = await asyncio.to_thread(session.body, uid)
        if raw is None:
            await self._advance(done)
            return done
        if len(raw) > limit:
            return await self._quarantine(uid, done, f"{len(raw)} bytes, over the limit of "
                                                     f"{limit}")
        try:
            result = await receive_email(raw, desk=desk, inbox=self.inbox)
        except StorageUnavailable as exc:
            raise _Stop(f"storage unavailable while receiving UID {uid}: {exc.detail}") from exc
        except HelpdeskError as exc:
            if isinstance(exc, Conflict) and "retry_after" in exc.extra:
                # Another worker's claim on this message may still become its ticket: try
                # again next run, without counting it as the message's failure.
                raise _Stop(f"UID {uid} is still being stored: {exc.detail}") from exc
            if exc.status < 500 and not isinstance(exc, Conflict | PreconditionFailed):
                return await self._quarantine(uid, done, f"refused: {exc.detail}")
            return await self._failed(uid, checkpoint, done, f"{exc.title}: {exc.detail}")
        except Exception as exc:  # a bug on one message must not stop the mailbox for good
            log.exception("mailbox %s: UID %d failed", mailbox.id, uid)
            return await self._failed(uid, checkpoint, done, f"{type(exc).__name__}: {exc}")
        log.info("mailbox %s: UID %d %s %s", mailbox.id, uid, result.outcome,
                 result.number or "")
        done = done.model_copy(update={"pending": uid})
        await self._advance(done)
        await self._after_fetch(uid)
        self.fetched += 1
        return done

    async def _after_fetch(self, uid: int) -> None:
        assert self.session is not None
        if self.mailbox.after_fetch == "move":
            await asyncio.to_thread(self.session.move, [uid], self.mailbox.move_to or "")
        else:
            await asyncio.to_thread(self.session.mark_seen, [uid])

    async def _failed(self, uid: int, checkpoint: Checkpoint, done: Checkpoint, error: str
                      ) -> Checkpoint:
        """A message that failed for a reason that may pass: tried again by the next run,
        quarantined after `MAX_MESSAGE_FAILURES`."""
        failures = checkpoint.failures + 1 if checkpoint.failing_uid == uid else 1
        if failures >= rules.MAX_MESSAGE_FAILURES:
            return await self._quarantine(uid, done, f"failed {failures} times: {error}")
        await self._advance(checkpoint.model_copy(update={"failing_uid": uid,
                                                          "failures": failures}))
        raise _Stop(f"UID {uid} failed ({failures} of {rules.MAX_MESSAGE_FAILURES}): {error}")

    async def _quarantine(self, uid: int, done: Checkpoint, reason: str) -> Checkpoint:
        """Moved first, then past: a crash in between finds it gone from the folder."""
        assert self.session is not None
        await asyncio.to_thread(self.session.move, [uid], self.mailbox.quarantine)
        await self._advance(done)
        self.quarantined += 1
        self.notes.append(f"UID {uid} moved to {self.mailbox.quarantine}: {reason}")
        log.warning("mailbox %s: UID %d quarantined: %s", self.mailbox.id, uid, reason)
        return done


# --- alerts ---------------------------------------------------------------------------


async def check_alerts(mailbox: Mailbox, *, desk: Helpdesk) -> str | None:
    """Email the admins once when the mailbox has failed for the threshold, and once when
    it recovers after that. The step is claimed under the health row's ETag first, so
    concurrent checks send one email; a failed send gives the claim back."""
    now = desk.clock()
    threshold = _threshold(desk)
    steps: list[rules.AlertStep] = []

    def claim(health: MailboxHealth) -> MailboxHealth | None:
        steps.clear()
        step = rules.alert_step(health, now, threshold)
        if step is None:
            return None
        steps.append(step)
        return rules.after_alert(health, step, now)

    health, changed = await desk.mailboxes.change_health(mailbox.id, claim)
    if not changed or not steps:
        return None
    step = steps[0]
    try:
        await _email_admins(mailbox, health, step, desk=desk)
    except MailError as exc:
        log.warning("mailbox %s: could not email the admins (%s); trying again later",
                    mailbox.id, exc)
        previous = None if step == "alert" else health.alerted_at or now

        def give_back(current: MailboxHealth) -> MailboxHealth:
            return current.model_copy(update={"alerted_at": previous})

        await desk.mailboxes.change_health(mailbox.id, give_back)
        return None
    return step


async def _email_admins(mailbox: Mailbox, health: MailboxHealth, step: rules.AlertStep, *,
                        desk: Helpdesk) -> None:
    admins = sorted({a.email for a in await desk.directory.list(Agent) if "admin" in a.roles})
    if not admins:
        log.warning("mailbox %s: %s, but no agent has the admin role to tell", mailbox.id,
                    step)
        return
    name = desk.settings.helpdesk_name
    if step == "alert":
        subject = f"Mailbox {mailbox.address} is not being fetched"
        since = health.failing_since.isoformat() if health.failing_since else "?"
        text = (f"{name} has not fetched mail from {mailbox.address} (mailbox {mailbox.id}) "
                f"since {since}.\n\nLast error ({health.last_error_at}):\n"
                f"{health.last_error}\n\nMail waiting there is not lost: it is fetched once "
                "the mailbox works again. You will get one more email when it does.\n"
                f"Health: {desk.settings.public_base_url}/api/agent\n")
    else:
        subject = f"Mailbox {mailbox.address} is fetched again"
        text = (f"{name} fetches mail from {mailbox.address} (mailbox {mailbox.id}) again "
                f"since {health.last_success_at}.\n")
    sender = desk.settings.mail.sender
    message = compose(settings=desk.settings.mail, to=", ".join(admins), subject=subject,
                      text=text, html=f"<pre>{_escape(text)}</pre>",
                      message_id=make_msgid("mailbox", domain=sender.rsplit("@", 1)[-1]))
    await desk.mailer.send(message)
    log.info("mailbox %s: admins emailed (%s)", mailbox.id, step)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- what operators see ---------------------------------------------------------------


async def overview(*, desk: Helpdesk) -> list[dict]:
    """Every mailbox with its health (`GET /api/mailboxes`)."""
    health = await desk.mailboxes.all_health()
    now = desk.clock()
    threshold = _threshold(desk)
    return [{"mailbox": m.model_dump(mode="json"),
             "health": (h := health.get(m.id, MailboxHealth())).model_dump(mode="json"),
             "alarming": m.enabled and rules.is_alarming(h, now, threshold)}
            for m in await desk.directory.list(Mailbox)]


async def alerts(*, desk: Helpdesk) -> list[dict]:
    """The mailboxes failing past the threshold (the agents' page's banner)."""
    return [{"id": item["mailbox"]["id"], "address": item["mailbox"]["address"],
             "failing_since": item["health"]["failing_since"],
             "last_error": item["health"]["last_error"]}
            for item in await overview(desk=desk) if item["alarming"]]
