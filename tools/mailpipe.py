#!/usr/bin/env python3
"""Hand one inbound email from the mail server to the help desk.

The mail server pipes each message addressed to the help desk into this command, which
POSTs the bytes unchanged (``Content-Type: message/rfc822``, ``X-API-Key``) to the
``tickets.email`` endpoint and turns the answer into an exit status from sysexits.h,
the language mail servers speak:

    0   the help desk took the message (2xx); the answer's first line is printed
    75  EX_TEMPFAIL  5xx, 408, 429, a timeout or no connection: the mail server keeps
                     the message queued and tries again, so nothing is lost while the
                     help desk is down or being deployed
    77  EX_NOPERM    401/403: the API key is wrong; the message bounces
    65  EX_DATAERR   any other 4xx: the help desk refused this message (malformed, too
                     large...); it bounces to the sender
    64  EX_USAGE     no --url, or no key (--key or HELPDESK_API_KEY)
    66  EX_NOINPUT   nothing on stdin

Errors are one line on stderr, which the mail server puts into its log or the bounce.
Standard library only, so the mail host's own python3 runs it; no virtualenv needed.

Postfix, in /etc/aliases (then run ``newaliases``); the key travels in the environment,
so keep that file readable by root only, or use a separate alias_maps file:

    helpdesk: "|/usr/bin/env HELPDESK_API_KEY=... /usr/bin/python3 /opt/helpdesk/tools/mailpipe.py
               --url https://desk.example.com/api/tickets.email --timeout 30"

(on one line; Postfix runs the command as the alias file's owner or default_privs.)
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import urllib.error
import urllib.request
from typing import NoReturn

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_TEMPFAIL = 75
EX_NOPERM = 77


def exit_status(http_status: int) -> int:
    """The sysexits.h status that tells the mail server what to do after this HTTP answer."""
    if 200 <= http_status < 300:
        return EX_OK
    if http_status in (401, 403):
        return EX_NOPERM
    if http_status in (408, 429) or http_status >= 500:
        return EX_TEMPFAIL
    if 400 <= http_status < 500:
        return EX_DATAERR
    return EX_TEMPFAIL  # a redirect or the like: a setup problem, so keep the mail queued until it is fixed


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Following a redirect would turn the POST into a GET and lose the message.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _fail(EX_USAGE, message)


def _fail(status: int, reason: str) -> NoReturn:
    print(f"mailpipe: {' '.join(reason.split())}", file=sys.stderr)
    sys.exit(status)


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:300] if text else ""


def _post(url: str, message: bytes, *, key: str, timeout: float) -> tuple[int, bytes]:
    try:
        request = urllib.request.Request(url, data=message, method="POST", headers={
            "Content-Type": "message/rfc822", "X-API-Key": key, "User-Agent": "helpdesk-mailpipe/1"})
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, _read_quietly(exc)
    except ValueError as exc:  # not a URL urllib can use
        _fail(EX_USAGE, f"bad --url {url!r}: {exc}")
    except (OSError, http.client.HTTPException) as exc:  # refused, unreachable, timed out, cut off
        _fail(EX_TEMPFAIL, f"cannot reach {url}: {getattr(exc, 'reason', None) or exc}")


def _read_quietly(error: urllib.error.HTTPError) -> bytes:
    # The status already decides; an error body that cannot be read only costs the detail.
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(description="POST one email from stdin to the help desk (see the module docstring).")
    parser.add_argument("--url", help="the help desk's tickets.email endpoint")
    parser.add_argument("--key", default=os.environ.get("HELPDESK_API_KEY"),
                        help="API key (default: $HELPDESK_API_KEY)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the help desk")
    args = parser.parse_args(argv)
    if not args.url:
        _fail(EX_USAGE, "no --url given")
    if not args.key:
        _fail(EX_USAGE, "no API key: pass --key or set HELPDESK_API_KEY")
    message = sys.stdin.buffer.read()
    if not message.strip():
        _fail(EX_NOINPUT, "no message on stdin")
    status, body = _post(args.url, message, key=args.key, timeout=args.timeout)
    code = exit_status(status)
    if code != EX_OK:
        _fail(code, f"help desk answered {status}: {_first_line(body)}")
    print(_first_line(body) or status)
    return EX_OK


if __name__ == "__main__":
    sys.exit(main())
