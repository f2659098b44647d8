"""Pure conversions: queue message encoding, queue connections, HTTP responses."""

from __future__ import annotations

import base64
import json

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from multidict import MultiDict

from devhost.http_server import joined, root_redirect_target, to_aiohttp
from devhost.queues import (
    BadMessage,
    QueueConfigError,
    connection_string,
    decode_body,
    encode_body,
    output_messages,
)

# --- queue messages --------------------------------------------------------------------


def test_base64_round_trip_of_arbitrary_bytes() -> None:
    data = "héllo ✓".encode() + bytes(range(256))
    text = encode_body(data, "base64")
    assert text == base64.b64encode(data).decode()
    assert decode_body(text, "base64") == data


def test_base64_decoding_tolerates_whitespace_like_dotnet() -> None:
    assert decode_body("aGVs\nbG8=", "base64") == b"hello"


@pytest.mark.parametrize("bad", ["not base64!", "aGVsbG8", "%%%%"])
def test_invalid_base64_is_a_bad_message(bad: str) -> None:
    with pytest.raises(BadMessage):
        decode_body(bad, "base64")


def test_plain_text_encoding() -> None:
    assert encode_body("ü".encode(), "none") == "ü"
    assert decode_body("not base64!", "none") == b"not base64!"
    assert decode_body(None, "base64") == b""


def test_output_values_become_messages() -> None:
    assert output_messages("a") == [b"a"]
    assert output_messages(b"b") == [b"b"]
    assert output_messages(["a", "b"]) == [b"a", b"b"]
    assert output_messages({"k": 1}) == [json.dumps({"k": 1}).encode()]
    assert output_messages(QueueMessage(body=b"q")) == [b"q"]


def test_connection_setting_resolution() -> None:
    env = {"AzureWebJobsStorage": "main", "Other": "other", "AzureWebJobsLegacy": "legacy"}
    assert connection_string(None, env) == "main"
    assert connection_string("", env) == "main"
    assert connection_string("Other", env) == "other"
    assert connection_string("Legacy", env) == "legacy"
    with pytest.raises(QueueConfigError, match="Missing"):
        connection_string("Missing", env)
    with pytest.raises(QueueConfigError, match="identity-based"):
        connection_string("Ident", {"Ident__queueServiceUri": "https://x.queue.core.windows.net"})


# --- HTTP responses ---------------------------------------------------------------------


def test_http_response_conversion_keeps_repeated_headers() -> None:
    response = func.HttpResponse(b"\x00\x01", status_code=207, mimetype="application/octet-stream")
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    response.headers["Content-Length"] = "999"  # wrong on purpose: the server computes it
    converted = to_aiohttp(response)
    assert converted.status == 207
    assert converted.headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert converted.headers["Content-Type"] == "application/octet-stream"
    assert converted.body == b"\x00\x01"
    assert "999" not in converted.headers.getall("Content-Length", [])


def test_text_mimetypes_get_the_charset_and_explicit_content_type_wins() -> None:
    assert to_aiohttp(func.HttpResponse("x")).headers["Content-Type"] == "text/plain; charset=utf-8"
    csv = func.HttpResponse("a;b", mimetype="text/csv", charset="latin-1")
    assert to_aiohttp(csv).headers["Content-Type"] == "text/csv; charset=latin-1"
    explicit = func.HttpResponse("{}", headers={"Content-Type": "application/problem+json"})
    assert to_aiohttp(explicit).headers.getall("Content-Type") == ["application/problem+json"]


def test_plain_return_values() -> None:
    assert to_aiohttp("hi").text == "hi"
    assert to_aiohttp(b"raw").body == b"raw"
    assert to_aiohttp(None).status == 204
    with pytest.raises(TypeError):
        to_aiohttp({"not": "a response"})


def test_repeated_query_parameters_are_comma_joined() -> None:
    assert joined(MultiDict([("a", "1"), ("b", "2"), ("a", "3")])) == {"a": "1,3", "b": "2"}
    # Header names differ only in case: one header.
    headers = MultiDict([("Accept", "text/html"), ("accept", "*/*")])
    assert joined(headers, fold_case=True) == {"accept": "text/html,*/*"}


def test_root_redirect_follows_the_route_prefix() -> None:
    assert root_redirect_target("api") == "/api/form"
    assert root_redirect_target("v1/") == "/v1/form"
    assert root_redirect_target("") == "/form"
