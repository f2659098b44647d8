"""Quoted history in the text of an inbound message: what the sender newly wrote, split
from the history their client quoted below it (kept beside the new text, so that an
agent can see what was cut).

History starts at the first of: our reply marker; an attribution ("On <date>, <name>
wrote:" in any of the clients' languages, on one line or over up to four, date first or
verb first, or at the end of the last line of new text, which is then split) followed by
history (quotes; in a reply also unquoted text, when the attribution has a time and new
text stands above it); Outlook's header block (or one starting with a whole date) or an
"-----Original Message-----" line in a reply (in a forward they introduce the forwarded
message, which is kept); a trailing run of ">" quotes, with a signature (delimited, or a
sign-off), "Sent from my phone", list footer or disclaimer below it. Lines a client
re-wrapped out of a quote (words, the rest of a link) count as quoted. Inline forwards,
also those quoted whole with their header block, are kept (the forwarded content is the
question). The vocabulary is in
shared.mail.inbound.replylang.

The one promise: no line of new text is ever cut. Every rule that cuts needs what follows
the cut to look like history (only quotes, or an attribution with a date and a time or
address), quotes interleaved with answers are kept whole, and text that would be empty
is returned as it came.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.mail.inbound import replylang as lang

# Same text as shared.mail.compose.REPLY_MARKER (a test keeps them equal); repeated here so this
# module stays free of the settings import that comes with shared.mail.compose.
REPLY_MARKER = "##- Please type your reply above this line -##"
_MAX_ATTRIBUTION_LINES = 4
_MAX_ATTRIBUTION_CHARS = 400
_MAX_TRAILER_LINES = 15
_WRAPPED = 60  # a quoted line at least this long may have been re-wrapped by the client


def is_reply_subject(subject: str) -> bool:
    """Whether a subject says the message answers another one (Re:, AW:, SV:, Odp:, 回复:, ...)."""
    return bool(lang.REPLY_SUBJECT.match(subject))


@dataclass(frozen=True)
class Split:
    """A message's text as the sender newly wrote it, and the history cut from it."""

    new: str
    history: str


def strip_quoted(text: str, *, is_reply: bool = False) -> str:
    """The new text of a message: our reply marker and quoted reply history cut off.
    Never returns an empty string for text that has anything but whitespace in it."""
    return split_quoted(text, is_reply=is_reply).new


def split_quoted(text: str, *, is_reply: bool = False) -> Split:
    """The new text and the quoted history below it (see the module's docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    history: list[str] = []
    marker = next((i for i, line in enumerate(lines) if REPLY_MARKER in line), None)
    if marker is not None:
        lines, history = lines[:marker], lines[marker:]
        is_reply = True  # what follows our marker is our own message, quoted back
    lines = _split_shared_lines(lines)
    quoted = _quoted_lines(lines)
    forward = _forward_start(lines, quoted, is_reply=is_reply)
    scope = lines if forward is None else lines[:forward]
    cut = _history_start(scope, quoted, is_reply=is_reply, marked=marker is not None)
    if cut is not None:
        trailer = _trailer_start(lines, quoted, len(lines)) if forward is None else None
        if trailer is not None and trailer > cut and _trailer_kind(_filled(lines[trailer:])) == "keep":
            # The sender's signature below the quote their client put above it.
            lines, history = [*lines[:cut], "", *lines[trailer:]], lines[cut:trailer] + history
        else:
            lines, history = lines[:cut], lines[cut:] + history
    if cut is not None or forward is None:  # a trailing quote after a forward marker was forwarded
        lines, trailing = _split_trailing_quote(lines, _quoted_lines(lines))
        history = trailing + history
        if cut is None and forward is None and not trailing:
            lines, leading = _split_leading_quote(lines, _quoted_lines(lines))
            history = leading + history
    new = "\n".join(lines).rstrip().lstrip("\n")
    if not new.strip():
        return Split(text.strip(), "")
    return Split(new, "\n".join(history).strip("\n"))


# A reply's last words and its client's attribution on one line ("Thanks! On Wed, Apr 4,
# 2012 at 3:59 PM, Bob wrote:", with or without dashes between): the attribution starts
# with a capitalised lead word after the new text.
_SHARED_LINE = re.compile(
    r"^(?P<new>.*?\S)(?:\s*-+)?\s+(?P<attribution>(?:On|Am|Le|El|Il|Op|Den|Em|W dniu|Dnia)\s.*)$")


def _split_shared_lines(lines: list[str]) -> list[str]:
    """Lines holding new text and then an attribution, directly above a quote, as two lines."""
    out: list[str] = []
    below_of = [""] * len(lines)  # the next line with text below each line
    below = ""
    for i in range(len(lines) - 1, -1, -1):
        below_of[i] = below
        if lines[i].strip():
            below = lines[i]
    for i, line in enumerate(lines):
        below = below_of[i]
        found = (_SHARED_LINE.match(line) if _is_quote(below) and not _is_quote(line)
                 and len(line) <= _MAX_ATTRIBUTION_CHARS + 200 else None)
        if found is not None and _attribution_ending_at([found["attribution"]], [False], 0) == 0 \
                and lang.ATTRIBUTION_VERB.search(found["attribution"]):
            out += [found["new"].rstrip(" -"), found["attribution"]]
        else:
            out.append(line)
    return out


# --- what counts as quoted ----------------------------------------------------------------


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _quoted_lines(lines: list[str]) -> list[bool]:
    """Per line: a ">" quote, or a piece of one that the client re-wrapped onto a line of
    its own (it follows a long quoted line ending mid-sentence, starts in lower case and is
    followed by a quote or a blank line)."""
    quoted = [_is_quote(line) for line in lines]
    for i in range(1, len(lines)):
        line, previous = lines[i].strip(), lines[i - 1].lstrip(">").strip()
        if quoted[i] or not quoted[i - 1] or not line:
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (len(previous) >= _WRAPPED and previous[-1] not in ".!?:;)" and line[0].islower()
                and (not following.strip() or _is_quote(following))):
            quoted[i] = True
        elif _is_link_piece(line, previous) and _is_quote(following):
            quoted[i] = True
    return quoted


# The rest of a link a client broke out of a quote: one token, after a quoted line whose
# link is still open ("> View ticket (http://example.com/action" / "_nonce=3d518)"), or a
# whole "(http://…) >" with the quote marker pushed to its end.
_OPEN_LINK = re.compile(r"\((?:https?://|www\.)[^\s)]*$")
_MOVED_MARKER_LINK = re.compile(r"^\(?(?:https?://|www\.)\S+\)?\s*>$")


def _is_link_piece(line: str, previous: str) -> bool:
    return (" " not in line and bool(_OPEN_LINK.search(previous))) or bool(
        _MOVED_MARKER_LINK.match(line))


# --- where the history starts ---------------------------------------------------------------


def _forward_start(lines: list[str], quoted: list[bool], *, is_reply: bool) -> int | None:
    bare = [_unquoted(line) for line in lines]
    for i, line in enumerate(lines):
        if lang.FORWARD_LINE.match(bare[i]):  # Apple Mail quotes its "Begin forwarded message:" too
            return i
        if quoted[i]:
            # A forward some clients quote whole: its header block is quoted too.
            if not is_reply and lang.FROM_LABEL.match(bare[i]) and _is_header_block(bare, i):
                return i
            continue
        if not is_reply and (lang.ORIGINAL_LINE.match(line) or _is_header_block(lines, i)):
            return i
    return None


def _unquoted(line: str) -> str:
    return line.lstrip().lstrip(">").lstrip()


def _history_start(lines: list[str], quoted: list[bool], *, is_reply: bool, marked: bool) -> int | None:
    trailer = _trailer_start(lines, quoted, len(lines))
    # Whether any line from i on is a quote, for every i: one pass, so that a message of many
    # attributions stays linear.
    quote_from = [False] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        quote_from[i] = quoted[i] or quote_from[i + 1]
    first_text = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    for i, line in enumerate(lines):
        if quoted[i] or not line.strip():
            continue
        if is_reply and (lang.ORIGINAL_LINE.match(line) or _is_header_block(lines, i)):
            return _include_separator(lines, i)
        found = _attribution_ending_at(lines, quoted, i)
        if found is not None and (
                _history_follows(lines, quoted, i, trailer=trailer, marked=marked)
                or is_reply and first_text < found and not quote_from[i + 1]
                and _unquoted_history(lines, found, i)):
            return _include_separator(lines, found)
    return None


def _attribution_ending_at(lines: list[str], quoted: list[bool], end: int) -> int | None:
    """The first line of an attribution whose last line is `end`, or None.

    It ends with a wrote-verb and a colon ("..., Jane wrote:", "... schrieb Jane <j@x>:"),
    a wrote-verb alone, or an address and a colon after a date ("2024-03-05 10:02 Jane
    <j@x>:"), and holds a date. A window of several lines must begin the way attributions begin ("On",
    "Am", "Le", a weekday or a date), so that it never takes in the line of new text above.
    """
    last = lines[end].strip()
    if last.startswith("-") and last.endswith("-"):  # "---- On <date>, Jane wrote ----"
        last = last.strip("-").strip()
    if len(last) > _MAX_ATTRIBUTION_CHARS:  # also keeps the patterns linear: none sees a long line
        return None
    if not (lang.ATTRIBUTION_VERB.search(last) or lang.ATTRIBUTION_VERB_LAST.search(last)
            or lang.ADDRESS_LAST.search(last) or lang.ATTRIBUTION_LEAD.match(last)):
        return None
    found: int | None = None
    for size in range(1, _MAX_ATTRIBUTION_LINES + 1):
        start = end - size + 1
        if start < 0 or quoted[start] or not lines[start].strip() or len(lines[start]) > 200:
            break
        joined = " ".join(line.strip() for line in lines[start:end + 1])
        if len(joined) > _MAX_ATTRIBUTION_CHARS:
            break
        begins = bool(lang.ATTRIBUTION_START.match(lines[start]))
        if size > 1 and not begins:
            continue
        if not lang.DATE.search(joined):
            continue
        found = start
        if begins:
            break
    return found


def _history_follows(lines: list[str], quoted: list[bool], end: int, *, trailer: int | None,
                     marked: bool) -> bool:
    """Whether what follows an attribution is history: only quotes, and a trailer below
    them; nothing at all when it stood above our reply marker (`marked`). Unquoted text
    below it may be an answer between quotes, so it never is (HTML quotes become ">" lines
    in shared.mail.html, Yahoo's plain `div` too)."""
    below = (i for i in range(end + 1, len(lines) if trailer is None else trailer) if lines[i].strip())
    first = next(below, None)
    if first is None:
        return marked or trailer is not None
    # all() stops at the first unquoted line, so many attributions with answers stay linear.
    return quoted[first] and all(quoted[i] for i in below)


def _unquoted_history(lines: list[str], start: int, end: int) -> bool:
    """Whether an attribution in a reply introduces history its client did not quote (Outlook's
    mobile apps, Samsung's, webmails). The caller has checked that new text stands above it
    and no quote anywhere below it (quotes would mean answers between them); here: a date
    with a time in it, and text below it."""
    joined = " ".join(line.strip() for line in lines[start:end + 1])
    # Only a whole attribution as clients write it: a colon at its end, a year and a time
    # ("On Tue, Mar 5, 2024 at 10:02 AM, Jane wrote:"); never "10:02 wrote -" in prose.
    return (lines[end].rstrip().endswith((":", "：")) and bool(_YEAR.search(joined))
            and bool(lang.TIME.search(joined)) and any(line.strip() for line in lines[end + 1:]))


_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def _is_header_block(lines: list[str], i: int) -> bool:
    """Outlook's (or a webmail's) header block of the message below: From, then Sent or
    Subject and To; some clients start it with the date ("Date: …" then "To:" or "From:")."""
    found = lang.FROM_LABEL.match(lines[i])
    if not found:
        found = lang.SENT_LABEL.match(lines[i])
        value = lines[i][found.end():] if found is not None else ""
        # A date first must be a whole one, with a year and a time of day.
        if not (re.search(r"\d{4}", value) and lang.TIME.search(value)):
            return False
        block = _block_below(lines, i)
        # ... and a To or Subject line (a recipient or a subject is what makes it a message's
        # header, not "Sent: … / From: …" in prose), with an address in the block.
        return any(lang.TO_LABEL.match(line) or lang.SUBJECT_LABEL.match(line)
                   for line in block) and any(lang.ADDRESS.search(line) for line in block)
    if not lines[i][found.end():].strip():
        return False
    following = _block_below(lines, i)
    sent = any(lang.SENT_LABEL.match(line) for line in following)
    subject = any(lang.SUBJECT_LABEL.match(line) for line in following)
    to = any(lang.TO_LABEL.match(line) or lang.CC_LABEL.match(line) for line in following)
    return (sent or subject) and sent + subject + to >= 2


def _block_below(lines: list[str], i: int) -> list[str]:
    """The lines of a header block below its first: up to six, without a blank line between."""
    block: list[str] = []
    for line in lines[i + 1:i + 7]:
        if not line.strip():
            break
        block.append(line)
    return block


def _include_separator(lines: list[str], i: int) -> int:
    # Outlook draws a rule of underscores above its header block; it belongs to the history.
    start = i
    while start > 0 and (not lines[start - 1].strip() or lang.SEPARATOR.match(lines[start - 1])
                         or lang.HEADER_INTRO.match(lines[start - 1])):
        start -= 1
    drawn = any(lang.SEPARATOR.match(line) or lang.HEADER_INTRO.match(line) for line in lines[start:i])
    return start if drawn else i


# --- quotes at the end and at the start -------------------------------------------------------


def _trailer_start(lines: list[str], quoted: list[bool], end: int) -> int | None:
    """The first line of a signature, phone tag, list footer or disclaimer that ends the
    text below its last quote, or None."""
    last_quote = max((i for i in range(end) if quoted[i]), default=None)
    if last_quote is None:
        return None
    tail = [i for i in range(last_quote + 1, end) if lines[i].strip()]
    if not tail or len(tail) > _MAX_TRAILER_LINES:
        return None
    return tail[0] if _trailer_kind([lines[i] for i in tail]) else None


def _filled(lines: list[str]) -> list[str]:
    return [line for line in lines if line.strip()]


def _trailer_kind(tail: list[str]) -> str | None:
    """"keep" for what the sender's client added (a signature, "Sent from my phone"),
    "drop" for what a server added (a list footer, a disclaimer), None for anything else."""
    first = tail[0].strip()
    joined = " ".join(tail)
    if lang.SIGNATURE_DELIMITER.match(first) and lang.LIST_FOOTER.search(joined):
        return "drop"  # Google Groups signs its footer like a person
    if lang.SIGNATURE_DELIMITER.match(first) or lang.SENT_FROM.match(first):
        return "keep"
    if lang.SIGN_OFF.match(first) and len(tail) <= 4 and len(joined) <= 200:
        return "keep"
    if lang.SEPARATOR.match(first) and (lang.LIST_FOOTER.search(joined) or lang.DISCLAIMER.search(joined)):
        return "drop"
    if lang.DISCLAIMER.search(first) and len(joined.split()) >= 15:
        return "drop"
    return None


def _split_trailing_quote(lines: list[str], quoted: list[bool]) -> tuple[list[str], list[str]]:
    """(lines kept, history): a trailing run of quotes goes, with the attribution above it;
    below an attributed quote, a signature stays and a list footer or disclaimer goes too."""
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    trailer = _trailer_start(lines, quoted, end)
    kept_tail: list[str] = []
    dropped_tail: list[str] = []
    if trailer is not None:
        tail = lines[trailer:end]
        if _trailer_kind(_filled(tail)) == "keep":
            kept_tail = tail
        else:
            dropped_tail = tail
        end = trailer
    start = end
    while start > 0 and (not lines[start - 1].strip() or quoted[start - 1]):
        start -= 1
    if not any(quoted[start:end]):
        return lines, []
    above = start - 1
    attributed = False
    if above >= 0:
        found = _attribution_ending_at(lines, quoted, above)
        if found is not None:
            start, attributed = found, True
        elif len(lines[above]) <= _MAX_ATTRIBUTION_CHARS and lang.ATTRIBUTION_VERB.search(lines[above]):
            # "Jane Doe wrote:" without a date
            start, attributed = above, True
    if trailer is not None and not attributed:
        return lines, []  # a quote the sender signed below may be what they are asking about
    kept = lines[:start]
    if kept_tail:
        kept = [*kept, "", *kept_tail] if any(line.strip() for line in kept) else kept_tail
    return kept, [*lines[start:trailer if trailer is not None else end], *dropped_tail]


def _split_leading_quote(lines: list[str], quoted: list[bool]) -> tuple[list[str], list[str]]:
    """Bottom-posting: an attribution and quotes at the very top, the new text below and
    no quote after it. The quote goes; everything below it stays."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return lines, []
    if quoted[first]:
        return lines, []  # a quote answered below it, without an attribution: kept
    found = next((e for e in range(first, min(first + _MAX_ATTRIBUTION_LINES, len(lines)))
                  if _attribution_ending_at(lines, quoted, e) == first), None)
    if found is None:
        return lines, []
    end = found + 1
    if end >= len(lines) or not quoted[end] and lines[end].strip():
        return lines, []
    while end < len(lines) and (quoted[end] or not lines[end].strip()):
        end += 1
    rest = lines[end:]
    if not any(line.strip() for line in rest) or any(quoted[end:]):
        return lines, []
    return rest, lines[:end]
