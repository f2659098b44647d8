"""Making user-supplied values safe inside PartitionKey/RowKey.

Azure refuses `/`, `\\`, `#`, `?` and control characters in keys (Azurite even answers
500 to `/`), and we use `|` as our own separator, so all of those are percent-encoded.
"""

from __future__ import annotations

from urllib.parse import quote

SEP = "|"


def key_part(value: str) -> str:
    # quote() leaves only unreserved characters, so "/", "#", "?", "|", "\\", "%" and
    # control characters are all encoded; the result sorts in a stable, reversible way.
    return quote(value, safe="@.+-_~!$&'()*,;=:")


def join(*parts: str) -> str:
    return SEP.join(parts)

