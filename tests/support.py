"""Helpers the tests share: reading MailDev's REST API, a local Dovecot with its token
service, a local DNS server and DKIM keys of sending domains, waiting for conditions."""

from __future__ import annotations

import base64
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, TypeVar

import dkim
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from devtools import dovecot as dovecot_files
from devtools import services

T = TypeVar("T")


def email_message(sender: str, subject: str, text: str, *, name: str = "Sender",
                  **headers: str) -> EmailMessage:
    """A plain-text email from `sender` to the desk's support address, as a client sends
    it; `headers` are more header fields (`In_Reply_To` → `In-Reply-To`), a `message_id`
    replaces the generated Message-ID."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("message_id", make_msgid(domain="client.example"))
    for header, value in headers.items():
        msg[header.replace("_", "-")] = value
    msg.set_content(text)
    return msg


def wait_for(probe: Callable[[], T | None], *, timeout: float = 15.0, interval: float = 0.1,
             what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class MailDev:
    """MailDev's REST API: GET /email lists messages, DELETE /email/all empties the box."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def messages(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.base_url}/email", timeout=10).json()

    def to(self, address: str) -> list[dict[str, Any]]:
        """The messages delivered to `address`: its SMTP envelope, whatever To says (a
        collaborator's copy names the requester in To)."""
        return [
            m for m in self.messages()
            if any(t.get("address", "").lower() == address.lower()
                   for t in (m.get("envelope") or {}).get("to") or m.get("to", []))
        ]

    def raw(self, message_id: str) -> bytes:
        return httpx.get(f"{self.base_url}/email/{message_id}/download", timeout=10).content

    def text(self, message_id: str) -> str:
        """The plain-text part of a message, as the requester reads it."""
        message = message_from_bytes(self.raw(message_id), policy=policy.default)
        body = message.get_body(("plain",))
        return body.get_content() if body is not None else ""

    def portal_link(self, message_id: str) -> str:
        """The "View or answer your request" link every email to a requester carries."""
        match = re.search(r"View or answer your request: (\S+)", self.text(message_id))
        assert match, f"no portal link in message {message_id}"
        return match.group(1)

    def wait_to(self, address: str, count: int = 1, timeout: float = 20.0
                ) -> list[dict[str, Any]]:
        return wait_for(lambda: (m := self.to(address)) and len(m) >= count and m,
                        timeout=timeout, what=f"{count} email(s) to {address}")


@dataclass
class LocalDovecot:
    """A real Dovecot on loopback for the tests (the `dovecot` fixture starts one per
    session): accounts, mail put in and looked at over IMAP as each account, and bearer
    tokens from the token service its oauth2 passdb asks."""

    host: str
    port: int            # plain IMAP (STARTTLS offered); loopback only
    tokens_url: str      # the token service: POST /token {"user", "seconds"}
    tls_port: int = 0    # implicit TLS, with the self-signed certificate in `cert_file`
    cert_file: Path | None = None
    _data: Path = field(default=Path(), repr=False)
    _service: services.Service | None = field(default=None, repr=False)
    _start: Callable[[], services.Service] | None = field(default=None, repr=False)
    _passwords: dict[str, str] = field(default_factory=dict, repr=False)

    def add_user(self, user: str, password: str) -> None:
        """Create the account and its INBOX (or set a new password); idempotent."""
        dovecot_files.add_user(self._data, user, password)
        self._passwords[user.lower()] = password
        # Dovecot looks at the passwd-file at most once a second: wait until it has seen
        # the change, so that the account works as soon as this returns.
        wait_for(lambda: self._can_log_in(user, password), timeout=5,
                 what=f"Dovecot to accept {user}'s new password")

    def _can_log_in(self, user: str, password: str) -> bool:
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(user, password)
        except LoginError:
            client.shutdown()
            return False
        client.logout()
        return True

    @contextmanager
    def session(self, user: str) -> Iterator[IMAPClient]:
        """Logged in as `user` with its password."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=30)
        try:
            client.login(user, self._passwords[user.lower()])
            yield client
        finally:
            try:
                client.logout()
            except Exception:  # a dead connection has nothing to log out of
                client.shutdown()

    def append(self, user: str, raw: bytes, folder: str = "INBOX",
               when: datetime | None = None) -> int:
        """APPEND the message as `user` (creating the folder if missing), arrived `when`
        (its INTERNALDATE; default now): its new UID."""
        with self.session(user) as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            answer = imap.append(folder, raw, msg_time=when)
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", answer)
        assert match, f"no APPENDUID in {answer!r}"
        return int(match.group(1))

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        with self.session(user) as imap:
            imap.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in imap.search("ALL"))

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.session(user) as imap:
            return int(imap.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def folders(self, user: str) -> list[str]:
        with self.session(user) as imap:
            return sorted(name for _flags, _sep, name in imap.list_folders())

    def flags(self, user: str, uid: int, folder: str = "INBOX") -> set[str]:
        with self.session(user) as imap:
            imap.select_folder(folder, readonly=True)
            found = imap.get_flags([uid])
        if uid not in found:
            raise KeyError(f"no message with UID {uid} in {user}'s {folder}")
        # \Recent belongs to a session, not to the message (and IMAP4rev2 dropped it).
        names = {f.decode() if isinstance(f, bytes) else str(f) for f in found[uid]}
        return names - {"\\Recent"}

    def start(self) -> None:
        assert self._start is not None
        self._service = self._start()

    def restart(self) -> None:
        """Stop and start Dovecot on the same ports and data."""
        self.stop()
        self.start()

    def reset_uidvalidity(self, user: str, folder: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY (its messages stay, numbered again from 1), as
        a server that lost its indexes does."""
        self.stop()
        dovecot_files.remove_folder_indexes(self._data, user, folder)
        self.start()

    def issue_token(self, user: str, seconds: int = 3600) -> str:
        """A bearer token Dovecot accepts for `user` (XOAUTH2, OAUTHBEARER) until it expires."""
        response = httpx.post(f"{self.tokens_url}/token", json={"user": user, "seconds": seconds},
                              timeout=10)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def forged_token(self) -> str:
        """A token of the same shape that the token service never issued."""
        return secrets.token_urlsafe(32)

    def owns_ports(self) -> bool:
        return self._service is not None and self._service.owns_ports()

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop()


class LocalDns:
    """A DNS server on a loopback UDP port answering TXT questions from `records` (name →
    TXT strings) and A/AAAA questions from `addresses` (name → IPv4 and IPv6 addresses),
    NXDOMAIN otherwise: the desk's resolver (HELPDESK_DNS_SERVER) asks it for DKIM keys,
    DMARC policies and webhook hosts over the wire, as it asks a real one. `asked`
    counts the questions per name."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.addresses: dict[str, list[str]] = {}
        self.asked: dict[str, int] = {}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.server = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, name="local-dns", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                wire, client = self._sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            self.asked[name] = self.asked.get(name, 0) + 1
            texts = self.records.get(name)
            addresses = self.addresses.get(name)
            if question.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and addresses:
                wanted = [a for a in addresses
                          if (":" in a) == (question.rdtype == dns.rdatatype.AAAA)]
                if wanted:
                    rdtype = "AAAA" if question.rdtype == dns.rdatatype.AAAA else "A"
                    response.answer.append(dns.rrset.from_text(question.name, 300, "IN",
                                                               rdtype, *wanted))
            elif question.rdtype == dns.rdatatype.TXT and texts:
                # A TXT string holds at most 255 bytes: longer ones (keys) go in parts.
                rdatas = [" ".join(f'"{t[i:i + 250]}"' for i in range(0, len(t), 250))
                          for t in texts]
                response.answer.append(dns.rrset.from_text(question.name, 300, "IN", "TXT",
                                                           *rdatas))
            elif not texts and not addresses:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self._sock.sendto(response.to_wire(), client)

    def close(self) -> None:
        self._sock.close()


@dataclass
class DkimKey:
    """An RSA key of a sending domain, made in the test and published in `LocalDns`:
    what a domain's mail server signs with, and the TXT record receivers look it up in."""

    domain: str
    selector: str = "s1"
    private_pem: bytes = field(default=b"", repr=False)

    @classmethod
    def publish(cls, local_dns: LocalDns, domain: str, *, selector: str = "s1",
                dmarc: str | None = "v=DMARC1; p=reject") -> DkimKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        local_dns.records[f"{selector}._domainkey.{domain}"] = [
            f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"]
        if dmarc:
            local_dns.records[f"_dmarc.{domain}"] = [dmarc]
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return cls(domain=domain, selector=selector, private_pem=pem)

    def sign(self, message: EmailMessage | bytes, *, domain: str | None = None) -> bytes:
        """The message with a DKIM-Signature of `domain` (default: the key's) on top,
        as the sender's outgoing server adds it."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        header = dkim.sign(raw, self.selector.encode(), (domain or self.domain).encode(),
                           self.private_pem, include_headers=[b"from", b"to", b"subject",
                                                              b"date", b"message-id"])
        return header + raw
