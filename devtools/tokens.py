"""A small OAuth2 token service for the local Dovecot: it issues bearer tokens for an
account with a lifetime, and answers Dovecot's token introspection (RFC 7662).

    POST /token       {"user": "support@desk.test", "seconds": 3600}
                      → 200 {"access_token": ..., "token_type": "Bearer", "expires_in": 3600}
    POST /introspect  token=<token>, with HTTP Basic auth (the client Dovecot is)
                      → 200 {"active": true, "username": ..., "exp": ...} while valid,
                        200 {"active": false} for an expired, unknown or forged token,
                        401 without the client's credentials

Dovecot's oauth2 passdb (devtools/dovecot.py) is configured with `introspection_mode =
post`, `active_attribute = active`, `active_value = true` and `username_attribute =
username`, and refuses a token whose username is not the one logging in. Tokens live in
memory only; the server runs on a thread of the process that starts it (the test session,
or `make run`).
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

Clock = Callable[[], float]


class TokenService:
    """Issue and introspect bearer tokens on 127.0.0.1:`port` (0: a free port)."""

    def __init__(self, *, port: int = 0, clock: Clock = time.time) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.client_id = "dovecot"
        self.client_secret = secrets.token_urlsafe(16)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def introspection_url(self) -> str:
        """The URL for Dovecot's `introspection_url`, with its Basic auth credentials."""
        return f"http://{self.client_id}:{self.client_secret}@127.0.0.1:{self.port}/introspect"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="tokens",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def issue(self, user: str, seconds: int = 3600) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (user.lower(), self._clock() + seconds)
        return token

    def introspect(self, token: str) -> dict[str, object]:
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found[1] <= self._clock():
            return {"active": False}
        user, expires = found
        return {"active": True, "username": user, "exp": int(expires), "token_type": "Bearer"}

    def client_authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return header is not None and hmac.compare_digest(header, f"Basic {expected}")


def _handler(service: TokenService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path == "/token":
                try:
                    request = json.loads(body or b"{}")
                    user, seconds = str(request["user"]), int(request.get("seconds", 3600))
                except (ValueError, KeyError, TypeError):
                    self._reply(400, {"error": "invalid_request"})
                    return
                self._reply(200, {"access_token": service.issue(user, seconds),
                                  "token_type": "Bearer", "expires_in": seconds})
            elif self.path == "/introspect":
                if not service.client_authorized(self.headers.get("Authorization")):
                    self._reply(401, {"error": "invalid_client"})
                    return
                token = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
                self._reply(200, service.introspect(token))
            else:
                self._reply(404, {"error": "not_found"})

        def _reply(self, status: int, payload: dict[str, object]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the tests' output is not the place for every introspection

    return Handler
