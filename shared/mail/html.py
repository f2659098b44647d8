"""HTML from outside (email, osTicket's API): sanitised for display, and a text version.

Both go through nh3 (ammonia over html5ever, the HTML5 parser of Servo: linear in its
input, and reading broken markup the way browsers do). The text version is the one
HTML-to-text path of the desk: nh3 first reduces the markup to the few structural
elements that shape text, without attributes, comments or the content of scripts and
styles, and serialises it well-formed; one regular expression then splits that into tags
and text in a single pass. The standard library's `HTMLParser` is not used: on malformed
input it rescans the rest of the document at every unclosed tag (60 KB of `<a ` took
about a minute; bench/html_mail.py).

Input is cut at `MAX_HTML_CHARS` first: a ticket keeps at most 20,000 characters of
text, and a bigger HTML part is kept whole in the raw message anyway.
"""

from __future__ import annotations

import html as htmllib
import re

import nh3

MAX_HTML_CHARS = 1024 * 1024

_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "table", "tr", "ul",
}
_PARAGRAPH_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre"}
_INVISIBLE_TAGS = {"script", "style", "title", "template"}
# nh3's output has only these tags, none with attributes: `<p>`, `</p>`, `<br>`.
_TAG = re.compile(r"<(/?)([a-z0-9]+)>")


def sanitise(markup: str) -> str:
    """Safe to show in a browser: no scripts, styles, event handlers or javascript: links."""
    return nh3.clean(markup[:MAX_HTML_CHARS], link_rel="noopener noreferrer nofollow")


def to_text(markup: str) -> str:
    """Readable text from HTML: block elements end lines, paragraphs are separated by a
    blank line, blockquotes become "> " quotes (so that quoted history can be stripped
    from HTML-only mail too), list items start with "- ", `<pre>` keeps its lines,
    entities are decoded."""
    if not markup.strip():
        return ""
    structure = nh3.clean(markup[:MAX_HTML_CHARS], tags=_BLOCK_TAGS | {"br"},
                          clean_content_tags=_INVISIBLE_TAGS, attributes={},
                          strip_comments=True, link_rel=None)
    text = _Text()
    pieces = _TAG.split(structure)
    text.data(pieces[0])
    for i in range(1, len(pieces), 3):
        closing, tag, after = pieces[i], pieces[i + 1], pieces[i + 2]
        if closing:
            text.end(tag)
        else:
            text.start(tag)
        text.data(after)
    return text.text()


class _Text:
    """Lines of text from a stream of structural tags and text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._pieces: list[str] = []
        self._quote = 0
        self._pre = 0

    def start(self, tag: str) -> None:
        if tag == "br":
            self._end_line(force=True)
        elif tag in _BLOCK_TAGS:
            self._end_line()
            if tag == "blockquote":
                self._quote += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._pieces.append("- ")

    def end(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._end_line()
            if tag in _PARAGRAPH_TAGS and self.lines and self.lines[-1]:
                self.lines.append("")
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)

    def data(self, escaped: str) -> None:
        if not escaped:
            return
        data = htmllib.unescape(escaped)
        if not self._pre:
            self._pieces.append(data)
            return
        first, *rest = data.split("\n")
        self._pieces.append(first)
        for line in rest:
            self._end_line(force=True)
            self._pieces.append(line)

    def _end_line(self, *, force: bool = False) -> None:
        text = "".join(self._pieces)
        self._pieces = []
        if not self._pre:
            text = " ".join(text.split())
        if text or force:
            self.lines.append(f"{'>' * self._quote} {text}".rstrip() if self._quote else text)

    def text(self) -> str:
        self._end_line()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip("\n")
