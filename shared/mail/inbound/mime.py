"""The MIME walk of an inbound message: parsing the bytes, the bound on nesting depth
and part count, collecting plain and HTML bodies, files, delivery-status fields and the
Message-IDs of enclosed messages in document order, and naming the attachments.

`MailParseError` is raised here for a message that cannot be read at all (empty, nested
too deeply, too many parts) and by `shared.mail.inbound.message` for one without a sender.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from urllib.parse import unquote

from shared.core.filenames import safe_filename
from shared.mail.inbound.headers import decode_bytes, decode_words, header, header_in_text, unescape
from shared.mail.inbound.text import unflow


class MailParseError(ValueError):
    """The message cannot be read: no From address, MIME nested too deeply or with too
    many parts, or not a message at all. Reject it; retrying will not help."""


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool
    content_id: str | None


def parse_bytes(raw: bytes) -> Message:
    if not raw.strip():
        raise MailParseError("empty message")
    try:
        return message_from_bytes(raw, policy=policy.default)
    except RecursionError as exc:  # the stdlib parser recurses once per nested multipart
        raise MailParseError("MIME structure is nested too deeply to read") from exc


def _children(part: Message) -> list[Message]:
    # Ask is_multipart() first: get_payload() on a leaf decodes its text with the declared
    # charset and raises for some (idna); the leaf's bytes are read separately, tolerantly.
    if not part.is_multipart():
        return []
    return [child for child in part.get_payload() if isinstance(child, Message)]


def check_limits(root: Message, *, max_depth: int, max_parts: int) -> None:
    # An explicit stack rather than recursion, so a hostile message cannot exhaust the
    # interpreter stack here either; every later walk can then recurse safely.
    stack = [(root, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if depth > max_depth:
            raise MailParseError(f"MIME structure nested deeper than {max_depth} levels")
        if seen > max_parts:
            raise MailParseError(f"message has more than {max_parts} MIME parts")
        stack.extend((child, depth + 1) for child in _children(part))


@dataclass
class _File:
    """An attachment before it is named and known to be inline (which needs all the HTML)."""

    filename: str | None
    content_type: str
    data: bytes
    disposition: str | None
    content_id: str | None


@dataclass
class Content:
    """What a walk of the MIME tree found, in document order."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[_File] = field(default_factory=list)
    dsn_blocks: list[dict[str, str]] = field(default_factory=list)
    original_ids: list[str] = field(default_factory=list)  # Message-ID headers of enclosed messages

    def absorb(self, other: Content, *, bodies: bool = True) -> None:
        if bodies:
            self.plain.extend(other.plain)
            self.html.extend(other.html)
        self.files.extend(other.files)
        self.dsn_blocks.extend(other.dsn_blocks)
        self.original_ids.extend(other.original_ids)


_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_HEADER_TYPES = ("text/rfc822-headers", "message/global-headers")
_MESSAGE_TYPES = ("message/rfc822", "message/global")


def collect(part: Message, into: Content) -> None:
    ctype = part.get_content_type()
    children = _children(part)
    if ctype == "multipart/alternative" and children:
        _collect_alternative(children, into)
    elif ctype in _MESSAGE_TYPES:
        _collect_enclosed(part, children, into)
    elif ctype in _DSN_TYPES:
        into.dsn_blocks.extend(_dsn_blocks(part, children))
    elif children:
        for child in children:
            collect(child, into)
    else:
        _collect_leaf(part, ctype, into)


def _collect_alternative(children: list[Message], into: Content) -> None:
    # Alternatives say the same thing; take the plain text from the first branch that has
    # some and the HTML from the richest (last) one, but keep every branch's files, since
    # clients put inline images (and sometimes attachments) inside the HTML branch.
    branches = []
    for child in children:
        branch = Content()
        collect(child, branch)
        branches.append(branch)
    plain = next((b.plain for b in branches if "".join(b.plain).strip()), [])
    html = next((b.html for b in reversed(branches) if "".join(b.html).strip()), [])
    into.plain.extend(plain)
    into.html.extend(html)
    for branch in branches:
        into.absorb(branch, bodies=False)


def _collect_enclosed(part: Message, children: list[Message], into: Content) -> None:
    # A forwarded-as-attachment message stays whole as an .eml; its body is not ours.
    if children:
        data = _message_bytes(children[0])
        original_id = header(children[0], "Message-ID")
    else:
        data = _payload_bytes(part)
        original_id = header_in_text(decode_bytes(data, None), "Message-ID")
    if original_id:
        into.original_ids.append(original_id)
    name = _filename(part) or "forwarded-message.eml"
    into.files.append(_File(name, "message/rfc822", data, _disposition(part), _content_id(part)))


def _collect_leaf(part: Message, ctype: str, into: Content) -> None:
    data = _payload_bytes(part)
    filename = _filename(part)
    disposition = _disposition(part)
    if ctype.startswith("multipart/"):  # a multipart without a usable boundary: its text is the body
        ctype = "text/plain"
    if ctype in ("text/plain", "text/html") and filename is None and disposition != "attachment":
        text = decode_bytes(data, part.get_content_charset()).replace("\r\n", "\n").replace("\r", "\n")
        text = text.replace("\x00", "")
        if ctype == "text/html":
            into.html.append(text)
        elif param(part, "format").lower() == "flowed":
            into.plain.append(unflow(text, delsp=param(part, "delsp").lower() == "yes"))
        else:
            into.plain.append(text)
        return
    if ctype in _HEADER_TYPES:
        original_id = header_in_text(decode_bytes(data, part.get_content_charset()), "Message-ID")
        if original_id:
            into.original_ids.append(original_id)
    into.files.append(_File(filename, ctype, data, disposition, _content_id(part)))


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


# Serialise an enclosed message as close to how it arrived as the parser allows.
_VERBATIM = policy.default.clone(refold_source="none", linesep="\r\n")


def _message_bytes(message: Message) -> bytes:
    return message.as_bytes(policy=_VERBATIM)


def param(part: Message, name: str, header: str = "content-type") -> str:
    value = part.get_param(name, "", header=header)
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value)


def _disposition(part: Message) -> str | None:
    value = header(part, "Content-Disposition") or ""
    return value.split(";", 1)[0].strip().lower() or None


def _content_id(part: Message) -> str | None:
    value = (header(part, "Content-ID") or "").strip().strip("<>").strip()
    return value or None


def _dsn_blocks(part: Message, children: list[Message]) -> list[dict[str, str]]:
    """The field groups of a delivery-status body: one per message, then one per recipient."""
    if children:  # the stdlib parser splits message/delivery-status into one pseudo-message per group
        return [{key.lower(): header(child, key) or "" for key, _ in child.raw_items()} for child in children]
    text = decode_bytes(_payload_bytes(part), part.get_content_charset())
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        fields = re.findall(r"^([\w-]+)[ \t]*:(.*(?:\n[ \t].*)*)", chunk, re.M)
        if fields:
            blocks.append({key.lower(): " ".join(value.split()) for key, value in fields})
    return blocks


# --- attachments ----------------------------------------------------------------------


# A small fixed table rather than `mimetypes`, which reads the host's mime.types files.
_EXTENSIONS = {
    "application/json": "json",
    "application/msword": "doc",
    "application/octet-stream": "bin",
    "application/pdf": "pdf",
    "application/pgp-signature": "asc",
    "application/pkcs7-signature": "p7s",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/zip": "zip",
    "image/bmp": "bmp",
    "image/gif": "gif",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/svg+xml": "svg",
    "image/tiff": "tif",
    "image/webp": "webp",
    "message/delivery-status": "txt",
    "message/rfc822": "eml",
    "text/calendar": "ics",
    "text/csv": "csv",
    "text/html": "html",
    "text/plain": "txt",
    "text/rfc822-headers": "txt",
    "text/xml": "xml",
}


def attachments(files: list[_File], cid_references: set[str]) -> list[ParsedAttachment]:
    result = []
    for number, item in enumerate(files, start=1):
        name = item.filename or f"attachment-{number}.{_EXTENSIONS.get(item.content_type, 'bin')}"
        referenced = item.content_id is not None and item.content_id.lower() in cid_references
        result.append(ParsedAttachment(
            filename=name, content_type=item.content_type, data=item.data,
            inline=item.disposition == "inline" or referenced, content_id=item.content_id,
        ))
    return result


def _filename(part: Message) -> str | None:
    name = part.get_filename()
    return _safe_filename(decode_words(unescape(name))) if name else None


def _safe_filename(name: str) -> str | None:
    return safe_filename(name) or None


def cid_references(html: str) -> set[str]:
    return {unquote(ref).strip("<>").lower() for ref in re.findall(r"cid:([^\s\"'<>)]+)", html, re.I)}
