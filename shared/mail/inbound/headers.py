"""Headers of an inbound message as a mail client would show them: raw values read
without the policy's structured parsing, RFC 2047 encoded words and 8-bit bytes in any
charset decoded (never raising), addresses, Message-IDs, the date, and the ``[#NNNNNNNN]``
ticket token of a subject. Also the charset decoding every other part of reading uses.
"""

from __future__ import annotations

import binascii
import codecs
import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime


def ticket_token(subject: str) -> str | None:
    """The ticket number from a ``[#NNNNNNNN]`` token anywhere in a subject."""
    found = _TICKET_TOKEN.search(subject)
    return found.group(1) if found else None


_TICKET_TOKEN = re.compile(r"\[#(\d{8})\]")


def header(msg: Message, name: str) -> str | None:
    """The first `name` header as sent (unfolded, 8-bit bytes decoded), else None.

    Read raw rather than through the policy's header objects: their structured parsing
    throws away or mangles values in unknown charsets, and this module decodes those itself.
    """
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return unescape(re.sub(r"\r?\n(?=[ \t])", "", str(value))).replace("\r", "").replace("\n", "")
    return None


def header_in_text(text: str, name: str) -> str | None:
    found = re.search(rf"^{re.escape(name)}[ \t]*:(.*(?:\n[ \t].*)*)", text, re.I | re.M)
    return " ".join(found.group(1).split()) if found else None


def unescape(value: str) -> str:
    # The parser keeps raw 8-bit header bytes as surrogate escapes; decode them properly.
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)


def one_line(value: str) -> str:
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())


def header_text(value: str, *, rounds: int = 5) -> str:
    """A subject or name as a mail client would show it, safe to put in a header: RFC
    2047 encoded words decoded (again while that changes it, since a decoded word can be
    another encoded word), control characters and line breaks made spaces, on one line.
    An encoded word hiding CR/LF therefore never reaches a ticket's subject or name."""
    for _ in range(rounds):
        decoded = decode_words(value)
        if decoded == value:
            break
        value = decoded
    return one_line(value)


# RFC 2047 encoded word; the charset may carry an RFC 2231 "*language" suffix.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def decode_words(value: str) -> str:
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
    return decode_bytes(b"".join(run), charset or None) if run else ""


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


def addresses(value: str | None) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; entries without an address are dropped."""
    if not value:
        return []
    pairs = []
    for name, address in getaddresses([value]):
        address = address.strip().strip("<>").lower()
        if "@" in address and not any(ch.isspace() for ch in address):
            pairs.append((one_line(decode_words(name)), address))
    return pairs


def address_list(value: str | None) -> list[str]:
    return list(dict.fromkeys(address for _, address in addresses(value)))


def message_ids(value: str | None) -> list[str]:
    """Normalised ``<id>`` values in order; tolerates missing brackets and comments."""
    if not value:
        return []
    found = [re.sub(r"\s+", "", item) for item in re.findall(r"<([^<>]*)>", value)]
    if not found:
        found = [token.strip("<>\"'") for token in re.split(r"[\s,;]+", value) if "@" in token]
    return list(dict.fromkeys(f"<{item}>" for item in found if item))


def header_date(value: str | None) -> datetime | None:
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


def decode_bytes(data: bytes, charset: str | None) -> str:
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
