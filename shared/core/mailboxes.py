"""Mailboxes the desk fetches mail from (IMAP), as admins define them, and the pure rules
of fetching them: the fetch plan (where to start, which UIDs make the next batch) and the
health and alert state machine. No I/O here: shared/channels/mailfetch.py does the
fetching, shared/storage/mailboxes.py keeps the checkpoints, leases and health.

Credentials are never part of a mailbox: it names the app setting that holds the
password, client secret or service-account key (on Azure an app setting may be a Key
Vault reference), so the table holds no secret and an admin's GET shows none. Only
settings whose names start with `SECRET_PREFIX` may be named, so a mailbox cannot be
pointed at another of the app's secrets (the storage connection string) and send it to
an IMAP server of someone's choosing.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from shared.core.directory import Name, Slug
from shared.core.models import Priority

SECRET_PREFIX = "HELPDESK_MAILBOX_"
SettingName = Annotated[str, StringConstraints(strip_whitespace=True,
                                               pattern=r"^HELPDESK_MAILBOX_[A-Z0-9_]{1,100}$")]
Folder = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                          pattern=r"^[^\x00-\x1f\x7f*%]+$")]
Host = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253,
                                        pattern=r"^[A-Za-z0-9.:\-\[\]]+$")]


# The authserv-id of the Authentication-Results header each provider's servers add.
# Exchange Online's has none: `microsoft-365` reads its topmost header
# (shared/mail/inbound/senders.py).
PROVIDER_RESULTS = {"oauth2-google": "mx.google.com", "oauth2-microsoft": "microsoft-365"}


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine: plain IMAP never leaves it."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Mailbox(BaseModel):
    """A mailbox to fetch (`PUT /api/directory/mailboxes/{id}`)."""

    model_config = ConfigDict(extra="forbid")

    id: Slug
    address: EmailStr = Field(description="the mailbox's own address (mail from it is ours)")
    host: Host
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = Field(
        "tls", description="plain only for a loopback host")
    username: Name
    auth: Literal["password", "oauth2-microsoft", "oauth2-google", "oauth2-token"] = "password"
    password_setting: SettingName | None = Field(
        None, description="auth password: the app setting holding the password")
    tenant_id: Name | None = Field(None, description="oauth2-microsoft: the Entra tenant")
    client_id: Name | None = Field(None, description="oauth2-microsoft: the app registration")
    client_secret_setting: SettingName | None = Field(
        None, description="oauth2-microsoft: the app setting holding the client secret")
    service_account_setting: SettingName | None = Field(
        None, description="oauth2-google: the app setting holding the service account's JSON key")
    impersonate: EmailStr | None = Field(
        None, description="oauth2-google: the user whose mail is read (default: username)")
    token_setting: SettingName | None = Field(
        None, description="oauth2-token: the app setting holding a bearer token kept fresh "
                          "by something else")
    folder: Folder = "INBOX"
    after_fetch: Literal["mark-seen", "move"] = "mark-seen"
    move_to: Folder | None = Field(None, description="after_fetch move: the folder")
    quarantine: Folder = Field("Quarantine", description="where an oversized or unreadable "
                                                         "message goes (created if missing)")
    team: Slug | None = None
    category: Slug | None = None
    priority: Priority = Priority.NORMAL
    reply_from: EmailStr | None = Field(
        None, description="Reply-To of the desk's emails on these tickets (default: address)")
    enabled: bool = True
    import_existing: bool = Field(
        False, description="fetch what the folder holds at the first connection too")
    sender_check: Literal["authentication-results", "dkim", "off"] | None = Field(
        None, description="how a sender is authenticated before mail joins a ticket by its "
                          "subject or sender: the receiving server's Authentication-Results, "
                          "DKIM verified by the desk, or off (default: authentication-results "
                          "for oauth2-microsoft and oauth2-google, dkim otherwise)")
    authserv_id: Annotated[str, StringConstraints(
        strip_whitespace=True, min_length=1, max_length=253,
        pattern=r"^[A-Za-z0-9.\-]+$")] | None = Field(
        None, description="sender_check authentication-results: the receiving server's "
                          "authserv-id (default mx.google.com for oauth2-google, "
                          "microsoft-365 for oauth2-microsoft, whose header has none)")

    @model_validator(mode="after")
    def _consistent(self) -> Mailbox:
        if self.security == "plain" and not is_loopback(self.host):
            raise ValueError("security plain is allowed only for a loopback host "
                             "(127.0.0.1, ::1, localhost): use tls or starttls")
        needed = {"password": ("password_setting",),
                  "oauth2-microsoft": ("tenant_id", "client_id", "client_secret_setting"),
                  "oauth2-google": ("service_account_setting",),
                  "oauth2-token": ("token_setting",)}[self.auth]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth {self.auth} needs {', '.join(missing)}")
        if self.after_fetch == "move" and not self.move_to:
            raise ValueError("after_fetch move needs move_to")
        if self.folder in (self.quarantine, self.move_to):
            raise ValueError("the folder read cannot be the quarantine or move_to folder")
        provider = PROVIDER_RESULTS.get(self.auth)
        if self.sender_check is None:
            self.sender_check = "authentication-results" if provider else "dkim"
        if self.sender_check == "authentication-results" and self.authserv_id is None:
            if provider is None:
                raise ValueError("sender_check authentication-results needs authserv_id "
                                 "(the receiving server's id in the header)")
            self.authserv_id = provider
        return self


class FetchRequest(BaseModel):
    """A message on the `mailbox-fetch` queue: fetch this mailbox now."""

    mailbox: str
    continuation: int = Field(0, description="how many runs in a row this one continues")


# --- the fetch plan -----------------------------------------------------------------------


class Checkpoint(BaseModel):
    """Where fetching stands in one mailbox folder: every UID up to `last_uid` under
    `uidvalidity` is done. `since` skips messages older than the first connection after a
    UIDVALIDITY change, when the folder's history was not to be imported."""

    uidvalidity: int
    last_uid: int
    since: datetime | None = None
    connected_at: datetime
    pending: int | None = Field(None, description="a message passed but perhaps not yet "
                                                  "marked or moved (the next run does it)")
    failing_uid: int | None = Field(None, description="a message that failed, not yet quarantined")
    failures: int = 0


# A message that fails this often (for a reason other than storage or the connection)
# goes to the quarantine folder rather than block the mailbox.
MAX_MESSAGE_FAILURES = 3
# After a UIDVALIDITY change the folder is read again from its start; what arrived before
# the first connection (less this margin for clocks) stays unimported.
SINCE_MARGIN = timedelta(minutes=10)


def first_checkpoint(uidvalidity: int, uidnext: int, *, import_existing: bool,
                     now: datetime, recent: dict[int, datetime | None] | None = None
                     ) -> Checkpoint:
    """A new mailbox starts from "now" (what the folder holds stays), unless asked. "Now"
    reaches back `SINCE_MARGIN` before the first connection: a message sent to try the
    mailbox out between connecting it and the first fetch is still fetched. `recent` are
    the folder's newest UIDs with their arrival times (the caller asks for a few)."""
    if import_existing:
        return Checkpoint(uidvalidity=uidvalidity, last_uid=0, connected_at=now)
    cutoff = now - SINCE_MARGIN
    fresh = [uid for uid, at in (recent or {}).items() if at is not None and at >= cutoff]
    last_uid = min(fresh) - 1 if fresh else uidnext - 1
    return Checkpoint(uidvalidity=uidvalidity, last_uid=last_uid, connected_at=now)


def after_uidvalidity(previous: Checkpoint, uidvalidity: int, *, import_existing: bool
                      ) -> Checkpoint:
    """The server renumbered the folder: read it again from the start (the inbound path
    makes a message it has seen a no-op, by its Message-ID)."""
    return Checkpoint(uidvalidity=uidvalidity, last_uid=0, connected_at=previous.connected_at,
                      since=None if import_existing else previous.connected_at - SINCE_MARGIN)


def next_batch(uids: list[int], checkpoint: Checkpoint, size: int) -> list[int]:
    """The next UIDs to fetch, oldest first. (`UID n:*` answers the newest message even
    when it is below n, so the server's answer is filtered here.)"""
    return sorted(u for u in set(uids) if u > checkpoint.last_uid)[:size]


def is_oversized(size: int | None, limit: int) -> bool:
    return size is not None and size > limit


def should_continue(*, started: float, now: float, budget: float) -> bool:
    """Whether to take another message: the budget is set below the function's time limit
    by more than one message takes (settings), so the run ends and queues its
    continuation in time."""
    return now - started < budget


# --- health and alerts --------------------------------------------------------------------


class Note(BaseModel):
    at: datetime
    text: str


class MailboxHealth(BaseModel):
    """What operators see of a mailbox (`GET /api/mailboxes`)."""

    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failing_since: datetime | None = Field(
        None, description="the first failure since the last success")
    alerted_at: datetime | None = Field(None, description="when admins were emailed about "
                                                          "this failure (cleared on recovery)")
    fetched_today: int = 0
    day: str = ""
    watched_since: datetime | None = Field(None, description="when the timer first queued "
                                                             "it (silence is measured from)")
    waiting: int | None = Field(None, description="messages above the checkpoint at the "
                                                  "last fetch")
    notes: list[Note] = Field(default_factory=list, description="quarantined messages, "
                                                               "UIDVALIDITY changes")


MAX_NOTES = 20
ERROR_CHARS = 500


def _counted(health: MailboxHealth, now: datetime, fetched: int) -> dict[str, object]:
    day = now.date().isoformat()
    today = health.fetched_today if health.day == day else 0
    return {"fetched_today": today + fetched, "day": day}


def succeeded(health: MailboxHealth, now: datetime, *, fetched: int, waiting: int
              ) -> MailboxHealth:
    return health.model_copy(update={
        "last_success_at": now, "last_attempt_at": now, "failing_since": None,
        "waiting": waiting, **_counted(health, now, fetched)})


def failed(health: MailboxHealth, now: datetime, error: str, *, fetched: int = 0
           ) -> MailboxHealth:
    return health.model_copy(update={
        "last_attempt_at": now, "last_error": error[:ERROR_CHARS], "last_error_at": now,
        "failing_since": health.failing_since or now, **_counted(health, now, fetched)})


def noted(health: MailboxHealth, now: datetime, text: str) -> MailboxHealth:
    return health.model_copy(update={
        "notes": [*health.notes, Note(at=now, text=text[:ERROR_CHARS])][-MAX_NOTES:]})


def stalled(health: MailboxHealth, now: datetime, *, threshold: timedelta,
            enabled_since: datetime | None = None) -> MailboxHealth:
    """A mailbox whose fetches stopped completing at all (the queue function is failing,
    or nothing runs it) counts as failing too: silence is never health."""
    last = max((t for t in (health.last_success_at, health.last_attempt_at, enabled_since)
                if t is not None), default=None)
    if last is None or now - last < threshold or health.failing_since is not None:
        return health
    return failed(health, now, f"no fetch has finished since {last.isoformat()}")


AlertStep = Literal["alert", "recovered"]


def alert_step(health: MailboxHealth, now: datetime, threshold: timedelta) -> AlertStep | None:
    """What admins must be told now: once when a failure has lasted `threshold`, once when
    the mailbox recovers after that."""
    if health.failing_since is not None:
        if health.alerted_at is None and now - health.failing_since >= threshold:
            return "alert"
        return None
    return "recovered" if health.alerted_at is not None else None


def after_alert(health: MailboxHealth, step: AlertStep, now: datetime) -> MailboxHealth:
    return health.model_copy(update={"alerted_at": now if step == "alert" else None})


def is_alarming(health: MailboxHealth, now: datetime, threshold: timedelta) -> bool:
    """Whether the agents' page shows the banner for this mailbox."""
    return health.failing_since is not None and now - health.failing_since >= threshold
