"""Drop a message into a mailbox of the local Dovecot over IMAP, as a mail server
delivering it would: by default into `make run`'s sample mailbox, support@helpdesk.example.com.

    python -m tools.mail_drop --from someone@example.com --subject "Printer jam" \\
        --body "The printer on floor 2 is jammed."
    python -m tools.mail_drop --file message.eml      # a whole message (- for stdin)

It logs in as the mailbox (`--user`, default the `--to` address) with `--password`, or
local.settings.json's HELPDESK_MAILBOX_SAMPLE_PASSWORD, and APPENDs to `--folder`
(INBOX); the port follows HELPDESK_RUN_PORTS's `imap` as `make run` does. It prints the
message's new UID.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_MAILBOX = "support@helpdesk.example.com"
PASSWORD_SETTING = "HELPDESK_MAILBOX_SAMPLE_PASSWORD"
DEFAULT_PORT = 1143


def default_port() -> int:
    for item in os.environ.get("HELPDESK_RUN_PORTS", "").split(","):
        name, _, value = item.partition("=")
        if name.strip() == "imap" and value.strip().isdigit():
            return int(value)
    return DEFAULT_PORT


def default_password() -> str | None:
    for name in ("local.settings.json", "local.settings.example.json"):
        path = ROOT / name
        if path.exists():
            value = json.loads(path.read_text()).get("Values", {}).get(PASSWORD_SETTING)
            if value:
                return str(value)
    return None


def compose(*, sender: str, to: str, subject: str, body: str,
            in_reply_to: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    if in_reply_to:
        # What a mail client writes when answering: the desk's own Message-ID joins the
        # ticket; a subject token alone needs a DKIM-signed sender (this mail is unsigned).
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message.as_bytes()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.mail_drop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--to", default=SAMPLE_MAILBOX, help="the mailbox (and To: header)")
    parser.add_argument("--from", dest="sender", default="someone@example.com")
    parser.add_argument("--subject", default="A question from the mail drop")
    parser.add_argument("--body", default="Hello, I need help with something.")
    parser.add_argument("--in-reply-to", help="the Message-ID of the desk's email answered "
                        "(in MailDev: the message's headers), as a mail client replies")
    parser.add_argument("--file", help="a whole RFC 5322 message to drop instead (- reads stdin)")
    parser.add_argument("--user", help="the IMAP login (default: the --to address)")
    parser.add_argument("--password", help=f"default: local.settings.json's {PASSWORD_SETTING}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port())
    parser.add_argument("--folder", default="INBOX")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.file == "-":
        raw = sys.stdin.buffer.read()
    elif args.file:
        raw = Path(args.file).read_bytes()
    else:
        raw = compose(sender=args.sender, to=args.to, subject=args.subject, body=args.body,
                      in_reply_to=args.in_reply_to)
    password = args.password or default_password()
    if not password:
        print(f"error: no --password and no {PASSWORD_SETTING} in local.settings.json",
              file=sys.stderr)
        return 2
    try:
        with IMAPClient(args.host, args.port, ssl=False, timeout=30) as imap:
            imap.login(args.user or args.to, password)
            answer = imap.append(args.folder, raw)
    except (OSError, IMAPClientError) as exc:
        print(f"error: {args.host}:{args.port}: {exc} (is `make run` running?)", file=sys.stderr)
        return 1
    match = re.search(rb"\[APPENDUID \d+ (\d+)\]", answer)
    uid = match.group(1).decode() if match else "?"
    print(f"dropped into {args.to}'s {args.folder} as UID {uid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
