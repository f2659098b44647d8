"""Outgoing headers are encoded by the desk, not by the standard library's header parser:
a subject already stored with an encoded word hiding CR/LF (typed before intake cleaned
subjects, or by an agent) injects nothing into a real SMTP delivery on this machine's
Python (3.11.7, before the stdlib fix of CVE-2024-6923)."""

from __future__ import annotations

import base64

import pytest

from shared.core.settings import MailSettings
from shared.mail.compose import compose
from shared.mail.smtp import SmtpMailer
from tests.conftest import LocalServices, unique_email
from tests.support import MailDev

EVIL = "=?utf-8?b?" + base64.b64encode(b"\r\nBcc: victim@example.net\r\n\r\nbody").decode() + "?="


@pytest.mark.parametrize("subject", [EVIL, f"Re: [#12345674] {EVIL}", f"Grüße {EVIL}",
                                     "plain ASCII subject", "Grüße aus Köln"])
async def test_a_subject_reaches_the_recipient_as_text_and_nothing_more(
        test_services: LocalServices, maildev: MailDev, subject: str):
    settings = MailSettings(port=test_services.smtp_port)
    to = unique_email("hdr")
    mailer = SmtpMailer(settings)
    try:
        await mailer.send(compose(settings=settings, to=to, subject=subject, text="t",
                                  html="<p>t</p>", message_id=f"<{to}@example.com>"))
    finally:
        await mailer.close()
    [mail] = maildev.wait_to(to)
    assert mail["subject"] == subject  # as typed, decoded once by the recipient
    head = maildev.raw(mail["id"]).replace(b"\r\n", b"\n").partition(b"\n\n")[0]
    assert not any(line.lower().startswith(b"bcc") for line in head.split(b"\n"))
    assert b"Content-Type: multipart/alternative" in head
    assert maildev.to("victim@example.net") == []
