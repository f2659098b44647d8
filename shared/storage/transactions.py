"""Entity group transactions, encoded and decoded here instead of by the standard
library's `email` package.

`TableClient.submit_transaction` builds the `multipart/mixed` body of a transaction
with `email.message` and a generator, and reads the answer back with `email.parser` and
`http.client`: measured with `python -m devtools.profile_intake`, that was the largest
single cost of an intake on the HTTP host (about half of the intake's CPU there went
into the one transaction that stores the ticket) and of the report fold on the queue
host. `submit` does what the SDK's `submit_transaction` does, with the same parts:

- the SDK's own `TableBatchOperations` turns each operation into its sub-request (the
  URL, the headers, the entity's JSON with its EDM types), so the entities are
  serialised exactly as before;
- `encode` writes the body: byte for byte what the SDK sends for the same
  sub-requests and boundaries (`tests/unit/storage/test_transactions.py` compares
  them);
- the request goes through the client's pipeline (signing, retries, the request hook,
  timeouts), as the SDK's does;
- `decode` splits the answer into its parts, and a failing part becomes the SDK's own
  error through its own `_decode_error`: `TableTransactionError` with the failing
  operation's `index` and `error_code` (`tests/integration/test_transactions.py` checks
  them against Azurite).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from wsgiref.handlers import format_date_time

from azure.core.rest import HttpRequest
from azure.core.utils import CaseInsensitiveDict
from azure.data.tables import TableTransactionError
from azure.data.tables._base_client import extract_batch_part_metadata
from azure.data.tables._error import (
    RequestTooLargeError,
    _decode_error,
    _validate_tablename_error,
)
from azure.data.tables._table_batch import TableBatchOperations
from azure.data.tables.aio import TableClient

CRLF = b"\r\n"
# http.client writes a Content-Length of 0 for these methods when there is no body.
_EXPECTING_BODY = frozenset({"PATCH", "POST", "PUT"})


def _http_date() -> str:
    """What the SDK's StorageHeadersPolicy stamps on each sub-request."""
    return format_date_time(time.time())


def _serialize(request: HttpRequest) -> bytes:
    """One sub-request as `application/http`, as the SDK's `http.client`-based serializer
    writes it: the request line, the headers in order (no Host, no Accept-Encoding),
    a Content-Length if none was set, a blank line, the body."""
    body = request.content
    if isinstance(body, str):
        body = body.encode("latin-1")
    elif body is not None and not isinstance(body, bytes):
        raise TypeError(f"cannot serialise a sub-request body of type {type(body).__name__}")
    lines = [f"{request.method} {request.url} HTTP/1.1".encode("ascii")]
    names = set()
    for name, value in request.headers.items():
        names.add(name.lower())
        lines.append(f"{name}: {value}".encode("latin-1"))
    if "content-length" not in names and "transfer-encoding" not in names:
        if body is not None:
            lines.append(b"Content-Length: %d" % len(body))
        elif request.method.upper() in _EXPECTING_BODY:
            lines.append(b"Content-Length: 0")
    return CRLF.join(lines) + CRLF + CRLF + (body or b"")


def encode(requests: list[HttpRequest], *, batch: str, changeset: str) -> bytes:
    """The body of a `$batch` request: one changeset holding `requests` (each already
    carrying its Date headers), between the boundaries `batch` and `changeset`."""
    out = [b"--" + batch.encode("ascii"), CRLF,
           b"Content-Type: multipart/mixed; boundary=" + changeset.encode("ascii"), CRLF, CRLF]
    delimiter = b"--" + changeset.encode("ascii")
    for index, request in enumerate(requests):
        out += [delimiter, CRLF,
                b"Content-Type: application/http", CRLF,
                b"Content-Transfer-Encoding: binary", CRLF,
                b"Content-ID: %d" % index, CRLF, CRLF,
                _serialize(request), CRLF]
    out += [delimiter, b"--", CRLF, CRLF, b"--", batch.encode("ascii"), b"--", CRLF]
    return b"".join(out)


# -- the answer ---------------------------------------------------------------------------


@dataclass
class Part:
    """One operation's answer: what the SDK's error decoding and metadata read of it."""

    status_code: int
    reason: str
    headers: CaseInsensitiveDict
    content: bytes
    request: HttpRequest | None = None
    content_type: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.content_type = self.headers.get("Content-Type")

    def text(self, encoding: str | None = None) -> str:
        return self.content.decode(encoding or "utf-8-sig")

    def body(self) -> bytes:
        return self.content

    def read(self) -> bytes:
        return self.content


def _boundary(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip().strip('"')
    raise ValueError(f"no boundary in {content_type!r}")


def _headers(block: bytes) -> CaseInsensitiveDict:
    headers = CaseInsensitiveDict()
    for line in block.split(b"\n"):
        name, sep, value = line.rstrip(b"\r").partition(b":")
        if sep:
            headers[name.decode("latin-1").strip()] = value.decode("latin-1").strip()
    return headers


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    """Headers and body of an entity: split at the first empty line (CRLF or LF)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, sep, rest = data.partition(separator)
        if sep:
            return head, rest
    return data, b""


def _entities(body: bytes, boundary: str) -> list[bytes]:
    """The parts of a multipart body (the CRLF before each delimiter belongs to it)."""
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(b"\n" + delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        _, _, part = chunk.partition(b"\n")  # the rest of the delimiter line
        parts.append(part[:-1] if part.endswith(b"\r") else part)
    return parts


def decode(body: bytes, content_type: str) -> list[Part]:
    """Every `application/http` answer in a multipart body, nested changesets included."""
    parts: list[Part] = []
    for entity in _entities(body, _boundary(content_type)):
        head, rest = _split_head(entity)
        headers = _headers(head)
        kind = headers.get("Content-Type", "")
        if kind.lower().startswith("multipart/mixed"):
            parts += decode(rest, kind)
        elif kind.lower().startswith("application/http"):
            status_head, content = _split_head(rest)
            status_line, _, header_lines = status_head.partition(b"\n")
            _, code, *reason = status_line.rstrip(b"\r").decode("latin-1").split(" ", 2)
            parts.append(Part(status_code=int(code), reason="".join(reason).strip(),
                              headers=_headers(header_lines), content=content))
        else:
            raise ValueError(f"unexpected part {kind!r} in a transaction's answer")
    return parts


# -- the call -------------------------------------------------------------------------------


async def submit(table: TableClient, operations: Iterable[tuple[Any, ...]]
                 ) -> list[Mapping[str, Any]]:
    """`table.submit_transaction(operations)`, with the body encoded and the answer
    decoded here. Raises what the SDK raises (`TableTransactionError` and its kin)."""
    # The SDK's own private parts: the sub-requests it would build, its error decoding.
    batch = TableBatchOperations(
        config=table._client._config,
        endpoint=f"{table.scheme}://{table._primary_hostname}",
        table_name=table.table_name,
        is_cosmos_endpoint=table._cosmos_endpoint,
    )
    for operation in operations:
        batch.add_operation(operation)
    requests: list[HttpRequest] = batch.requests
    if not requests:
        return []
    for request in requests:
        now = _http_date()
        request.headers["x-ms-date"] = now
        request.headers["Date"] = now
    changeset = f"changeset_{uuid.uuid4()}"
    batch_boundary = f"batch_{uuid.uuid4()}"
    request = HttpRequest(
        method="POST",
        url=f"{table.scheme}://{table._primary_hostname}/$batch",
        headers={
            "x-ms-version": table.api_version,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary={batch_boundary}",
            "Accept": "application/json",
        },
        content=encode(requests, batch=batch_boundary, changeset=changeset),
    )
    # Streamed, as the SDK does: the pipeline would otherwise try to parse the multipart
    # answer as JSON.
    response = await table._client.send_request(request, stream=True)
    await response.read()
    if response.status_code == 413:
        raise _decode_error(response, error_message="The transaction request was too large",
                            error_type=RequestTooLargeError)
    if response.status_code != 202:
        decoded = _decode_error(response)
        _validate_tablename_error(decoded, table.table_name)
        raise decoded
    parts = decode(response.content, response.headers.get("Content-Type", ""))
    for index, part in enumerate(parts):
        part.request = requests[index] if index < len(requests) else request
    failed = [p for p in parts if not 200 <= p.status_code < 300]
    if failed:
        if failed[0].status_code == 413:
            raise _decode_error(response, error_message="The transaction request was too large",
                                error_type=RequestTooLargeError)
        decoded = _decode_error(response=failed[0], error_type=TableTransactionError)
        _validate_tablename_error(decoded, table.table_name)
        raise decoded
    return [extract_batch_part_metadata(p) for p in parts]


def error_code(exc: TableTransactionError) -> str | None:
    """The storage error code of a failed transaction (the SDK sets it at run time; its
    stubs do not declare it)."""
    return getattr(exc, "error_code", None)
