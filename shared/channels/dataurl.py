"""RFC 2397 `data:` URLs, as osTicket's API uses them for messages and attachments."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes


class DataUrlError(ValueError):
    pass


@dataclass(frozen=True)
class DataUrl:
    media_type: str
    charset: str | None
    data: bytes

    def text(self) -> str:
        try:
            return self.data.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return self.data.decode("utf-8", errors="replace")


def parse(value: str) -> DataUrl:
    if not value.startswith("data:") or "," not in value:
        raise DataUrlError("not a data: URL")
    header, _, payload = value[5:].partition(",")
    parts = [p.strip() for p in header.split(";")]
    media_type = (parts[0] or "text/plain").lower()
    is_base64 = "base64" in (p.lower() for p in parts[1:])
    charset = next((p.split("=", 1)[1].strip('"') for p in parts[1:]
                    if p.lower().startswith("charset=")), None)
    if is_base64:
        try:
            data = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise DataUrlError("bad base64 payload") from exc
    else:
        data = unquote_to_bytes(payload)
    return DataUrl(media_type=media_type, charset=charset, data=data)
