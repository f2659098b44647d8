"""RFC 2397 `data:` URLs as osTicket's API sends messages and attachments in them."""

import base64

import pytest

from shared.channels.dataurl import DataUrlError, parse


def test_percent_encoded_text_defaults_to_plain_text():
    url = parse("data:,Hello%2C%20World")
    assert (url.media_type, url.charset, url.text()) == ("text/plain", None, "Hello, World")


def test_base64_with_a_declared_charset_decodes_in_that_charset():
    payload = base64.b64encode("Grüße".encode("latin-1")).decode()
    url = parse(f"data:Text/Plain;charset=ISO-8859-1;base64,{payload}")
    assert url.media_type == "text/plain" and url.charset == "ISO-8859-1"
    assert url.text() == "Grüße"


def test_binary_attachments_keep_their_exact_bytes():
    raw = bytes(range(256))
    url = parse("data:application/pdf;base64," + base64.b64encode(raw).decode())
    assert url.media_type == "application/pdf" and url.data == raw


def test_an_unknown_charset_still_gives_text():
    assert parse("data:text/html;charset=klingon,%3Cp%3Ehi").text() == "<p>hi"


@pytest.mark.parametrize("value", ["hello", "data:no-comma", "https://e.example/x.png",
                                   "data:;base64,abcde"])
def test_what_is_not_a_readable_data_url_is_refused(value: str):
    with pytest.raises(DataUrlError):
        parse(value)
