"""The help desk's one error hierarchy.

Every failure a caller can act on is a `HelpdeskError` with an HTTP status, a short
title and a detail; the HTTP adapters turn it into RFC 7807 problem JSON. Nothing
else escapes a service as an expected error: an exception outside this hierarchy is a
bug and becomes a 500 with a generic body.

    HelpdeskError
    ├── BadRequest             400  malformed body, bad header
    │   └── ValidationFailed   422  well-formed but invalid fields (`errors` names each)
    ├── Unauthorized           401  no principal / key
    ├── Forbidden              403  wrong role
    ├── NotFound               404
    ├── Conflict               409  e.g. an Idempotency-Key reused for another request
    ├── PreconditionFailed     412  stale If-Match
    ├── PayloadTooLarge        413
    ├── UnsupportedMediaType   415
    └── StorageUnavailable     503  storage could not be reached; nothing was accepted
        └── StorageFailed      503  what the storage layer raises for any failure of the
                                    storage services (shared/storage/failures.py)
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class HelpdeskError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        slug = self.title.lower().replace(" ", "-")
        body: dict[str, Any] = {
            "type": f"https://helpdesk.invalid/problems/{slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(HelpdeskError):
    status = 400
    title = "Bad request"


class ValidationFailed(BadRequest):
    status = 422
    title = "Validation failed"


class Unauthorized(HelpdeskError):
    status = 401
    title = "Unauthorized"


class Forbidden(HelpdeskError):
    status = 403
    title = "Forbidden"


class NotFound(HelpdeskError):
    status = 404
    title = "Not found"


class Conflict(HelpdeskError):
    status = 409
    title = "Conflict"


class PreconditionFailed(HelpdeskError):
    status = 412
    title = "Precondition failed"


class PayloadTooLarge(HelpdeskError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(HelpdeskError):
    status = 415
    title = "Unsupported media type"


class StorageUnavailable(HelpdeskError):
    """Storage did not answer. Always says when to try again (`Retry-After`): with the
    same Idempotency-Key (intake) or If-Match (actions), a retry never applies twice."""

    status = 503
    title = "Storage unavailable"
    RETRY_AFTER = 5

    def __init__(self, detail: str = "Storage could not be reached; please try again shortly.",
                 **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.extra.setdefault("retry_after", self.RETRY_AFTER)


class StorageFailed(StorageUnavailable):
    """Raised by the storage layer, and only there, when a storage service failed (no answer,
    a timeout, an error it does not handle). The services catch this one to clean up or to
    say more precisely what was and was not stored."""


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """A pydantic error as our `errors` list: one entry per bad field, by its dotted path."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
        for e in exc.errors()
    ]
