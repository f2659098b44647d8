"""Who is calling: the principal App Service Authentication passes in
`X-MS-CLIENT-PRINCIPAL` (base64 JSON), and the role checks. Pure: no I/O.

App Service strips any client-sent copy of the header before the request reaches the
app, so its presence is trustworthy there; the local host does the same.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from shared.errors import Forbidden, Unauthorized

ROLE_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
ID_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"

ROLES = ("agent", "supervisor", "admin")
# Roles are cumulative, as in the lifecycle table: a supervisor is also an agent.
IMPLIES = {"admin": {"admin", "supervisor", "agent"}, "supervisor": {"supervisor", "agent"}}


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return any(role in IMPLIES.get(mine, {mine}) for mine in self.roles)


def parse_principal(header: str | None, *, user_id: str | None = None) -> Principal | None:
    """Decode App Service's principal header; None if absent or unreadable."""
    if not header:
        return None
    try:
        data = json.loads(base64.b64decode(header, validate=False))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    claims = [c for c in data.get("claims") or [] if isinstance(c, dict)]
    role_typ = data.get("role_typ") or ROLE_CLAIM
    name_typ = data.get("name_typ") or NAME_CLAIM

    def first(*types: str) -> str | None:
        for typ in types:
            for claim in claims:
                if claim.get("typ") == typ and claim.get("val"):
                    return str(claim["val"])
        return None

    name = first(name_typ, EMAIL_CLAIM, "name", "preferred_username")
    uid = user_id or first(ID_CLAIM, "http://schemas.microsoft.com/identity/claims/objectidentifier")
    if not (name or uid):
        return None
    roles = frozenset(str(c["val"]) for c in claims if c.get("typ") == role_typ and c.get("val"))
    return Principal(user_id=uid or name or "", name=name or uid or "", roles=roles)


def require(principal: Principal | None, role: str) -> Principal:
    """401 without a principal, 403 without the role."""
    if principal is None:
        raise Unauthorized("Sign in first.", extra={"login": "/.auth/login/aad"})
    if not principal.has(role):
        raise Forbidden(f"This needs the {role!r} role.")
    return principal
