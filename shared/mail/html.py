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
_CELL_TAGS = {"td", "th"}
_INVISIBLE_TAGS = {"script", "style", "title", "template"}
# Classes of a plain `div` that holds quoted history (Yahoo's), read as a blockquote.
_QUOTE_CLASSES = ("yahoo_quoted",)
# nh3's output has only the structural tags, links with their address and quoting divs
# marked: `<p>`, `</p>`, `<br>`, `<a href="...">`, `<div class="q">`.
_TAG = re.compile(r'<(/?)([a-z0-9]+)(?: (href|class)="([^"]*)")?>')


def sanitise(markup: str) -> str:
    """Safe to show in a browser: no scripts, styles, event handlers or javascript: links."""
    return nh3.clean(markup[:MAX_HTML_CHARS], link_rel="noopener noreferrer nofollow")


def to_text(markup: str) -> str:
    """Readable text from HTML: block elements end lines, paragraphs are separated by a
    blank line, blockquotes (and Yahoo's quoting `div`) become "> " quotes (so that quoted
    history can be stripped from HTML-only mail too), list items start with "- ", table
    cells are separated by " | " a row to a line, a link's address follows its text in
    angle brackets unless the text is the address, `<pre>` keeps its lines, entities are
    decoded."""
    if not markup.strip():
        return ""
    structure = nh3.clean(markup[:MAX_HTML_CHARS], tags=_BLOCK_TAGS | _CELL_TAGS | {"br", "a"},
                          clean_content_tags=_INVISIBLE_TAGS,
                          attributes={"a": {"href"}, "div": {"class"}}, attribute_filter=_structural,
                          url_schemes={"http", "https", "mailto"}, strip_comments=True, link_rel=None)
    text = _Text()
    pieces = _TAG.split(structure)
    text.data(pieces[0])
    for i in range(1, len(pieces), 5):
        closing, tag, name, value, after = pieces[i:i + 5]
        if closing:
            text.end(tag)
        else:
            text.start(tag, htmllib.unescape(value) if name == "href" and value else None, quote=name == "class")
        text.data(after)
    return text.text()


def _structural(tag: str, attribute: str, value: str) -> str | None:
    if tag == "div":
        return "q" if any(name in value.split() for name in _QUOTE_CLASSES) else None
    return value


class _Text:
    """Lines of text from a stream of structural tags and text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._pieces: list[str] = []
        self._quote = 0
        self._pre = 0
        self._divs: list[bool] = []  # per open div: whether it quotes
        self._link: tuple[str, int] | None = None  # address, where its text starts

    def start(self, tag: str, href: str | None = None, *, quote: bool = False) -> None:
        if tag == "br":
            self._end_line(force=True)
        elif tag == "a":
            self._link = (href, len(self._pieces)) if href else None
        elif tag in _CELL_TAGS:
            # Empty cells (layout tables are full of them) add no separator of their own.
            if "".join(self._pieces).strip() and self._pieces[-1] != " | ":
                self._pieces.append(" | ")
        elif tag in _BLOCK_TAGS:
            self._end_line()
            if tag == "div":
                self._divs.append(quote)
                self._quote += quote
            if tag == "blockquote":
                self._quote += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._pieces.append("- ")

    def end(self, tag: str) -> None:
        if tag == "a":
            self._end_link()
        elif tag in _BLOCK_TAGS:
            self._end_line()
            if tag == "div" and self._divs and self._divs.pop():
                self._quote = max(0, self._quote - 1)
            if tag in _PARAGRAPH_TAGS and self.lines and self.lines[-1]:
                self.lines.append("")
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)

    def _end_link(self) -> None:
        if self._link is None:
            return
        href, start = self._link
        self._link = None
        shown = " ".join("".join(self._pieces[start:]).split())
        address = href.removeprefix("mailto:")
        if address and address not in shown:
            self._pieces.append(f" <{address}>")

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
