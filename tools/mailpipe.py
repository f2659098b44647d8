#!/usr/bin/env python3
"""Hand one inbound email from the mail server to the help desk.

The mail server pipes each message addressed to the help desk into this command, which
POSTs the bytes unchanged (``Content-Type: message/rfc822``, ``X-API-Key``) to the
``tickets.email`` endpoint and turns the answer into an exit status from sysexits.h,
the language mail servers speak:

    0   the help desk took the message (2xx; the desk answers 201 for a new ticket, a
        reply, a redelivery, an auto-reply it dropped, a bounce it noted): the ticket's
        number and what happened are printed
    75  EX_TEMPFAIL  5xx, 408, 429, a timeout or no connection: the mail server keeps
                     the message queued and tries again, so nothing is lost while the
                     help desk is down or being deployed
    77  EX_NOPERM    401/403: the API key is wrong; the message bounces
    65  EX_DATAERR   any other 4xx: the help desk refused this message (malformed, too
                     large...); it bounces to the sender
    78  EX_CONFIG    the key file cannot be read, is empty, or others may read it: the
                     mail stays queued until the file is fixed
    64  EX_USAGE     no --url, or no key
    66  EX_NOINPUT   nothing on stdin

Errors are one line on stderr, which the mail server puts into its log or the bounce.
Standard library only, so the mail host's own python3 runs it; no virtualenv needed.

The API key never goes on the command line, where `ps` and the mail server's
configuration show it to every local user. It comes from, in this order:
``--key-file PATH`` (or ``$HELPDESK_API_KEY_FILE``): a file holding the key, owned by
the user the command runs as and readable by nobody else (mode 0600 or 0400; a file
that group or others may read is refused); or ``$HELPDESK_API_KEY``. ``--key`` still
works, for setups written before, but says on stderr that it shows the key.

Postfix runs a command from an alias database as the owner of that database file
(default_privs, "nobody", when root owns it, as /etc/aliases.db usually is), so give the
pipe an alias file of its own, owned by a user of its own, who alone may read the key:

    useradd --system --no-create-home helpdesk-mail
    install -d -m 0755 /etc/helpdesk
    (umask 077; printf '%s\n' 'hd_...' > /etc/helpdesk/api-key)
    chown helpdesk-mail /etc/helpdesk/api-key
    cat > /etc/postfix/helpdesk-aliases <<'EOF'
    helpdesk: "|/usr/bin/python3 /opt/helpdesk/tools/mailpipe.py
      --url https://desk.example.com/api/tickets.email --key-file /etc/helpdesk/api-key"
    EOF
    postalias /etc/postfix/helpdesk-aliases && chown helpdesk-mail /etc/postfix/helpdesk-aliases.db

(the alias on one line), and in main.cf:
``alias_maps = hash:/etc/aliases, hash:/etc/postfix/helpdesk-aliases``.
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
EX_CONFIG = 78


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


def _read_key_file(path: str) -> str:
    """The key in `path`, which only its owner may read; exits EX_CONFIG otherwise."""
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            data = handle.read(4096)
    except OSError as exc:
        _fail(EX_CONFIG, f"cannot read the key file {path}: {exc.strerror or exc}")
    if mode & 0o077:
        _fail(EX_CONFIG, f"the key file {path} may be read or changed by others "
                         f"(mode {mode & 0o777:o}): chmod 600 it")
    key = data.decode("utf-8", "replace").strip()
    if not key or any(ch.isspace() for ch in key):
        _fail(EX_CONFIG, f"the key file {path} must hold the API key alone")
    return key


def _api_key(args: argparse.Namespace) -> str:
    if args.key:
        print("mailpipe: --key shows the API key to every local user (ps, the alias file); "
              "use --key-file or HELPDESK_API_KEY", file=sys.stderr)
        return str(args.key)
    if args.key_file:
        return _read_key_file(args.key_file)
    key = os.environ.get("HELPDESK_API_KEY", "").strip()
    if not key:
        _fail(EX_USAGE, "no API key: use --key-file or set HELPDESK_API_KEY")
    return key


def _post(url: str, message: bytes, *, key: str, timeout: float) -> tuple[int, str, bytes]:
    try:
        request = urllib.request.Request(url, data=message, method="POST", headers={
            "Content-Type": "message/rfc822", "X-API-Key": key, "User-Agent": "helpdesk-mailpipe/1"})
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout) as response:
            outcome = response.headers.get("X-Helpdesk-Outcome", "")
            return response.status, outcome, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, "", _read_quietly(exc)
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
    parser.add_argument("--key-file", default=os.environ.get("HELPDESK_API_KEY_FILE"),
                        help="file holding the API key, mode 0600 (default: $HELPDESK_API_KEY_FILE, "
                             "else the key in $HELPDESK_API_KEY)")
    parser.add_argument("--key", help=argparse.SUPPRESS)  # visible in ps: kept for old setups
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the help desk")
    args = parser.parse_args(argv)
    if not args.url:
        _fail(EX_USAGE, "no --url given")
    key = _api_key(args)
    message = sys.stdin.buffer.read()
    if not message.strip():
        _fail(EX_NOINPUT, "no message on stdin")
    status, outcome, body = _post(args.url, message, key=key, timeout=args.timeout)
    code = exit_status(status)
    if code != EX_OK:
        _fail(code, f"help desk answered {status}: {_first_line(body)}")
    print(" ".join(part for part in (_first_line(body), outcome) if part) or status)
    return EX_OK


if __name__ == "__main__":
    sys.exit(main())
