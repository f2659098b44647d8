"""Inbound email: what the help desk needs to know about one raw RFC 822 message.

Responsible for reading whatever a mail server hands the email channel - any charset,
any MIME shape real clients produce, broken or hostile input - and answering: who
wrote, in reply to what (message ids, the ``[#NNNNNNNN]`` ticket token), what did they
newly say (quoted reply history stripped, inline forwards kept, since the forwarded
content is the question), what is attached, and whether a machine sent it (bounce,
auto-reply, list mail, our own mail coming back), in which case it must neither open a
ticket nor be answered.

Pure: no I/O, no Azure. The one error is `MailParseError` (a `ValueError`): the message
cannot be read and should be rejected, not retried. Everything short of that degrades
instead of raising: an unknown charset decodes with replacement characters, a bad date
becomes None, an undecodable encoded word stays as written.
"""

from __future__ import annotations

import binascii
import codecs
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from urllib.parse import unquote

import nh3

from shared.core.filenames import safe_filename
from shared.mail.html import MAX_HTML_CHARS, to_text

# Same text as shared.mail.outbound.REPLY_MARKER (a test keeps them equal); repeated here so this
# module stays free of the SMTP and settings imports that come with shared.mail.outbound.
REPLY_MARKER = "##- Please type your reply above this line -##"


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


@dataclass(frozen=True)
class Bounce:
    original_message_id: str | None
    recipients: list[str]
    status: str | None
    action: str | None


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_name: str
    from_address: str
    reply_to: str | None
    to: list[str]
    cc: list[str]
    subject: str
    date: datetime | None
    text: str
    html: str | None
    attachments: list[ParsedAttachment]
    auto_reason: str | None
    bounce: Bounce | None
    ticket_number: str | None


def parse_email(
    raw: bytes, *, own_addresses: Collection[str] = (), max_depth: int = 50, max_parts: int = 500
) -> ParsedEmail:
    """Read one inbound message; raises MailParseError only when it cannot be read at all."""
    msg = _parse(bytes(raw))
    _check_limits(msg, max_depth=max_depth, max_parts=max_parts)
    from_name, from_address = _sender(msg)
    subject = _one_line(_decode_words(_header(msg, "Subject") or ""))
    content = _Content()
    _collect(msg, content)
    plain = "\n".join(content.plain)
    # Cut before any HTML work: a bigger part stays whole in the raw message (shared.mail.html).
    html_source = "\n".join(content.html)[:MAX_HTML_CHARS]
    source_text = plain if plain.strip() else to_text(html_source)
    bounce = _bounce(msg, content, from_address=from_address, subject=subject, text=source_text)
    own = {address.strip().lower() for address in own_addresses}
    reply_to = _addresses(_header(msg, "Reply-To"))
    return ParsedEmail(
        message_id=next(iter(_message_ids(_header(msg, "Message-ID"))), None),
        in_reply_to=_message_ids(_header(msg, "In-Reply-To")),
        references=_message_ids(_header(msg, "References")),
        from_name=from_name,
        from_address=from_address,
        reply_to=reply_to[0][1] if reply_to else None,
        to=_address_list(_header(msg, "To")),
        cc=_address_list(_header(msg, "Cc")),
        subject=subject,
        date=_date(_header(msg, "Date")),
        text=strip_quoted(source_text, is_reply=is_reply_subject(subject)),
        html=_sanitise_html(html_source) if html_source.strip() else None,
        attachments=_attachments(content.files, _cid_references(html_source)),
        auto_reason=_auto_reason(msg, bounce=bounce, from_address=from_address, subject=subject, own=own),
        bounce=bounce,
        ticket_number=ticket_token(subject),
    )


def ticket_token(subject: str) -> str | None:
    """The ticket number from a ``[#NNNNNNNN]`` token anywhere in a subject."""
    found = _TICKET_TOKEN.search(subject)
    return found.group(1) if found else None


_TICKET_TOKEN = re.compile(r"\[#(\d{8})\]")
# Reply prefixes of common clients in common languages, possibly after a "[list]" tag.
_REPLY_SUBJECT = re.compile(r"^\s*(\[[^\]]*\]\s*)?(re|aw|sv|vs|antw|res|odp|rif|ynt)\s*(\[\d+\]|\(\d+\))?\s*:", re.I)


def is_reply_subject(subject: str) -> bool:
    """Whether a subject says the message answers another one (Re:, AW:, SV:, ...)."""
    return bool(_REPLY_SUBJECT.match(subject))


# --- reading the MIME tree ------------------------------------------------------------


def _parse(raw: bytes) -> Message:
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


def _check_limits(root: Message, *, max_depth: int, max_parts: int) -> None:
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
class _Content:
    """What a walk of the MIME tree found, in document order."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[_File] = field(default_factory=list)
    dsn_blocks: list[dict[str, str]] = field(default_factory=list)
    original_ids: list[str] = field(default_factory=list)  # Message-ID headers of enclosed messages

    def absorb(self, other: _Content, *, bodies: bool = True) -> None:
        if bodies:
            self.plain.extend(other.plain)
            self.html.extend(other.html)
        self.files.extend(other.files)
        self.dsn_blocks.extend(other.dsn_blocks)
        self.original_ids.extend(other.original_ids)


_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_HEADER_TYPES = ("text/rfc822-headers", "message/global-headers")
_MESSAGE_TYPES = ("message/rfc822", "message/global")


def _collect(part: Message, into: _Content) -> None:
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
            _collect(child, into)
    else:
        _collect_leaf(part, ctype, into)


def _collect_alternative(children: list[Message], into: _Content) -> None:
    # Alternatives say the same thing; take the plain text from the first branch that has
    # some and the HTML from the richest (last) one, but keep every branch's files, since
    # clients put inline images (and sometimes attachments) inside the HTML branch.
    branches = []
    for child in children:
        branch = _Content()
        _collect(child, branch)
        branches.append(branch)
    plain = next((b.plain for b in branches if "".join(b.plain).strip()), [])
    html = next((b.html for b in reversed(branches) if "".join(b.html).strip()), [])
    into.plain.extend(plain)
    into.html.extend(html)
    for branch in branches:
        into.absorb(branch, bodies=False)


def _collect_enclosed(part: Message, children: list[Message], into: _Content) -> None:
    # A forwarded-as-attachment message stays whole as an .eml; its body is not ours.
    if children:
        data = _message_bytes(children[0])
        original_id = _header(children[0], "Message-ID")
    else:
        data = _payload_bytes(part)
        original_id = _header_in_text(_decode_bytes(data, None), "Message-ID")
    if original_id:
        into.original_ids.append(original_id)
    name = _filename(part) or "forwarded-message.eml"
    into.files.append(_File(name, "message/rfc822", data, _disposition(part), _content_id(part)))


def _collect_leaf(part: Message, ctype: str, into: _Content) -> None:
    data = _payload_bytes(part)
    filename = _filename(part)
    disposition = _disposition(part)
    if ctype.startswith("multipart/"):  # a multipart without a usable boundary: its text is the body
        ctype = "text/plain"
    if ctype in ("text/plain", "text/html") and filename is None and disposition != "attachment":
        text = _decode_bytes(data, part.get_content_charset()).replace("\r\n", "\n").replace("\r", "\n")
        text = text.replace("\x00", "")
        if ctype == "text/html":
            into.html.append(text)
        elif _param(part, "format").lower() == "flowed":
            into.plain.append(_unflow(text, delsp=_param(part, "delsp").lower() == "yes"))
        else:
            into.plain.append(text)
        return
    if ctype in _HEADER_TYPES:
        original_id = _header_in_text(_decode_bytes(data, part.get_content_charset()), "Message-ID")
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


def _param(part: Message, name: str, header: str = "content-type") -> str:
    value = part.get_param(name, "", header=header)
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value)


def _disposition(part: Message) -> str | None:
    value = _header(part, "Content-Disposition") or ""
    return value.split(";", 1)[0].strip().lower() or None


def _content_id(part: Message) -> str | None:
    value = (_header(part, "Content-ID") or "").strip().strip("<>").strip()
    return value or None


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


def _attachments(files: list[_File], cid_references: set[str]) -> list[ParsedAttachment]:
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
    return _safe_filename(_decode_words(_unescape(name))) if name else None


def _safe_filename(name: str) -> str | None:
    return safe_filename(name) or None


def _cid_references(html: str) -> set[str]:
    return {unquote(ref).strip("<>").lower() for ref in re.findall(r"cid:([^\s\"'<>)]+)", html, re.I)}


# --- headers --------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str | None:
    """The first `name` header as sent (unfolded, 8-bit bytes decoded), else None.

    Read raw rather than through the policy's header objects: their structured parsing
    throws away or mangles values in unknown charsets, and this module decodes those itself.
    """
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return _unescape(re.sub(r"\r?\n(?=[ \t])", "", str(value))).replace("\r", "").replace("\n", "")
    return None


def _header_in_text(text: str, name: str) -> str | None:
    found = re.search(rf"^{re.escape(name)}[ \t]*:(.*(?:\n[ \t].*)*)", text, re.I | re.M)
    return " ".join(found.group(1).split()) if found else None


def _unescape(value: str) -> str:
    # The parser keeps raw 8-bit header bytes as surrogate escapes; decode them properly.
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _decode_bytes(value.encode("utf-8", "surrogateescape"), None)


def _one_line(value: str) -> str:
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())


def header_text(value: str, *, rounds: int = 5) -> str:
    """A subject or name as a mail client would show it, safe to put in a header: RFC
    2047 encoded words decoded (again while that changes it, since a decoded word can be
    another encoded word), control characters and line breaks made spaces, on one line.
    An encoded word hiding CR/LF therefore never reaches a ticket's subject or name."""
    for _ in range(rounds):
        decoded = _decode_words(value)
        if decoded == value:
            break
        value = decoded
    return _one_line(value)


# RFC 2047 encoded word; the charset may carry an RFC 2231 "*language" suffix.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in any charset; leave undecodable ones as written."""
    out: list[str] = []
    run: list[bytes] = []  # adjacent words in one charset, decoded together so that a
    run_charset = ""  # character some encoders split across two words survives
    position = 0
    for word in _ENCODED_WORD.finditer(value):
        between = value[position:word.start()]
        data = _word_bytes(word.group(2), word.group(3))
        charset = word.group(1).split("*", 1)[0].lower()
        position = word.end()
        if data is None:
            out.append(_flush(run, run_charset) + between + word.group(0))
            run = []
            continue
        if run and between.strip() == "" and charset == run_charset:
            run.append(data)  # whitespace between adjacent encoded words is not text (RFC 2047 6.2)
            continue
        out.append(_flush(run, run_charset) + ("" if run and between.strip() == "" else between))
        run, run_charset = [data], charset
    out.append(_flush(run, run_charset) + value[position:])
    return "".join(out)


def _flush(run: list[bytes], charset: str) -> str:
    return _decode_bytes(b"".join(run), charset or None) if run else ""


def _word_bytes(encoding: str, text: str) -> bytes | None:
    data = text.encode("utf-8", "replace")
    try:
        if encoding in "qQ":
            return binascii.a2b_qp(data, header=True)
        data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        data = data[: len(data) - 1] if len(data) % 4 == 1 else data  # a lone last sextet is no byte
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


def _addresses(value: str | None) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; entries without an address are dropped."""
    if not value:
        return []
    pairs = []
    for name, address in getaddresses([value]):
        address = address.strip().strip("<>").lower()
        if "@" in address and not any(ch.isspace() for ch in address):
            pairs.append((_one_line(_decode_words(name)), address))
    return pairs


def _address_list(value: str | None) -> list[str]:
    return list(dict.fromkeys(address for _, address in _addresses(value)))


def _sender(msg: Message) -> tuple[str, str]:
    found = _addresses(_header(msg, "From"))
    if not found:
        raise MailParseError("message has no From address")
    return found[0]


def _message_ids(value: str | None) -> list[str]:
    """Normalised ``<id>`` values in order; tolerates missing brackets and comments."""
    if not value:
        return []
    found = [re.sub(r"\s+", "", item) for item in re.findall(r"<([^<>]*)>", value)]
    if not found:
        found = [token.strip("<>\"'") for token in re.split(r"[\s,;]+", value) if "@" in token]
    return list(dict.fromkeys(f"<{item}>" for item in found if item))


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # "-0000" means "time zone unknown"; RFC 5322 says the time is then UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- charsets -------------------------------------------------------------------------


# Labels that say nothing: 8-bit text claiming to be ASCII is common, and the others are
# placeholders that MTAs write when they do not know.
_UNLABELLED = {"", "ascii", "us-ascii", "unknown-8bit", "x-unknown", "unknown", "8bit", "default"}


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in a declared (possibly wrong or unknown) charset; never raises."""
    label = (charset or "").strip().strip("\"'").lower()
    if label in _UNLABELLED:
        return _guess_decode(data)
    try:
        codec = codecs.lookup(label).name
    except (LookupError, ValueError):  # unknown name, or one no codec could have (a NUL in it)
        return data.decode("utf-8", "replace")
    if codec == "iso8859-1":  # senders label cp1252 as Latin-1; browsers (WHATWG) read it so too
        codec = "cp1252"
    try:
        return _scrub(data.decode(codec))
    except UnicodeDecodeError:
        if codec in ("utf-8", "cp1252"):
            return _guess_decode(data)
    except (LookupError, UnicodeError):  # not a text codec (base64, rot13), or one that cannot decode
        return data.decode("utf-8", "replace")
    try:
        return _scrub(data.decode(codec, "replace"))
    except (LookupError, UnicodeError):
        return data.decode("utf-8", "replace")


def _guess_decode(data: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _scrub(text: str) -> str:
    # Some codecs (utf-7, unicode_escape) can yield lone surrogates, which cannot be
    # stored or sent on as UTF-8; pair up what pairs and replace the rest.
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# --- HTML -----------------------------------------------------------------------------


def _sanitise_html(html: str) -> str | None:
    cleaned = nh3.clean(
        html,
        url_schemes={"http", "https", "mailto", "tel", "cid"},
        url_relative="deny",  # a relative link in an email points nowhere useful
        clean_content_tags={"script", "style", "title"},
        attribute_filter=_allow_attribute,
        strip_comments=True,
    )
    return cleaned.strip() or None


def _allow_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Images only from the message itself or over https: no tracking over plain http, no data: blobs.
    if tag == "img" and attribute == "src":
        return value if value.strip().lower().startswith(("cid:", "https:")) else None
    return value


# --- plain text -----------------------------------------------------------------------


def _unflow(text: str, *, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676) back into paragraphs."""
    out: list[str] = []
    carry: tuple[int, str] | None = None  # (quote depth, text) of a paragraph still flowing
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        body = body[1:] if body.startswith(" ") else body  # undo space-stuffing
        if carry is not None:
            if carry[0] == depth:
                body = carry[1] + body
            else:
                out.append(_quoted(*carry))
            carry = None
        if body.endswith(" ") and body != "-- ":
            carry = (depth, body[:-1] if delsp else body)
        else:
            out.append(_quoted(depth, body))
    if carry is not None:
        out.append(_quoted(*carry))
    return "\n".join(out)


def _quoted(depth: int, body: str) -> str:
    return f"{'>' * depth} {body}".rstrip() if depth else body


_FORWARD_LINE = re.compile(
    r"^\s*(-+\s*(forwarded message|forwarded message follows|weitergeleitete nachricht|message transf[ée]r[ée]"
    r"|mensaje reenviado)\s*-+|begin forwarded message:|anfang der weitergeleiteten nachricht:)\s*$", re.I)
_ORIGINAL_LINE = re.compile(
    r"^\s*-+\s*(original message|urspr[üu]ngliche nachricht|message d'origine|mensaje original)\s*-+\s*$", re.I)
_ATTRIBUTION_START = re.compile(r"^\s*(on|am|le|el|il|op|den|em)\s", re.I)
_ATTRIBUTION_END = re.compile(
    r"(wrote|schrieb|a [ée]crit|escribi[óo]|ha scritto|schreef|skrev|escreveu|napisa[łl])\s*:\s*$", re.I)
_FROM_LABEL = re.compile(r"^\s*\*?(from|von|de|van)\s*:\*?\s*\S", re.I)
_SENT_LABEL = re.compile(r"^\s*\*?(sent|gesendet|date|datum|envoy[ée]|enviado)\s*:", re.I)
_SUBJECT_LABEL = re.compile(r"^\s*\*?(subject|betreff|objet|asunto|assunto)\s*:", re.I)
_SEPARATOR = re.compile(r"^\s*(_{8,}|-{8,})\s*$")


def strip_quoted(text: str, *, is_reply: bool = False) -> str:
    """The new text of a message: our reply marker and quoted reply history cut off.

    Cut at the line holding REPLY_MARKER; at an "On <date>, <name> wrote:" attribution
    whose remainder is all ">" quotes; when `is_reply`, also at Outlook's
    "-----Original Message-----" line or "From:/Sent:/Subject:" header block (in a
    forward those introduce the forwarded message, which is kept); then drop a trailing
    run of ">" quotes. Everything after an inline-forward marker is kept as it is.
    Never returns an empty string for text that has anything but whitespace in it.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    marker = next((i for i, line in enumerate(lines) if REPLY_MARKER in line), None)
    if marker is not None:
        lines = lines[:marker]
        is_reply = True  # what follows our marker is our own message, quoted back
    forward = next((i for i, line in enumerate(lines) if _is_forward_line(line, is_reply=is_reply)), None)
    cut = _history_start(lines if forward is None else lines[:forward], is_reply=is_reply)
    if cut is not None:
        lines = lines[:cut]
    if cut is not None or forward is None:  # a trailing quote after a forward marker was forwarded
        lines = _drop_trailing_quote(lines)
    result = "\n".join(lines).rstrip().lstrip("\n")
    return result if result.strip() else text.strip()


def _is_forward_line(line: str, *, is_reply: bool) -> bool:
    return bool(_FORWARD_LINE.match(line) or (not is_reply and _ORIGINAL_LINE.match(line)))


def _history_start(lines: list[str], *, is_reply: bool) -> int | None:
    last_unquoted = max((i for i, line in enumerate(lines) if line.strip() and not _is_quote(line)), default=-1)
    for i, line in enumerate(lines):
        if (_is_attribution(lines, i, last_unquoted=last_unquoted)
                or (is_reply and (_ORIGINAL_LINE.match(line) or _is_header_block(lines, i)))):
            return _include_separator(lines, i)
    return None


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_attribution(lines: list[str], i: int, *, last_unquoted: int) -> bool:
    # "On <date>, <name> wrote:" - on one line or wrapped over two - counts only when a
    # date is in it (so "On Monday my colleague wrote:" is prose) and only ">" quotes
    # follow it: quotes interleaved with answers below it are part of the new text.
    line = lines[i]
    if _is_quote(line) or not _ATTRIBUTION_START.match(line):
        return False
    for end in (i, i + 1):
        if end < len(lines) and _ATTRIBUTION_END.search(lines[end]):
            attribution = " ".join(lines[i:end + 1])
            return len(attribution) < 400 and bool(re.search(r"\d", attribution)) and end >= last_unquoted
    return False


def _is_header_block(lines: list[str], i: int) -> bool:
    if not _FROM_LABEL.match(lines[i]):
        return False
    following = lines[i + 1:i + 8]
    return any(_SENT_LABEL.match(line) for line in following) and any(_SUBJECT_LABEL.match(line) for line in following)


def _include_separator(lines: list[str], i: int) -> int:
    # Outlook draws a rule of underscores above its header block; it belongs to the history.
    start = i
    while start > 0 and (not lines[start - 1].strip() or _SEPARATOR.match(lines[start - 1])):
        start -= 1
    return start if any(_SEPARATOR.match(line) for line in lines[start:i]) else i


def _drop_trailing_quote(lines: list[str]) -> list[str]:
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or _is_quote(lines[end - 1])):
        end -= 1
    quoted = any(line.strip() for line in lines[end:])
    # An attribution left above the stripped quote ("Jane wrote:") goes with it.
    if quoted and end > 0 and _ATTRIBUTION_END.search(lines[end - 1]):
        end -= 1
    return lines[:end]


# --- machine-sent mail ----------------------------------------------------------------


_DSN_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed|notification|problem)|failure notice|returned mail"
    r"|mail delivery (failed|system|subsystem)|non-?delivery|could not be delivered|unzustellbar"
    r"|nicht zugestellt|zustellung fehlgeschlagen", re.I)
_DAEMON_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.I)
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|auto\s*:|out of (the )?office|abwesenheitsnotiz"
    r"|automatische antwort|r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica)", re.I)
_LIST_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}


def _auto_reason(msg: Message, *, bounce: Bounce | None, from_address: str, subject: str,
                 own: Collection[str]) -> str | None:
    if bounce is not None:
        return "bounce"
    if from_address in own:
        return "own-address"
    auto_submitted = _header(msg, "Auto-Submitted")
    if auto_submitted is not None and _token(auto_submitted) != "no":
        return "auto-submitted"
    if _header(msg, "X-Autoreply") is not None or _header(msg, "X-Autorespond") is not None:
        return "auto-submitted"
    if msg.get_content_type() == "multipart/report":  # read receipts and other machine reports
        return "auto-submitted"
    if _header(msg, "X-Auto-Response-Suppress") is not None:
        return "auto-response-suppress"
    if _token(_header(msg, "Precedence") or "") in _LIST_PRECEDENCE:
        return "precedence"
    if _header(msg, "List-Id") is not None or _header(msg, "List-Unsubscribe") is not None:
        return "list"
    if _AUTOREPLY_SUBJECT.match(subject):
        return "autoreply-subject"
    return None


def _token(value: str) -> str:
    """The first word of a header value, comments and parameters removed, lower-cased."""
    words = re.sub(r"\([^)]*\)", " ", value).split(";", 1)[0].split()
    return words[0].lower() if words else ""


def _bounce(msg: Message, content: _Content, *, from_address: str, subject: str, text: str) -> Bounce | None:
    is_report = (msg.get_content_type() == "multipart/report"
                 and _param(msg, "report-type").lower() in ("delivery-status", "global-delivery-status"))
    from_daemon = bool(_DAEMON_SENDER.match(from_address) and _DSN_SUBJECT.search(subject))
    if not (is_report or content.dsn_blocks or from_daemon):
        return None
    original = content.original_ids + [found for found in [_header_in_text(text, "Message-ID")] if found]
    ids = [normalised for value in original for normalised in _message_ids(value)]
    recipients: list[str] = []
    for block in content.dsn_blocks:
        for key in ("final-recipient", "original-recipient"):
            address = block.get(key, "").split(";", 1)[-1].strip().strip("<>").lower()
            if "@" in address and address not in recipients:
                recipients.append(address)
    per_recipient = next((block for block in content.dsn_blocks if "status" in block or "action" in block), {})
    status = re.search(r"\b[245]\.\d{1,3}\.\d{1,3}\b", per_recipient.get("status") or text)
    action = _token(per_recipient.get("action", ""))
    return Bounce(
        original_message_id=ids[0] if ids else None,
        recipients=recipients,
        status=status.group(0) if status else None,
        action=action or None,
    )


def _dsn_blocks(part: Message, children: list[Message]) -> list[dict[str, str]]:
    """The field groups of a delivery-status body: one per message, then one per recipient."""
    if children:  # the stdlib parser splits message/delivery-status into one pseudo-message per group
        return [{key.lower(): _header(child, key) or "" for key, _ in child.raw_items()} for child in children]
    text = _decode_bytes(_payload_bytes(part), part.get_content_charset())
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        fields = re.findall(r"^([\w-]+)[ \t]*:(.*(?:\n[ \t].*)*)", chunk, re.M)
        if fields:
            blocks.append({key.lower(): " ".join(value.split()) for key, value in fields})
    return blocks
