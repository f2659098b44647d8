"""The bodies of an inbound message as text: the plain parts, or the HTML turned into
text (shared.mail.html) when there are none; format=flowed lines joined (RFC 3676); the
HTML kept for display only after nh3 has cleaned it.
"""

from __future__ import annotations

import nh3

from shared.mail.html import MAX_HTML_CHARS, to_text


def bodies(plain_parts: list[str], html_parts: list[str]) -> tuple[str, str]:
    """(text, HTML source): the plain parts joined, or the HTML as text when they are blank."""
    plain = "\n".join(plain_parts)
    # Cut before any HTML work: a bigger part stays whole in the raw message (shared.mail.html).
    html_source = "\n".join(html_parts)[:MAX_HTML_CHARS]
    return (plain if plain.strip() else to_text(html_source)), html_source


def sanitise_html(html: str) -> str | None:
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


def unflow(text: str, *, delsp: bool) -> str:
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
