"""The composed help desk: settings, storage clients and the stores over them.

Built once per process by the adapter (`functions/deps.py`) or by a test, and passed to
services as a keyword argument; nothing in `shared/` holds a module-level singleton.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.admin.apikeys import ApiKey
from shared.automation.rules import Rule
from shared.channels.imap import Connector
from shared.core.mailboxes import Mailbox
from shared.core.settings import Settings
from shared.kb.searchindex import SearchIndexes
from shared.mail.dns import TxtLookup
from shared.mail.mailer import Mailer
from shared.mail.smtp import SmtpMailer
from shared.portal.service import REPLIES_PER_HOUR as PORTAL_REPLIES_PER_HOUR
from shared.sla.clocks import SlaPlan
from shared.storage.apikeys import ApiKeyStore
from shared.storage.attachments import AttachmentStore
from shared.storage.audit import AuditStore
from shared.storage.clients import (
    ATTACHMENTS_CONTAINER,
    AUDIT_TABLE,
    DIRECTORY_TABLE,
    ERASURES_QUEUE,
    ERASURES_TABLE,
    ESCALATIONS_QUEUE,
    EVENTS_QUEUE,
    IDEMPOTENCY_TABLE,
    INDEX_TABLES,
    KB_TABLE,
    MAILBOX_FETCH_QUEUE,
    MAILBOXES_TABLE,
    OLD_INDEX_TABLES,
    PORTAL_LINKS_QUEUE,
    PRESENCE_TABLE,
    RATELIMIT_TABLE,
    REPORTS_TABLE,
    SEARCH_CONTAINER,
    TICKETS_TABLE,
    WEBHOOK_DELIVERIES_QUEUE,
    WEBHOOKS_TABLE,
    StorageClients,
)
from shared.storage.directory import DirectoryStore
from shared.storage.erasures import ErasureQueue, ErasureStore
from shared.storage.events import EventQueue, LinkQueue
from shared.storage.idempotency import IdempotencyStore
from shared.storage.kb import KnowledgeStore
from shared.storage.mailboxes import FetchQueue, MailboxStore
from shared.storage.portalcodes import SpentCodes
from shared.storage.presence import PresenceStore
from shared.storage.ratelimit import RateLimiter
from shared.storage.reports import ReportStore
from shared.storage.searchlog import SearchLogs
from shared.storage.tickets import TicketStore
from shared.storage.webhooks import DeliveryQueue, WebhookStore
from shared.webhooks.sender import WebhookSender


def default_mailer(settings: Settings) -> Mailer:
    if settings.mail.acs_connection:
        from shared.mail.acs import AcsMailer  # only loaded where ACS is configured

        return AcsMailer(settings.mail.acs_connection, settings.mail.sender)
    return SmtpMailer(settings.mail)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Helpdesk:
    settings: Settings
    clients: StorageClients
    tickets: TicketStore
    attachments: AttachmentStore
    idempotency: IdempotencyStore
    events: EventQueue
    escalations: EventQueue
    directory: DirectoryStore
    apikeys: ApiKeyStore[ApiKey]
    ratelimit: RateLimiter
    reports: ReportStore
    kb: KnowledgeStore
    search_logs: SearchLogs
    search: SearchIndexes
    mailer: Mailer
    portal_links: LinkQueue
    link_limit: RateLimiter  # portal links emailed per address
    ack_limit: RateLimiter  # acknowledgements emailed per address (backscatter)
    portal_reply_limit: RateLimiter  # requesters' portal messages per ticket
    spent_codes: SpentCodes  # the portal links' one-time codes already used
    mailboxes: MailboxStore  # fetched mailboxes' checkpoints, leases and health
    mailbox_fetches: FetchQueue
    mail_connector: Connector  # opens IMAP sessions; caches OAuth2 tokens
    dns: TxtLookup  # DKIM keys and DMARC policies, cached (the email channel's sender check)
    presence: PresenceStore  # which agents have a ticket open, who is typing
    audit: AuditStore  # the audit log (append-only)
    erasures: ErasureStore  # requesters' erasure jobs (shared/admin/erasure.py)
    erasure_runs: ErasureQueue
    webhooks: WebhookStore  # endpoints, deliveries and their log
    webhook_deliveries: DeliveryQueue
    webhook_sender: WebhookSender  # posts deliveries, refusing private addresses off local
    secret_lookup: Callable[[str], str | None]  # app settings named for secrets
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    async def start(cls, settings: Settings, *,
                    request_hook: Callable[[Any], None] | None = None,
                    response_hook: Callable[[Any], None] | None = None,
                    mailer: Mailer | None = None,
                    clock: Callable[[], datetime] = utc_now,
                    secrets: Callable[[str], str | None] | None = None) -> Helpdesk:
        """`secrets` looks up the app settings mailboxes name for their credentials
        (default: the environment, where App Service resolves Key Vault references)."""
        lookup = secrets or os.environ.get
        clients = StorageClients.from_settings(settings.storage, request_hook=request_hook,
                                               response_hook=response_hook)
        await clients.ensure_resources()
        directory = DirectoryStore(clients.table(DIRECTORY_TABLE),
                                   kinds={Rule: "rule", SlaPlan: "slaplan",
                                          Mailbox: "mailbox"})
        await directory.seed(settings.categories)
        return cls(
            settings=settings,
            clients=clients,
            tickets=TicketStore(tickets=clients.table(TICKETS_TABLE),
                                index={name: clients.table(name)
                                       for name in (*INDEX_TABLES, *OLD_INDEX_TABLES)}),
            attachments=AttachmentStore(clients.container(ATTACHMENTS_CONTAINER)),
            idempotency=IdempotencyStore(clients.table(IDEMPOTENCY_TABLE)),
            events=EventQueue(clients.queue(EVENTS_QUEUE)),
            escalations=EventQueue(clients.queue(ESCALATIONS_QUEUE)),
            directory=directory,
            apikeys=ApiKeyStore(clients.table(DIRECTORY_TABLE), ApiKey),
            ratelimit=RateLimiter(clients.table(RATELIMIT_TABLE),
                                  per_window=settings.limits.submissions_per_hour),
            reports=ReportStore(reports=clients.table(REPORTS_TABLE),
                                tickets=clients.table(TICKETS_TABLE)),
            kb=KnowledgeStore(clients.table(KB_TABLE)),
            search_logs=SearchLogs(clients.container(SEARCH_CONTAINER)),
            search=SearchIndexes.new(),
            mailer=mailer or default_mailer(settings),
            portal_links=LinkQueue(clients.queue(PORTAL_LINKS_QUEUE)),
            link_limit=RateLimiter(clients.table(RATELIMIT_TABLE), prefix="mail",
                                   per_window=settings.limits.portal_links_per_hour),
            ack_limit=RateLimiter(clients.table(RATELIMIT_TABLE), prefix="ack",
                                  per_window=settings.limits.acknowledgements_per_hour,
                                  mostly_new=True),
            portal_reply_limit=RateLimiter(clients.table(RATELIMIT_TABLE), prefix="portalreply",
                                           per_window=PORTAL_REPLIES_PER_HOUR),
            spent_codes=SpentCodes(clients.table(RATELIMIT_TABLE)),
            mailboxes=MailboxStore(clients.table(MAILBOXES_TABLE)),
            mailbox_fetches=FetchQueue(clients.queue(MAILBOX_FETCH_QUEUE)),
            mail_connector=Connector(lookup),
            dns=TxtLookup(settings.mail.dns_server),
            presence=PresenceStore(clients.table(PRESENCE_TABLE)),
            audit=AuditStore(clients.table(AUDIT_TABLE)),
            erasures=ErasureStore(clients.table(ERASURES_TABLE)),
            erasure_runs=ErasureQueue(clients.queue(ERASURES_QUEUE)),
            webhooks=WebhookStore(clients.table(WEBHOOKS_TABLE)),
            webhook_deliveries=DeliveryQueue(clients.queue(WEBHOOK_DELIVERIES_QUEUE)),
            webhook_sender=WebhookSender(local=settings.local,
                                         dns_server=settings.mail.dns_server,
                                         timeout=settings.webhooks.timeout_seconds),
            secret_lookup=lookup,
            clock=clock,
        )

    async def close(self) -> None:
        await self.clients.close()
        await self.webhook_sender.close()
        if closer := getattr(self.mailer, "close", None):
            await closer()
