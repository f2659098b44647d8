"""Pure parts of the mail fixes: signed Message-IDs, header text at intake, and the one
HTML-to-text path (linear, capped)."""

from __future__ import annotations

import time

import pytest

from shared.core.settings import MailSettings, Settings, StorageSettings
from shared.mail import messageids
from shared.mail.html import MAX_HTML_CHARS, to_text
from shared.mail.inbound.headers import header_text


def settings(secret: str | None = "a-portal-secret-of-some-length",
             sender: str = "help@desk.example.com") -> Settings:
    return Settings(storage=StorageSettings(connection_string="x"),
                    mail=MailSettings(sender=sender), portal_secret=secret)


def test_our_message_ids_verify_and_name_their_ticket():
    mid = messageids.make("12345674", 3, "reply", settings=settings())
    assert mid.startswith("<ticket-12345674.3.reply.") and mid.endswith("@desk.example.com>")
    assert messageids.verify(mid, settings=settings()) == messageids.OurId("12345674", 3, "reply")
    assert messageids.verify(mid.upper(), settings=settings()) is not None  # case folds


@pytest.mark.parametrize("change", [
    lambda m: m.replace("12345674", "12345682"),               # another ticket
    lambda m: m.replace(".3.", ".4."),                          # another sequence
    lambda m: m.replace("desk.example.com", "evil.example"),   # another domain
    lambda m: m[:-25] + "0" * 24 + m[-25 + 24:],                # another tag
    lambda m: "<ticket-12345674.3.reply@desk.example.com>",     # the old, unsigned shape
])
def test_a_changed_or_made_up_id_is_not_ours(change):
    mid = messageids.make("12345674", 3, "reply", settings=settings())
    forged = change(mid)
    assert forged != mid
    assert messageids.verify(forged, settings=settings()) is None


def test_another_secret_or_none_verifies_nothing():
    mid = messageids.make("12345674", 1, "ack", settings=settings())
    assert messageids.verify(mid, settings=settings("another-secret-entirely")) is None
    assert messageids.verify(mid, settings=settings(None)) is None


@pytest.mark.parametrize("typed,shown", [
    ("=?utf-8?b?DQpCY2M6IHhAZXZpbA0KDQpib2R5?=", "Bcc: x@evil body"),
    ("Hi =?utf-8?q?=0D=0ABcc:_x?= there", "Hi Bcc: x there"),
    ("=?utf-8?b?PT91dGYtOD9iP0RRcENZMk02SUhoQVpYWnBiQT09Pz0=?=", "Bcc: x@evil"),  # nested
    ("Grüße\u0000 aus\tKöln", "Grüße aus Köln"),
    ("plain", "plain"),
])
def test_header_text_decodes_what_a_mail_client_would_and_drops_controls(typed, shown):
    assert header_text(typed) == shown


def test_html_to_text_keeps_its_shape():
    html = ("<html><head><style>p{}</style><title>t</title></head><body><h1>Title</h1>"
            "<p>One &amp; <b>two</b><br>three</p><ul><li>a</li><li>b</li></ul>"
            "<blockquote><p>quoted</p></blockquote><pre>  keep\n    this</pre>"
            "<script>alert(1)</script><!-- note --><p>5 &lt; 6</p></body></html>")
    assert to_text(html) == ("Title\n\nOne & two\nthree\n\n- a\n- b\n\n> quoted\n\n"
                             "  keep\n    this\n\n5 < 6")


@pytest.mark.parametrize("unit", ["<a ", "<!--", "</", "<a href='", "<![if "])
def test_hostile_html_is_read_in_linear_time(unit):
    def took(size: int) -> float:
        started = time.perf_counter()
        to_text(unit * (size // len(unit)))
        return time.perf_counter() - started

    small, large = took(50_000), took(400_000)
    # Eight times the input: the stdlib parser took about 64 times as long on "<a ".
    assert large < max(small * 24, 0.5), (small, large)


def test_html_beyond_the_cap_is_not_read():
    text = to_text("<p>start</p>" + "x" * MAX_HTML_CHARS + "<p>never read</p>")
    assert text.startswith("start") and "never read" not in text
