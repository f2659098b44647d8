"""Idempotency: the keys under which intake and the channels claim what they create, and
the claims' rules. A client's Idempotency-Key, a received Message-ID and a chat
conversation each live in a namespace of their own; a claim records the submission's
fingerprint (a retry with another body is refused) and belongs to its request for
`CLAIM_TIMEOUT`."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from shared.core.models import AttachmentUpload, TicketSubmission

# How long a claimed Idempotency-Key belongs to the request that claimed it: longer than
# a request can last when storage stops answering (a few storage timeouts, see
# shared/storage/clients.py, each step after a failure bounded by `SETTLE_TIMEOUT`).
CLAIM_TIMEOUT = timedelta(seconds=60)


def submission_fingerprint(submission: TicketSubmission, uploads: list[AttachmentUpload]) -> str:
    payload = submission.model_dump(mode="json")
    payload["attachments"] = [hashlib.sha256(u.data).hexdigest() for u in uploads]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def record_key(namespace: str, value: str) -> str:
    """The `idempotency` table's key for `value` in a channel's own namespace: `web` for
    a client's Idempotency-Key (web form, API), `mail` for a received Message-ID, `chat`
    for a conversation. The namespace is fixed by the code path, never taken from what a
    client sends, so a web submission's `Idempotency-Key: chat:<conversation>` cannot
    claim a chat conversation's record (and capture its transcript), nor
    `mail:<message-id>` make a real email look like a duplicate."""
    return hashlib.sha256(f"{namespace}:{value}".encode()).hexdigest()


def claim_age(prior: dict[str, Any], now: datetime) -> timedelta | None:
    claimed_at = prior.get("claimed_at")
    return now - claimed_at if isinstance(claimed_at, datetime) else None
