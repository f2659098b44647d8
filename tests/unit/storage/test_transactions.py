"""Our entity group transaction encoder sends byte for byte what the SDK's sends, and our
decoder reads the answers the service gives (shared/storage/transactions.py).

Both are driven through a transport that keeps the request instead of sending it (and
answers with a canned multipart reply), with the boundaries and the clock fixed."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.rest import HttpRequest
from azure.data.tables import EdmType, EntityProperty, TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.storage import transactions

CONNECTION = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
    "KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)
ETAG = "W/\"datetime'2026-12-04T10%3A00%3A00.1234567Z'\""


class Kept(Exception):
    pass


class Keeping(AsyncHttpTransport):
    """Keeps each request; answers with `reply` (status, content type, body) or raises."""

    def __init__(self, reply: tuple[int, str, bytes] | None = None) -> None:
        self.requests: list[Any] = []
        self.reply = reply

    async def __aenter__(self) -> Keeping:
        return self

    async def __aexit__(self, *args: object) -> None:
        pass

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, request: Any, **kwargs: Any) -> Any:
        self.requests.append(request)
        if self.reply is None:
            raise Kept()
        from azure.core.rest._http_response_impl_async import AsyncHttpResponseImpl

        status, content_type, body = self.reply

        class Reply(AsyncHttpResponseImpl):
            pass

        response = Reply(request=request, internal_response=None, block_size=4096,
                         status_code=status, reason="Accepted", content_type=content_type,
                         headers={"Content-Type": content_type}, stream_download_generator=None)
        response._content = body
        response._is_closed = True
        return response


def client(transport: Keeping, table: str = "tickets") -> TableClient:
    return TableClient.from_connection_string(CONNECTION, table, transport=transport,
                                              retry_total=0)


async def sent_by(send: str, operations: list[tuple[Any, ...]], table: str = "tickets"
                  ) -> tuple[dict[str, str], bytes]:
    """The headers and body of the `$batch` request the SDK (`send="sdk"`) or we send."""
    transport = Keeping()
    ids = (uuid.UUID(int=i) for i in itertools.count(1))
    with mock.patch("azure.data.tables.aio._base_client_async.uuid4", lambda: next(ids)), \
            mock.patch.object(transactions.uuid, "uuid4", lambda: next(ids)), \
            mock.patch("time.time", lambda: 1_800_000_000.0):
        async with client(transport, table) as tables:
            with pytest.raises(Kept):
                if send == "sdk":
                    await tables.submit_transaction(operations)
                else:
                    await transactions.submit(tables, operations)
    request = transport.requests[0]
    return dict(request.headers), request.body


WHEN = datetime(2026, 12, 4, 10, 30, 15, 123456, tzinfo=UTC)
CASES: dict[str, list[tuple[Any, ...]]] = {
    "create": [("create", {"PartitionKey": "p1", "RowKey": "ticket", "subject": "Printer"})],
    "types": [("create", {
        "PartitionKey": "p1", "RowKey": "a", "text": "naïve café ✓ 日本語 \U0001f600",
        "quotes": "it's \"quoted\" \\ back\r\nline", "at": WHEN, "when": WHEN - timedelta(days=400),
        "blob": b"\x00\x01\xff binary", "empty": b"", "big": EntityProperty(2**40, EdmType.INT64),
        "n": 7, "x": 1.5, "yes": True, "no": False, "guid": uuid.UUID(int=42), "none": None})],
    "upsert replace and merge": [
        ("upsert", {"PartitionKey": "p1", "RowKey": "a", "v": 1}, {"mode": UpdateMode.REPLACE}),
        ("upsert", {"PartitionKey": "p1", "RowKey": "b", "v": 2}, {"mode": UpdateMode.MERGE}),
        ("upsert", {"PartitionKey": "p1", "RowKey": "c"})],
    "update with an etag": [
        ("update", {"PartitionKey": "p1", "RowKey": "ticket", "v": 3},
         {"mode": UpdateMode.REPLACE, "etag": ETAG, "match_condition": MatchConditions.IfNotModified}),
        ("update", {"PartitionKey": "p1", "RowKey": "x", "v": 4}, {"mode": UpdateMode.MERGE})],
    "delete": [("delete", {"PartitionKey": "p1", "RowKey": "a"}),
               ("delete", {"PartitionKey": "p1", "RowKey": "b"},
                {"etag": ETAG, "match_condition": MatchConditions.IfNotModified})],
    "keys that need quoting": [("create", {"PartitionKey": "d|2026-12-04",
                                           "RowKey": "team|o'brien:3", "c": "{}"}),
                               ("delete", {"PartitionKey": "d|2026-12-04", "RowKey": "~m|a b"})],
    "a hundred operations": [("create", {"PartitionKey": "p", "RowKey": f"evt-{i:06d}",
                                         "body": "x" * i}) for i in range(100)],
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_body_is_the_sdks_byte_for_byte(case: str) -> None:
    sdk_headers, sdk_body = await sent_by("sdk", CASES[case])
    our_headers, our_body = await sent_by("ours", CASES[case])
    assert our_body == sdk_body
    different = {name for name in sdk_headers if our_headers.get(name) != sdk_headers[name]}
    assert different <= {"x-ms-client-request-id"}  # a new one for every request
    assert set(our_headers) == set(sdk_headers)


def test_a_sub_request_without_a_body_gets_the_length_http_client_gives_it() -> None:
    for method, expected in (("DELETE", None), ("POST", b"Content-Length: 0"),
                             ("PATCH", b"Content-Length: 0")):
        raw = transactions._serialize(HttpRequest(method, "http://h/t"))
        assert (b"Content-Length" in raw) == (expected is not None)
        if expected:
            assert expected in raw


ANSWER = (
    b"--batchresponse_b1\r\n"
    b"Content-Type: multipart/mixed; boundary=changesetresponse_c1\r\n\r\n"
    b"--changesetresponse_c1\r\n"
    b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 201 Created\r\nDataServiceVersion: 3.0;\r\nContent-Type: application/json;odata=minimalmetadata\r\n"
    b"ETag: W/\"datetime'2026-12-04T10%3A00%3A00.1Z'\"\r\n\r\n"
    b'{"PartitionKey":"p1","RowKey":"a"}\r\n'
    b"--changesetresponse_c1\r\n"
    b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\nETag: W/\"datetime'2026-12-04T10%3A00%3A00.2Z'\"\r\n\r\n"
    b"\r\n--changesetresponse_c1--\r\n"
    b"--batchresponse_b1--\r\n"
)

FAILED = (
    b"--batchresponse_b2\r\n"
    b"Content-Type: multipart/mixed; boundary=changesetresponse_c2\r\n\r\n"
    b"--changesetresponse_c2\r\n"
    b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"HTTP/1.1 409 Conflict\r\nContent-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n"
    b'{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US",'
    b'"value":"1:The specified entity already exists.\\nRequestId:r1\\nTime:2026-12-04T10:00:00Z"}}}\r\n'
    b"--changesetresponse_c2--\r\n"
    b"--batchresponse_b2--\r\n"
)

OPS = [("create", {"PartitionKey": "p1", "RowKey": "a"}),
       ("update", {"PartitionKey": "p1", "RowKey": "b"}, {"etag": ETAG,
                                                          "match_condition": MatchConditions.IfNotModified})]


def test_decode_reads_each_part_status_headers_and_body() -> None:
    parts = transactions.decode(ANSWER, "multipart/mixed; boundary=batchresponse_b1")
    assert [p.status_code for p in parts] == [201, 204]
    assert parts[0].headers["etag"] == "W/\"datetime'2026-12-04T10%3A00%3A00.1Z'\""
    assert parts[0].content == b'{"PartitionKey":"p1","RowKey":"a"}'
    assert parts[1].content == b""
    # LF line ends (a lenient server) read the same.
    lf = transactions.decode(ANSWER.replace(b"\r\n", b"\n"),
                             "multipart/mixed; boundary=batchresponse_b1")
    assert [(p.status_code, p.headers["ETag"]) for p in lf] == \
        [(p.status_code, p.headers["ETag"]) for p in parts]


# The SDK makes each part a response of the transport's type and reads it without
# awaiting: with this canned reply that leaves a coroutine never awaited (harmless here).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("send", ["sdk", "ours"])
async def test_answers_are_read_as_the_sdk_reads_them(send: str) -> None:
    async def submit(reply: bytes, boundary: str) -> Any:
        transport = Keeping((202, f"multipart/mixed; boundary={boundary}", reply))
        async with client(transport) as tables:
            if send == "sdk":
                return await tables.submit_transaction(OPS)
            return await transactions.submit(tables, OPS)

    results = await submit(ANSWER, "batchresponse_b1")
    assert [dict(r) for r in results] == [
        {"etag": "W/\"datetime'2026-12-04T10%3A00%3A00.1Z'\""},
        {"etag": "W/\"datetime'2026-12-04T10%3A00%3A00.2Z'\""}]
    with pytest.raises(TableTransactionError) as failed:
        await submit(FAILED, "batchresponse_b2")
    assert failed.value.index == 1
    assert failed.value.error_code == "EntityAlreadyExists"
    assert failed.value.status_code == 409
    assert not isinstance(failed.value, ResourceExistsError)
    assert "The specified entity already exists" in failed.value.message
