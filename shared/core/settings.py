"""Settings, read once from the environment and validated.

Locally they come from `local.settings.json` (the host copies its `Values` into the
environment); on Azure from app settings. Storage is either a connection string
(`AzureWebJobsStorage`, Azurite locally) or identity-based
(`AzureWebJobsStorage__accountName`, or explicit `__tableServiceUri` and friends), the
same convention the Functions host uses, so one setting serves the triggers and the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from shared.core.directory import AutoClose

DEFAULT_CATEGORIES = ("general", "hardware", "software", "network", "access", "billing", "other")


class SettingsError(RuntimeError):
    """A required setting is missing or invalid; the message says which."""


class StorageSettings(BaseModel):
    connection_string: str | None = None
    account_name: str | None = None
    table_uri: str | None = None
    blob_uri: str | None = None
    queue_uri: str | None = None

    @model_validator(mode="after")
    def _one_way_in(self) -> StorageSettings:
        if not self.connection_string and not (self.account_name or self.table_uri):
            raise ValueError(
                "set AzureWebJobsStorage (a connection string) or "
                "AzureWebJobsStorage__accountName (managed identity)"
            )
        if not self.connection_string:
            name = self.account_name
            self.table_uri = self.table_uri or f"https://{name}.table.core.windows.net"
            self.blob_uri = self.blob_uri or f"https://{name}.blob.core.windows.net"
            self.queue_uri = self.queue_uri or f"https://{name}.queue.core.windows.net"
        return self


def _addresses(value: str | None) -> tuple[str, ...] | None:
    """A comma-separated list of addresses, lower-cased; None when unset."""
    if value is None:
        return None
    return tuple(a.strip().lower() for a in value.split(",") if a.strip())


class MailSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1025, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    sender: str = "helpdesk@example.com"
    sender_name: str = "Help Desk"
    # Addresses mail reaches the desk at besides `sender` (the pipe's support address):
    # never copied on a ticket (HELPDESK_MAIL_ADDRESSES, comma-separated).
    own_addresses: tuple[str, ...] = ()
    timeout_seconds: float = 20.0
    # Azure Communication Services Email: when set, mail goes there instead of SMTP.
    acs_connection: str | None = None
    # Who sent mail that arrives through the pipe or the HTTP endpoint (not a mailbox,
    # whose own setting decides): `dkim` verifies DKIM signatures and their alignment
    # with the From domain here; `authentication-results` believes the header the
    # receiving server with `authserv_id` adds; `off` believes the From address
    # (shared/mail/inbound/senders.py).
    sender_check: Literal["dkim", "authentication-results", "off"] = "dkim"
    authserv_id: str | None = Field(None, max_length=253)
    # The DNS server for DKIM keys and DMARC policies, "host" or "host:port"; default:
    # the system's resolver.
    dns_server: str | None = Field(None, pattern=r"^[A-Za-z0-9.:\[\]-]+$")

    @model_validator(mode="after")
    def _results_need_a_server(self) -> MailSettings:
        if self.sender_check == "authentication-results" and not self.authserv_id:
            raise ValueError("sender_check authentication-results needs "
                             "HELPDESK_MAIL_AUTHSERV_ID")
        return self


class Limits(BaseModel):
    name_chars: int = 200
    subject_chars: int = 250
    description_chars: int = 20_000
    attachment_bytes: int = 10 * 1024 * 1024
    attachments_per_ticket: int = 10
    request_bytes: int = 40 * 1024 * 1024
    # Public submissions (web form, chat) per client address and hour; 0 turns it off.
    submissions_per_hour: int = 60
    # Portal links emailed to one address per hour ("check a ticket"); 0 turns it off.
    portal_links_per_hour: int = 5
    # Acknowledgements emailed to one address per hour; 0 turns it off. Anyone can type
    # someone else's address into the form: past this the ticket is still created, but
    # the desk stops mailing that address text it did not write (backscatter).
    acknowledgements_per_hour: int = 5

    @field_validator("description_chars")
    @classmethod
    def _fits_a_table_property(cls, value: int) -> int:
        # A string property holds at most 32K UTF-16 code units; longer text needs a blob.
        if value > 30_000:
            raise ValueError("at most 30000 (a table string property holds 32K characters)")
        return value


class MailboxSettings(BaseModel):
    """Fetching mailboxes (shared/channels/mailfetch.py). The timer's own schedule is the
    app setting HELPDESK_MAILBOX_FETCH_SCHEDULE, read by the Functions host."""

    # A mailbox failing this long (or not fetched at all) emails the admins once.
    alert_after_seconds: float = Field(900, gt=0)
    # One run stops fetching after this long and queues its continuation; below the
    # function timeout (host.json, 5 minutes) with room for the message in hand.
    fetch_seconds: float = Field(240, gt=0, le=3600)
    batch_size: int = Field(50, ge=1, le=500)
    # A fetch holds its mailbox this long past its last step (renewed with every message);
    # a worker that died frees it when this runs out.
    lease_seconds: float = Field(180, ge=5)


# Seconds before each retry of a failed webhook delivery: the 11th attempt is made about
# 23.9 hours after the first; when it fails too the delivery is parked for an admin.
WEBHOOK_RETRY_DELAYS = (30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800)


class WebhookSettings(BaseModel):
    """Outbound webhooks (shared/webhooks/). Not app settings: tests shorten them."""

    retry_delays: tuple[int, ...] = WEBHOOK_RETRY_DELAYS
    timeout_seconds: float = Field(10, gt=0, le=60)


def _is_development_storage(connection_string: str | None) -> bool:
    text = (connection_string or "").replace(" ", "").lower()
    return "usedevelopmentstorage=true" in text or "accountname=devstoreaccount1;" in text


class Settings(BaseModel):
    storage: StorageSettings
    mail: MailSettings = MailSettings()
    limits: Limits = Limits()
    mailboxes: MailboxSettings = MailboxSettings()
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    default_category: str = "general"
    helpdesk_name: str = "Help Desk"
    public_base_url: str = "http://127.0.0.1:7071"
    chat_secret: str | None = None
    timezone: str = "UTC"  # the desk's local time, for rules on time of day
    sla_escalate_on_breach: bool = True
    auto_close: AutoClose = AutoClose()
    osticket_topics: dict[str, str] = {"1": "general"}
    # Where the agent page sends a browser that is not signed in (App Service's login).
    sign_in_path: str = Field("/.auth/login/aad", pattern=r"^/[^/\\]")
    # Whether App Service Authentication is on for this app: App Service sets
    # WEBSITE_AUTH_ENABLED=True when it is (the local host sets it while it emulates
    # sign-in). Only then does the platform strip a client-sent X-MS-CLIENT-PRINCIPAL,
    # so only then is that header believed (shared/core/auth.py).
    sign_in_enabled: bool = False
    # Signs the requester portal's links (shared/core/links.py); links fail without it.
    portal_secret: str | None = Field(None, min_length=16)
    portal_link_days: int = Field(7, ge=1, le=365)
    # How long the audit log keeps an entry (whole UTC days); the daily repair timer
    # deletes older days (functions/automation.py).
    audit_retention_days: int = Field(365, ge=1, le=3650)
    # Erasing a requester (shared/admin/erasers.py): `remove` takes the text of their
    # messages out, `redact` keeps it with their name and address replaced.
    erasure_mode: Literal["remove", "redact"] = "remove"
    # Closed tickets older than this many months are erased by the daily timer; 0: never.
    retention_months: int = Field(0, ge=0, le=1200)
    # Running locally (`make run`, the tests): the storage is the emulator's development
    # account and App Service's WEBSITE_INSTANCE_ID is absent. Only then may a webhook
    # use http and reach loopback or private addresses (shared/core/webhooks.py); on
    # Azure, where App Service always sets WEBSITE_INSTANCE_ID, never.
    local: bool = False
    webhooks: WebhookSettings = WebhookSettings()

    @model_validator(mode="after")
    def _default_is_listed(self) -> Settings:
        if self.default_category not in self.categories:
            raise ValueError(f"default category {self.default_category!r} is not in the list")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        limits = {
            field: get(f"HELPDESK_LIMIT_{field.upper()}")
            for field in Limits.model_fields
        }
        raw = {
            "storage": {
                "connection_string": get("AzureWebJobsStorage"),
                "account_name": get("AzureWebJobsStorage__accountName"),
                "table_uri": get("AzureWebJobsStorage__tableServiceUri"),
                "blob_uri": get("AzureWebJobsStorage__blobServiceUri"),
                "queue_uri": get("AzureWebJobsStorage__queueServiceUri"),
            },
            "mail": {
                k: v for k, v in {
                    "host": get("SMTP_HOST"),
                    "port": get("SMTP_PORT"),
                    "security": get("SMTP_SECURITY"),
                    "username": get("SMTP_USERNAME"),
                    "password": get("SMTP_PASSWORD"),
                    "sender": get("MAIL_FROM"),
                    "sender_name": get("MAIL_FROM_NAME"),
                    "acs_connection": get("ACS_EMAIL_CONNECTION"),
                    "sender_check": get("HELPDESK_MAIL_SENDER_CHECK"),
                    "authserv_id": get("HELPDESK_MAIL_AUTHSERV_ID"),
                    "dns_server": get("HELPDESK_DNS_SERVER"),
                    "own_addresses": _addresses(get("HELPDESK_MAIL_ADDRESSES")),
                }.items() if v is not None
            },
            "limits": {k: v for k, v in limits.items() if v is not None},
        }
        mailboxes = {field: get(f"HELPDESK_MAILBOX_{field.upper()}")
                     for field in MailboxSettings.model_fields}
        raw["mailboxes"] = {k: v for k, v in mailboxes.items() if v is not None}
        if categories := get("HELPDESK_CATEGORIES"):
            raw["categories"] = tuple(c.strip() for c in categories.split(",") if c.strip())
        auto_close = {field: get(f"HELPDESK_AUTOCLOSE_{field.upper()}")
                      for field in AutoClose.model_fields}
        raw["auto_close"] = {k: v for k, v in auto_close.items() if v is not None}
        if topics := get("HELPDESK_OSTICKET_TOPICS"):
            raw["osticket_topics"] = dict(
                pair.split("=", 1) for pair in topics.split(",") if "=" in pair)
        for key, name in (("default_category", "HELPDESK_DEFAULT_CATEGORY"),
                          ("chat_secret", "HELPDESK_CHAT_SECRET"),
                          ("timezone", "HELPDESK_TIMEZONE"),
                          ("sla_escalate_on_breach", "HELPDESK_SLA_ESCALATE_ON_BREACH"),
                          ("helpdesk_name", "HELPDESK_NAME"),
                          ("public_base_url", "HELPDESK_PUBLIC_URL"),
                          ("sign_in_path", "HELPDESK_SIGN_IN_PATH"),
                          ("sign_in_enabled", "WEBSITE_AUTH_ENABLED"),
                          ("portal_secret", "HELPDESK_PORTAL_SECRET"),
                          ("portal_link_days", "HELPDESK_PORTAL_LINK_DAYS"),
                          ("audit_retention_days", "HELPDESK_AUDIT_RETENTION_DAYS"),
                          ("erasure_mode", "HELPDESK_ERASURE_MODE"),
                          ("retention_months", "HELPDESK_RETENTION_MONTHS")):
            if (value := get(name)) is not None:
                raw[key] = value
        raw["local"] = _is_development_storage(get("AzureWebJobsStorage")) and \
            get("WEBSITE_INSTANCE_ID") is None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                for e in exc.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from None
