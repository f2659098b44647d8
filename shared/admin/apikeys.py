"""API keys for integrations (osTicket-style ticket API, the email pipe).

A key is shown once, when an admin creates it: `hd_<id>_<secret>`. Only a SHA-256 of the
secret is stored, under the id, so a key is checked with one point read. A key has
scopes (`tickets`, `email`) and may be limited to address ranges (CIDR); a key without
ranges works from anywhere, so a key never has to be bound to one address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.core.errors import Forbidden, Unauthorized

Scope = Literal["tickets", "email"]
PREFIX = "hd_"


class ApiKeyRequest(BaseModel):
    """What an admin sends to create a key."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: list[Scope] = Field(min_length=1)
    cidrs: list[str] = Field(default_factory=list, description="e.g. 10.0.0.0/8; empty = any")

    @field_validator("cidrs")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(c.strip(), strict=False)) for c in value]


class ApiKey(BaseModel):
    """A key as stored and listed: never the secret."""

    id: str
    name: str
    scopes: list[Scope]
    cidrs: list[str]
    created_at: datetime
    created_by: str
    revoked: bool = False
    secret_sha256: str = Field("", exclude=True)


class CreatedKey(BaseModel):
    key: str = Field(description="shown once; store it in the integration")
    info: ApiKey


def new_key(request: ApiKeyRequest, *, by: str, now: datetime) -> CreatedKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    info = ApiKey(id=key_id, name=request.name, scopes=request.scopes, cidrs=request.cidrs,
                  created_at=now, created_by=by, secret_sha256=_hash(secret))
    return CreatedKey(key=f"{PREFIX}{key_id}_{secret}", info=info)


def split_key(presented: str) -> tuple[str, str] | None:
    if not presented.startswith(PREFIX):
        return None
    key_id, sep, secret = presented[len(PREFIX):].partition("_")
    if not sep or not key_id.isalnum() or not secret:
        return None
    return key_id, secret


def matches(info: ApiKey, secret: str) -> bool:
    return not info.revoked and hmac.compare_digest(info.secret_sha256, _hash(secret))


def address_allowed(info: ApiKey, address: str | None) -> bool:
    if not info.cidrs:
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(c) for c in info.cidrs)


def client_address(forwarded_for: str | None) -> str | None:
    """The caller's address: the last X-Forwarded-For entry, the one the platform's front
    end added (earlier entries are whatever the client claimed). Ports are dropped."""
    if not forwarded_for:
        return None
    last = forwarded_for.split(",")[-1].strip()
    if last.startswith("["):  # [v6]:port
        return last[1:last.find("]")] if "]" in last else None
    if last.count(":") == 1:  # v4:port
        last = last.split(":")[0]
    return last or None


class KeyLookup(Protocol):
    async def get(self, key_id: str) -> ApiKey | None: ...


async def check_key(presented: str | None, scope: Scope, address: str | None, *,
                    keys: KeyLookup) -> ApiKey:
    """The key's record if it may be used here for `scope`; else 401 or 403."""
    parts = split_key(presented or "")
    info = await keys.get(parts[0]) if parts else None
    if parts is None or info is None or not matches(info, parts[1]):
        raise Unauthorized("A valid API key is needed in the X-API-Key header.")
    if scope not in info.scopes:
        raise Forbidden(f"This API key may not be used for {scope!r}.")
    if not address_allowed(info, address):
        raise Forbidden(f"This API key may not be used from {address or 'an unknown address'}.")
    return info


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
