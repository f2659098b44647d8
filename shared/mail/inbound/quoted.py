"""Quoted history in the text of an inbound message: what the sender newly wrote, with
our reply marker, attributions ("On <date>, <name> wrote:"), Outlook's original-message
blocks and trailing ">" quotes cut off, and inline forwards kept (the forwarded content
is the question).
"""

from __future__ import annotations

import re

# Same text as shared.mail.compose.REPLY_MARKER (a test keeps them equal); repeated here so this
# module stays free of the settings import that comes with shared.mail.compose.
REPLY_MARKER = "##- Please type your reply above this line -##"

# Reply prefixes of common clients in common languages, possibly after a "[list]" tag.
_REPLY_SUBJECT = re.compile(r"^\s*(\[[^\]]*\]\s*)?(re|aw|sv|vs|antw|res|odp|rif|ynt)\s*(\[\d+\]|\(\d+\))?\s*:", re.I)


def is_reply_subject(subject: str) -> bool:
    """Whether a subject says the message answers another one (Re:, AW:, SV:, ...)."""
    return bool(_REPLY_SUBJECT.match(subject))


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
