"""Reading inbound email: what the help desk learns from messages as real clients send them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.mail import compose
from shared.mail.inbound.headers import header_text, ticket_token
from shared.mail.inbound.message import MailParseError, parse_email
from shared.mail.inbound.quoted import REPLY_MARKER, strip_quoted
from tests.unit.mail import mail_corpus as corpus
from tests.unit.mail.mail_corpus import crlf, message, wire

# --- who, what, when --------------------------------------------------------------------


def test_plain_message_gives_sender_recipients_subject_and_body():
    parsed = parse_email(corpus.plain_text())
    assert (parsed.from_name, parsed.from_address) == ("Doe, Jane", "jane.doe@example.com")
    assert parsed.reply_to == "jane.private@example.org"
    assert parsed.to == [corpus.DESK]
    assert parsed.cc == ["boss@example.com", "colleague@example.com"]
    assert parsed.subject == "Printer on floor 3 shows E42"
    assert parsed.date == datetime(2024, 3, 5, 8, 15, tzinfo=UTC)
    assert parsed.date.utcoffset() == timedelta(hours=1)
    assert parsed.message_id == "<CAF=abc123@mail.gmail.com>"
    assert parsed.text == "Hello,\n\nthe printer on floor 3 shows error E42 since this morning.\n\nThanks,\nJane"
    assert parsed.html is None and parsed.attachments == []
    assert parsed.auto_reason is None and parsed.bounce is None and parsed.ticket_number is None


def test_subject_is_decoded_and_whitespace_collapsed():
    raw = crlf("From: a@example.com\n"
               "Subject: =?utf-8?q?Drucker?=\n =?utf-8?q?_kaputt_=E2=80=93?=\n\t  seit   Montag\n\nx\n")
    assert parse_email(raw).subject == "Drucker kaputt – seit Montag"


def test_encoded_word_split_inside_a_character_still_decodes():
    # Some encoders cut a long UTF-8 subject into words mid-character ("ü" = C3 BC).
    raw = crlf("From: a@example.com\nSubject: =?utf-8?q?Gr=C3?= =?utf-8?q?=BC=C3=9Fe?=\n\nx\n")
    assert parse_email(raw).subject == "Grüße"


@pytest.mark.parametrize(("date", "expected"), [
    ("Tue, 05 Mar 2024 09:15:00 -0000", datetime(2024, 3, 5, 9, 15, tzinfo=UTC)),
    ("5 Mar 2024 09:15:00 +0530", datetime(2024, 3, 5, 9, 15, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    ("last Tuesday, around nine", None),
])
def test_dates_are_timezone_aware_or_none(date, expected):
    parsed = parse_email(wire(message(Date=date)))
    assert parsed.date == expected
    assert parsed.date is None or parsed.date.tzinfo is not None


def test_message_ids_are_normalised_in_order():
    raw = crlf(
        "From: a@example.com\n"
        "Message-ID:   < first@host.example >  \n"
        "In-Reply-To: <third@host.example> (Jane's message of Tue, 5 Mar 2024)\n"
        "References: <second@host.example>\n <third@host.example>\tfourth@host.example garbage\n"
        " <second@host.example>\n\nx\n"
    )
    parsed = parse_email(raw)
    assert parsed.message_id == "<first@host.example>"
    assert parsed.in_reply_to == ["<third@host.example>"]
    assert parsed.references == ["<second@host.example>", "<third@host.example>"]


def test_message_ids_without_brackets_are_accepted():
    raw = crlf("From: a@example.com\nMessage-ID: abc@host.example\nReferences: one@x.example two@x.example\n\nx\n")
    parsed = parse_email(raw)
    assert parsed.message_id == "<abc@host.example>"
    assert parsed.references == ["<one@x.example>", "<two@x.example>"]


def test_missing_message_id_is_none():
    assert parse_email(crlf("From: a@example.com\n\nx\n")).message_id is None


@pytest.mark.parametrize(("subject", "number"), [
    ("Re: [#12345678] Printer", "12345678"),
    ("Printer broken [#87654321]", "87654321"),
    ("AW: Re: [#12345678] [#87654321]", "12345678"),
    ("[#1234567] seven digits", None),
    ("[#123456789] nine digits", None),
    ("#12345678 without brackets", None),
    ("[12345678] without hash", None),
    ("", None),
])
def test_ticket_token(subject, number):
    assert ticket_token(subject) == number


def test_ticket_number_comes_from_the_subject():
    assert parse_email(corpus.gmail_reply()).ticket_number == "12345678"


# --- bodies -----------------------------------------------------------------------------


def test_html_only_message_gets_readable_text_and_safe_html():
    parsed = parse_email(corpus.html_only())
    assert parsed.text == (
        'Hello team,\n\nI cannot log in & the page says "expired".\n\n- Browser: Firefox\n- Since: Monday\n\n'
        "click me or status <https://status.example.com/>\n\nRegards,\nJane"
    )
    html = parsed.html
    assert html is not None
    for gone in ("<script", "alert(", "document.cookie", "onload", "onerror", "javascript:", "color: red",
                 "ignored title", "http://tracker.example"):
        assert gone not in html
    assert '<a href="https://status.example.com/"' in html
    assert '<img src="https://cdn.example.com/logo.png">' in html
    assert "<b>" in html and "<li>Browser: Firefox</li>" in html


def test_alternative_prefers_plain_text_and_keeps_html_with_inline_image_and_attachment():
    parsed = parse_email(corpus.alternative_with_images())
    assert parsed.text == "See the screenshot, and the report attached."
    assert parsed.html is not None and '<img src="cid:shot@example.com"' in parsed.html
    image, report = parsed.attachments
    assert (image.content_type, image.data, image.inline, image.content_id) == (
        "image/png", corpus.PNG, True, "shot@example.com")
    assert image.filename == "attachment-1.png"
    assert (report.filename, report.content_type, report.data, report.inline) == (
        "report.pdf", "application/pdf", corpus.PDF, False)


def test_inline_forward_keeps_the_forwarded_content():
    parsed = parse_email(corpus.forwarded_inline_gmail())
    assert parsed.text.startswith("Can you check this invoice?")
    assert "Please pay 1,000 EUR for invoice 4711 by Friday." in parsed.text
    assert "From: Billing <billing@vendor.example>" in parsed.text


def test_outlook_original_message_in_a_forward_is_kept():
    parsed = parse_email(corpus.forwarded_inline_outlook())
    assert "Your licence LIC-99 expired on March 1." in parsed.text


def test_forward_as_attachment_becomes_an_eml_attachment():
    parsed = parse_email(corpus.forwarded_as_attachment())
    assert parsed.text == "Is this phishing? Forwarding it as an attachment."
    [eml] = parsed.attachments
    assert (eml.filename, eml.content_type) == ("forwarded-message.eml", "message/rfc822")
    inner = message_from_bytes(eml.data, policy=policy.default)
    assert inner["Subject"] == "Urgent: account closure"
    assert inner["Message-ID"] == "<inner-1@phish.example>"
    assert "click here" in inner.get_content()


def test_format_flowed_paragraphs_are_joined():
    assert parse_email(corpus.flowed()).text == (
        "This paragraph was wrapped by the mail client at seventy-two characters so that it would fit.\n\n"
        "> quoted and flowed too\n\n-- \nJane"
    )


def test_empty_plain_alternative_falls_back_to_the_html():
    msg = message("")
    msg.add_alternative("<p>Only the HTML says something.</p>", subtype="html")
    assert parse_email(wire(msg)).text == "Only the HTML says something."


def test_text_is_never_none():
    raw = crlf("From: a@example.com\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBO\n")
    parsed = parse_email(raw)
    assert parsed.text == ""
    assert [a.filename for a in parsed.attachments] == ["attachment-1.png"]


# --- charsets ---------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "subject", "text"), [
    (corpus.latin1, "Grüße aus Köln", "Grüße aus Köln, der Drucker ist kaputt."),
    (corpus.windows1252, "“Quotes” cost €5", "The “new” licence costs €50 – too much."),
    (corpus.koi8r, "Принтер не работает", "Здравствуйте, принтер не работает."),
    (corpus.iso2022jp, "プリンターの故障", "プリンターが動きません。"),
])
def test_declared_charsets_are_decoded(build, subject, text):
    parsed = parse_email(build())
    assert (parsed.subject, parsed.text) == (subject, text)


def test_latin1_display_name_is_decoded():
    assert parse_email(corpus.latin1()).from_name == "Jürgen Müller"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_undeclared_8bit_body_is_guessed(encoding):
    assert parse_email(corpus.undeclared_8bit(encoding)).text == "Café naïve – über"


def test_raw_8bit_headers_are_decoded():
    raw = "From: Jürgen <j@example.de>\r\nSubject: Grüße\r\n\r\nx\r\n".encode()
    parsed = parse_email(raw)
    assert (parsed.from_name, parsed.subject) == ("Jürgen", "Grüße")


def test_unknown_charset_decodes_with_replacement_characters():
    parsed = parse_email(corpus.unknown_charset())
    assert parsed.text == "Hello \ufffd world"
    assert parsed.subject == "Qapla\ufffd"


@pytest.mark.parametrize("charset", ["base64", "rot13", "idna", "utf-7", "unicode_escape", "nul\x00l", '"'])
def test_odd_charset_names_never_break_parsing(charset):
    raw = crlf(f'From: a@example.com\nSubject: =?{charset}?q?x=FF?=\nContent-Type: text/plain; charset="{charset}"\n\n')
    parsed = parse_email(raw + b"caf\xe9 \\ud800 +2AA-\r\n")
    parsed.text.encode("utf-8")  # storable: no lone surrogates
    parsed.subject.encode("utf-8")


# --- quoted reply history ---------------------------------------------------------------


def test_gmail_reply_keeps_only_the_new_text():
    parsed = parse_email(corpus.gmail_reply())
    assert parsed.text == "Thanks, restarting the spooler fixed it!"
    assert parsed.in_reply_to == ["<reply-1@desk.example.com>"]
    assert parsed.references == ["<CAF=first@mail.gmail.com>", "<reply-1@desk.example.com>"]


def test_interleaved_answers_are_kept():
    text = parse_email(corpus.interleaved_reply()).text
    assert "The HP LaserJet 4000." in text and "Floor 3." in text
    assert "> Which model is it?" in text


def test_outlook_reply_drops_the_original_message():
    assert parse_email(corpus.outlook_reply()).text == "It works now, thank you.\n\nJane"


@pytest.mark.parametrize("language", ["en", "de"])
def test_outlook_header_block_reply_is_dropped(language):
    assert parse_email(corpus.outlook_reply_header_block(language)).text == "Done, the new laptop arrived."


def test_reply_above_our_marker_keeps_only_the_reply():
    assert parse_email(corpus.reply_with_marker()).text == "Yes, please go ahead."


def test_html_only_gmail_reply_drops_the_blockquote():
    assert parse_email(corpus.html_gmail_reply()).text == "Still broken after the restart."


def test_reply_marker_is_the_one_outgoing_mail_uses():
    assert REPLY_MARKER == compose.REPLY_MARKER


def test_strip_quoted_cuts_at_the_marker_even_unquoted():
    text = f"Fine by me.\n\n{REPLY_MARKER}\nTicket 12345678 was updated.\n"
    assert strip_quoted(text) == "Fine by me."


def test_strip_quoted_original_message_depends_on_reply_flag():
    text = "See below.\n\n-----Original Message-----\nFrom: x@example.com\n\nThe server is down.\n"
    assert strip_quoted(text, is_reply=True) == "See below."
    assert "The server is down." in strip_quoted(text, is_reply=False)


def test_strip_quoted_drops_only_a_trailing_quote_run():
    text = "> what model?\nLaserJet\n\nThanks\n\n> old text\n> more old text\n\n"
    assert strip_quoted(text) == "> what model?\nLaserJet\n\nThanks"


def test_strip_quoted_drops_an_undated_attribution_with_its_quote():
    assert strip_quoted("Sure.\n\nJane Doe wrote:\n> question\n") == "Sure."


def test_strip_quoted_keeps_prose_that_looks_like_an_attribution():
    text = "On Monday my colleague wrote:\nthe VPN drops every hour."
    assert strip_quoted(text) == text


def test_strip_quoted_keeps_the_signature():
    text = ("Thanks!\n\n-- \nJane Doe\nIT department\n\n"
            "On Tue, Mar 5, 2024 at 10:02 AM Desk <d@x.example> wrote:\n> hi\n")
    assert strip_quoted(text) == "Thanks!\n\n-- \nJane Doe\nIT department"


def test_strip_quoted_never_empties_a_message_with_text():
    text = "-----Original Message-----\nFrom: a@example.com\nSent: today\nSubject: x\n\nplease help"
    assert strip_quoted(text, is_reply=True) == text
    assert strip_quoted("> only a quote") == "> only a quote"
    assert strip_quoted("  \n\n") == ""


@settings(max_examples=150, deadline=None)
@given(new=st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                            max_size=40).filter(lambda s: s.strip() and not s.lstrip().startswith((">", "-", "_"))),
                    min_size=1, max_size=5),
       client=st.sampled_from(["gmail", "outlook", "marker"]))
def test_the_requesters_new_text_survives_stripping(new, client):
    written = "\n".join(line.strip() for line in new)
    history = {
        "gmail": "\n\nOn Tue, Mar 5, 2024 at 10:02 AM Desk <d@x.example> wrote:\n\n> old\n> text\n",
        "outlook": "\n\n-----Original Message-----\nFrom: Desk\nSent: Tuesday\nTo: a\nSubject: b\n\nold text\n",
        "marker": f"\n\nOn 5 Mar 2024, Desk wrote:\n> {REPLY_MARKER}\n> old text\n",
    }[client]
    assert strip_quoted(written + history, is_reply=True) == written.strip()


# --- machine-sent mail ------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "reason"), [
    ({"Auto_Submitted": "auto-replied"}, "auto-submitted"),
    ({"Auto_Submitted": "auto-generated (vacation)"}, "auto-submitted"),
    ({"Auto_Submitted": "no"}, None),
    ({"X_Autoreply": "yes"}, "auto-submitted"),
    ({"X_Autorespond": "Vacation"}, "auto-submitted"),
    ({"X_Auto_Response_Suppress": "All"}, "auto-response-suppress"),
    ({"X_Auto_Response_Suppress": "OOF, AutoReply"}, "auto-response-suppress"),
    ({"Precedence": "bulk"}, "precedence"),
    ({"Precedence": "Junk"}, "precedence"),
    ({"Precedence": "list"}, "precedence"),
    ({"Precedence": "auto_reply"}, "precedence"),
    ({"Precedence": "first-class"}, None),
    ({"List_Id": "IT news <news.example.com>"}, "list"),
    ({"List_Unsubscribe": "<mailto:leave@example.com>"}, "list"),
    ({"subject": "Automatic reply: Printer broken"}, "autoreply-subject"),
    ({"subject": "Auto: Printer broken"}, "autoreply-subject"),
    ({"subject": "Out of Office: back on Monday"}, "autoreply-subject"),
    ({"subject": "Abwesenheitsnotiz: Drucker"}, "autoreply-subject"),
    ({"subject": "Re: Automatic reply settings are broken"}, None),
])
def test_machine_sent_mail_is_recognised(headers, reason):
    assert parse_email(wire(message(**headers))).auto_reason == reason


def test_our_own_address_is_recognised_case_insensitively():
    raw = wire(message(sender="Help Desk <Help@Desk.Example.com>"))
    assert parse_email(raw, own_addresses=[corpus.DESK]).auto_reason == "own-address"
    assert parse_email(raw, own_addresses=["HELP@DESK.EXAMPLE.COM "]).auto_reason == "own-address"
    assert parse_email(raw).auto_reason is None


def test_read_receipt_is_machine_sent():
    raw = crlf("From: a@example.com\nSubject: Read: Printer\nContent-Type: multipart/report; "
               "report-type=disposition-notification; boundary=b\n\n--b\nContent-Type: text/plain\n\nRead.\n"
               "--b\nContent-Type: message/disposition-notification\n\nDisposition: manual-action/MDN-sent-manually;"
               " displayed\n--b--\n")
    parsed = parse_email(raw)
    assert parsed.auto_reason == "auto-submitted" and parsed.bounce is None


def test_delivery_status_notification_is_a_bounce():
    parsed = parse_email(corpus.bounce(), own_addresses=[corpus.DESK])
    assert parsed.auto_reason == "bounce"  # although it also says Auto-Submitted
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "<ticket-12345678-1@desk.example.com>"
    assert parsed.bounce.recipients == ["nobody@example.org"]
    assert (parsed.bounce.status, parsed.bounce.action) == ("5.1.1", "failed")


def test_bounce_with_only_the_original_headers():
    bounce = parse_email(corpus.bounce_headers_only()).bounce
    assert bounce is not None
    assert bounce.original_message_id == "<ticket-12345678-2@desk.example.com>"
    assert (bounce.recipients, bounce.status, bounce.action) == (["gone@example.org"], "5.2.1", "failed")


def test_plain_text_bounce_from_mailer_daemon():
    raw = crlf("From: MAILER-DAEMON@mail.example.net\nSubject: failure notice\n\n"
               "Hi. This is the qmail-send program at mail.example.net.\n"
               "<gone@example.org>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
               "--- Below this line is a copy of the message.\n\n"
               "From: help@desk.example.com\nMessage-ID: <ticket-3@desk.example.com>\nSubject: hi\n")
    parsed = parse_email(raw)
    assert parsed.auto_reason == "bounce"
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == "<ticket-3@desk.example.com>"
    assert parsed.bounce.status == "5.1.1"


def test_mailer_daemon_without_a_delivery_subject_is_not_a_bounce():
    parsed = parse_email(wire(message(sender="MAILER-DAEMON@mx.example.com", subject="Quarantine summary")))
    assert parsed.bounce is None


# --- attachments ------------------------------------------------------------------------


def test_attachment_names_lose_their_paths_and_decode():
    parsed = parse_email(corpus.with_attachment_headers(
        r'attachment; filename="C:\\evil\\..\\a.exe"',
        'attachment; filename="../../etc/passwd"',
        "attachment; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%E2%82%AC.pdf",
        "attachment; filename*0*=utf-8''%E6%97%A5; filename*1*=%E6%9C%AC.txt",
        'attachment; filename="=?utf-8?B?w6RwZmVsLmRvY3g=?="',
        'attachment; filename=".."',
        "attachment",
    ))
    assert [a.filename for a in parsed.attachments] == [
        "a.exe", "passwd", "Grüße €.pdf", "日本.txt", "äpfel.docx", "attachment-6.bin", "attachment-7.bin"]
    assert all(a.data == b"MZ" for a in parsed.attachments)


def test_name_from_the_content_type_counts_too():
    raw = corpus.with_attachment_headers("inline", content_type='application/pdf; name="scan.pdf"')
    [scan] = parse_email(raw).attachments
    assert (scan.filename, scan.content_type, scan.inline) == ("scan.pdf", "application/pdf", True)


def test_text_attachment_is_not_mistaken_for_the_body():
    raw = corpus.with_attachment_headers('attachment; filename="log.txt"', content_type="text/plain")
    parsed = parse_email(raw)
    assert parsed.text == "Files attached."
    assert [a.filename for a in parsed.attachments] == ["log.txt"]


# --- unreadable messages ----------------------------------------------------------------


def test_message_without_from_is_rejected():
    with pytest.raises(MailParseError, match="From"):
        parse_email(crlf("To: help@desk.example.com\nSubject: who am I\n\nhello\n"))


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"\x00\x01\x02 not an email at all \xff"])
def test_non_messages_are_rejected(raw):
    with pytest.raises(MailParseError):
        parse_email(raw)


def test_thousands_of_nested_multiparts_are_rejected_not_a_crash():
    with pytest.raises(MailParseError, match="nested"):
        parse_email(corpus.nested_multiparts(3000))


def test_nesting_and_part_count_are_bounded():
    assert parse_email(corpus.nested_multiparts(40)).text == "innermost"
    with pytest.raises(MailParseError, match="nested deeper than 50"):
        parse_email(corpus.nested_multiparts(60))
    with pytest.raises(MailParseError, match="nested deeper than 5"):
        parse_email(corpus.nested_multiparts(6), max_depth=5)
    assert parse_email(corpus.many_parts(100)).text.startswith("part 0\npart 1\n")
    with pytest.raises(MailParseError, match="more than 500 MIME parts"):
        parse_email(corpus.many_parts(600))


# --- nothing but MailParseError, whatever arrives ---------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_nothing_but_mail_parse_error(raw):
    try:
        parse_email(raw)
    except MailParseError:
        pass


# Built once, outside the strategy: building draws random MIME boundaries.
CORPUS = [build() for build in corpus.ALL]


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 8))):
        start = draw(st.integers(0, len(raw)))
        end = draw(st.integers(start, min(len(raw), start + 40)))
        raw[start:end] = draw(st.binary(max_size=12) | st.sampled_from(
            [b"\r\n", b"\r\n\r\n", b"--", b"=?", b"?=", b";", b'"', b"<", b"\\", b"\x00", b"\xff", b"=\r\n", b"<![",
             b"Content-Type: multipart/mixed; boundary=x\r\n", b"charset=", b"base64"]))
    return bytes(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_mutated_messages_raise_nothing_but_mail_parse_error(raw):
    try:
        parsed = parse_email(raw)
    except MailParseError:
        return
    parsed.text.encode("utf-8")  # whatever came in, what comes out can be stored as UTF-8
    parsed.subject.encode("utf-8")


@pytest.mark.parametrize("typed,shown", [
    ("=?utf-8?b?DQpCY2M6IHhAZXZpbA0KDQpib2R5?=", "Bcc: x@evil body"),
    ("Hi =?utf-8?q?=0D=0ABcc:_x?= there", "Hi Bcc: x there"),
    ("=?utf-8?b?PT91dGYtOD9iP0RRcENZMk02SUhoQVpYWnBiQT09Pz0=?=", "Bcc: x@evil"),  # nested
    ("Grüße\u0000 aus\tKöln", "Grüße aus Köln"),
    ("plain", "plain"),
])
def test_header_text_decodes_what_a_mail_client_would_and_drops_controls(typed, shown):
    assert header_text(typed) == shown
