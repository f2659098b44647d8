"""Attachment file names as they may be kept and shown. Pure: no I/O.

A name comes from whoever sent the file (a form, an email, an integration). Only its last
path component is kept, whichever separator the sender's system used, without a drive
letter, control or format characters, or leading and trailing dots and spaces, so a name
can never point outside wherever the file ends up, split a header or hide its extension
behind a right-to-left override.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 200


def safe_filename(name: str) -> str:
    """The name to keep; "" when nothing usable is left (the caller asks for one)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    name = "".join(ch for ch in name
                   if ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Cs"))
    name = name.strip().strip(".").strip()
    if len(name) > MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        name = stem[:MAX_CHARS - 10] + dot + extension[:9] if dot and len(extension) < 10 \
            else name[:MAX_CHARS]
    return name
