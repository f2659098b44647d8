"""HTML from outside (email, osTicket's API): sanitised for display, and a text version."""

from __future__ import annotations

import html as htmllib
import re

import nh3

_BLOCK = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>", re.I)


def sanitise(markup: str) -> str:
    """Safe to show in a browser: no scripts, styles, event handlers or javascript: links."""
    return nh3.clean(markup, link_rel="noopener noreferrer nofollow")


def to_text(markup: str) -> str:
    with_breaks = _BLOCK.sub("\n", markup)
    text = htmllib.unescape(nh3.clean(with_breaks, tags=set()))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
