"""Who is calling: the principal App Service Authentication passes in
`X-MS-CLIENT-PRINCIPAL` (base64 JSON), and the role checks. Pure: no I/O.

App Service strips any client-sent copy of the header before the request reaches the
app, but only when App Service Authentication is on for the app (it then sets
`WEBSITE_AUTH_ENABLED=True`; the local host does the same while it emulates sign-in).
Without it the header is whatever the client sent, so `require` refuses every caller
with a 401 saying sign-in is not configured, instead of believing a forged admin.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from shared.core.errors import Forbidden, Unauthorized

ROLE_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
ID_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
UPN_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
# Enough to tell an address from a display name; the directory validates it properly.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

ROLES = ("agent", "supervisor", "admin")
# Roles are cumulative, as in the lifecycle table: a supervisor is also an agent.
IMPLIES = {"admin": {"admin", "supervisor", "agent"}, "supervisor": {"supervisor", "agent"}}


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    roles: frozenset[str]
    email: str | None = None
    # A person's name, where the token has one apart from their address (Entra's `name`).
    display_name: str | None = None

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
    email = next((value for value in (first(EMAIL_CLAIM, "email", "preferred_username", UPN_CLAIM),
                                      name) if value and EMAIL_SHAPE.match(value)), None)
    display = first("name")
    return Principal(user_id=uid or name or "", name=name or uid or "", roles=roles,
                     email=email,
                     display_name=display if display and not EMAIL_SHAPE.match(display) else None)


NOT_CONFIGURED = (
    "Agent sign-in is not configured: turn on App Service Authentication for this app "
    "(docs/deploy.md, 'Agent sign-in'). Until then no agent or admin endpoint answers.")


def require(principal: Principal | None, role: str, *, sign_in_enabled: bool) -> Principal:
    """401 when sign-in is not configured (the header could be forged) or without a
    principal, 403 without the role."""
    if not sign_in_enabled:
        raise Unauthorized(NOT_CONFIGURED, extra={"sign_in": "not-configured"})
    if principal is None:
        raise Unauthorized("Sign in first.", extra={"login": "/.auth/login/aad"})
    if not principal.has(role):
        raise Forbidden(f"This needs the {role!r} role.")
    return principal
