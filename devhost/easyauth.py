"""App Service Authentication ("Easy Auth") emulation for local sign-in.

In Azure the agent UI sits behind App Service Authentication: the platform signs the
user in, strips any client-sent `X-MS-CLIENT-PRINCIPAL*` headers and forwards the
signed-in user's identity to the function in those headers. Locally:

- `GET  /.auth/login/dev` shows a sign-in form (user id, email, comma-separated roles);
- `POST /.auth/login/dev` starts a session (an HttpOnly, SameSite=Lax cookie naming a
  server-side session kept in memory, so every restart signs everyone out) and answers
  303 to `post_login_redirect_uri` when it is a local path, else to `/`;
- `GET  /.auth/me` lists the signed-in identity in App Service's shape, `[]` if none;
- `GET  /.auth/logout` ends the session and redirects (`post_logout_redirect_uri`).

`forwarded_headers` gives the headers a function sees: the client's minus any
`x-ms-client-principal*`, plus the host-made ones when a session exists. The role
`authenticated` is added to every signed-in user's roles.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

PROVIDER = "dev"
COOKIE_NAME = "AppServiceAuthSession"
SESSION_SECONDS = 8 * 3600  # App Service's default session lifetime
PRINCIPAL_HEADER_PREFIX = "x-ms-client-principal"

NAME_IDENTIFIER = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
ROLE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
AUTHENTICATED_ROLE = "authenticated"

_MAX_FIELD = 256


@dataclass(frozen=True)
class Principal:
    """A signed-in user, as the dev sign-in form describes them."""

    user_id: str
    user_details: str
    roles: tuple[str, ...]

    def claims(self) -> list[dict[str, str]]:
        """The claims App Service would list for this user, roles last."""
        claims = [
            {"typ": NAME_IDENTIFIER, "val": self.user_id},
            {"typ": EMAIL, "val": self.user_details},
            {"typ": "name", "val": self.user_details},
        ]
        claims += [{"typ": ROLE, "val": role} for role in self.roles]
        return claims


def make_principal(user_id: str, user_details: str, roles_text: str) -> Principal:
    """Build a principal from form input; roles are deduplicated, `authenticated` added."""
    details = user_details.strip()
    if not details:
        raise ValueError("userDetails (an email) is required")
    uid = user_id.strip() or str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{details.lower()}"))
    if len(uid) > _MAX_FIELD or len(details) > _MAX_FIELD or len(roles_text) > 4 * _MAX_FIELD:
        raise ValueError("a field is too long")
    roles: list[str] = []
    for role in [r.strip() for r in roles_text.split(",")] + [AUTHENTICATED_ROLE]:
        if role and role not in roles:
            roles.append(role)
    return Principal(uid, details, tuple(roles))


def encode_principal(principal: Principal) -> str:
    """The `X-MS-CLIENT-PRINCIPAL` value: base64 of App Service's principal JSON."""
    document = {
        "auth_typ": PROVIDER,
        "name_typ": EMAIL,
        "role_typ": ROLE,
        "claims": principal.claims(),
    }
    return base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii")


def principal_headers(principal: Principal) -> dict[str, str]:
    return {
        "X-MS-CLIENT-PRINCIPAL": encode_principal(principal),
        "X-MS-CLIENT-PRINCIPAL-ID": principal.user_id,
        "X-MS-CLIENT-PRINCIPAL-NAME": principal.user_details,
        "X-MS-CLIENT-PRINCIPAL-IDP": PROVIDER,
    }


def forwarded_headers(
    client_headers: CIMultiDictProxy[str] | CIMultiDict[str], principal: Principal | None
) -> CIMultiDict[str]:
    """Client headers with principal headers stripped, then the session's injected."""
    headers: CIMultiDict[str] = CIMultiDict(
        (k, v)
        for k, v in client_headers.items()
        if not k.lower().startswith(PRINCIPAL_HEADER_PREFIX)
    )
    if principal is not None:
        headers.update(principal_headers(principal))
    return headers


def is_local_redirect(uri: str | None) -> bool:
    """Only same-site paths: `/x` yes; `//evil`, `/\\evil`, `https://…` no (open redirect)."""
    if not uri or not uri.startswith("/") or uri.startswith(("//", "/\\")):
        return False
    return not any(ord(ch) < 0x20 or ch == "\x7f" for ch in uri)


def _redirect_target(uri: str | None) -> str:
    return uri if uri and is_local_redirect(uri) else "/"


def _redirect(status: int, location: str) -> web.Response:
    # A plain Response: aiohttp deprecates returning its HTTPException classes.
    return web.Response(status=status, headers={"Location": location})


class SessionStore:
    """Server-side sessions in memory: the cookie holds only a random id."""

    def __init__(self, lifetime: float = SESSION_SECONDS) -> None:
        self._lifetime = lifetime
        self._sessions: dict[str, tuple[Principal, float]] = {}

    def create(self, principal: Principal) -> tuple[str, float]:
        self._purge()
        session_id = secrets.token_urlsafe(32)
        expires = time.time() + self._lifetime
        self._sessions[session_id] = (principal, expires)
        return session_id, expires

    def get(self, session_id: str | None) -> tuple[Principal, float] | None:
        if not session_id:
            return None
        entry = self._sessions.get(session_id)
        if entry is None or entry[1] < time.time():
            self._sessions.pop(session_id, None)
            return None
        return entry

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _purge(self) -> None:
        now = time.time()
        for sid in [s for s, (_, exp) in self._sessions.items() if exp < now]:
            del self._sessions[sid]


class EasyAuth:
    """The `/.auth/*` endpoints and the principal of a request."""

    def __init__(self, sessions: SessionStore | None = None) -> None:
        self.sessions = sessions or SessionStore()

    def principal(self, request: web.Request) -> Principal | None:
        entry = self.sessions.get(request.cookies.get(COOKIE_NAME))
        return entry[0] if entry else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer a request under `/.auth/`."""
        path = request.path.rstrip("/").lower()
        if path == f"/.auth/login/{PROVIDER}":
            if request.method == "GET":
                return self._login_form(request)
            if request.method == "POST":
                return await self._login(request)
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
        if path == "/.auth/me" and request.method == "GET":
            return self._me(request)
        if path == "/.auth/logout" and request.method in ("GET", "POST"):
            return self._logout(request)
        raise web.HTTPNotFound(text=f"devhost emulates only the '{PROVIDER}' sign-in provider")

    def _login_form(self, request: web.Request, error: str = "", status: int = 200) -> web.Response:
        query = request.query
        redirect = (
            query.get("post_login_redirect_uri") or query.get("post_login_redirect_url") or ""
        )
        return web.Response(
            text=_FORM.format(
                error=f'<p class="error">{html.escape(error)}</p>' if error else "",
                redirect=html.escape(redirect, quote=True),
            ),
            content_type="text/html",
            status=status,
        )

    async def _login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        field = {k: str(form.get(k, "")) for k in ("userId", "userDetails", "userRoles")}
        redirect = str(
            form.get("post_login_redirect_uri")
            or form.get("post_login_redirect_url")
            or request.query.get("post_login_redirect_uri")
            or request.query.get("post_login_redirect_url")
            or ""
        )
        try:
            principal = make_principal(field["userId"], field["userDetails"], field["userRoles"])
        except ValueError as exc:
            return self._login_form(request, str(exc), status=400)
        session_id, _ = self.sessions.create(principal)
        response = _redirect(303, _redirect_target(redirect))
        response.set_cookie(
            COOKIE_NAME,
            session_id,
            httponly=True,
            samesite="Lax",
            path="/",
            max_age=SESSION_SECONDS,
        )
        return response

    def _me(self, request: web.Request) -> web.Response:
        entry = self.sessions.get(request.cookies.get(COOKIE_NAME))
        if entry is None:
            return web.json_response([])
        principal, expires = entry
        return web.json_response(
            [
                {
                    "provider_name": PROVIDER,
                    "user_id": principal.user_id,
                    "user_claims": principal.claims(),
                    "expires_on": datetime.fromtimestamp(expires, UTC).isoformat(),
                    "access_token": "",
                    "id_token": "",
                }
            ]
        )

    def _logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.end(request.cookies.get(COOKIE_NAME))
        response = _redirect(302, _redirect_target(request.query.get("post_logout_redirect_uri")))
        response.del_cookie(COOKIE_NAME, path="/")
        return response


_FORM = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sign in (devhost)</title>
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; }}
 label {{ display: block; margin-top: 1rem; }}
 input {{ width: 100%; padding: .4rem; box-sizing: border-box; }}
 button {{ margin-top: 1.5rem; padding: .5rem 1.5rem; }}
 .error {{ color: #b00020; }}
 .note {{ color: #555; font-size: .9rem; }}
</style>
</head>
<body>
<h1>Sign in</h1>
<p class="note">Local development sign-in, standing in for App Service Authentication.</p>
{error}
<form method="post" action="/.auth/login/dev">
 <label for="userId">User id</label>
 <input id="userId" name="userId" autocomplete="off" placeholder="optional; derived from the email">
 <label for="userDetails">Email</label>
 <input id="userDetails" name="userDetails" type="email" required placeholder="agent@example.com">
 <label for="userRoles">Roles (comma-separated)</label>
 <input id="userRoles" name="userRoles" placeholder="agent,supervisor,admin" value="agent">
 <input type="hidden" name="post_login_redirect_uri" value="{redirect}">
 <button type="submit">Sign in</button>
</form>
</body>
</html>
"""
