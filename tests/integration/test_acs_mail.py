"""Mail through Azure Communication Services Email: the SDK against a local stand-in for
the ACS REST API (TLS, as the SDK insists), checking what the help desk hands over."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.mail.acs import AcsMailer
from shared.mail.mailer import MailError


def self_signed(tmp: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1)).sign(key, hashes.SHA256()))
    (tmp / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "k.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    return context


@pytest.fixture
async def fake_acs(tmp_path: Path) -> AsyncIterator[tuple[str, list[dict], dict]]:
    received: list[dict] = []
    outcome = {"status": "Succeeded"}

    async def send(request: web.Request) -> web.Response:
        received.append(await request.json())
        assert request.headers["Authorization"].startswith("HMAC-SHA256")
        location = f"https://127.0.0.1:{request.url.port}/emails/operations/op1"
        return web.json_response({"id": "op1", "status": "Running"}, status=202,
                                 headers={"Operation-Location": location})

    async def operation(request: web.Request) -> web.Response:
        return web.json_response({"id": "op1", **outcome})

    app = web.Application()
    app.router.add_post("/emails:send", send)
    app.router.add_get("/emails/operations/op1", operation)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed(tmp_path))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    key = base64.b64encode(b"k" * 32).decode()
    yield f"endpoint=https://127.0.0.1:{port}/;accesskey={key}", received, outcome
    await runner.cleanup()


def message() -> EmailMessage:
    m = EmailMessage()
    m["To"] = "Ada <ada@example.org>"
    m["Subject"] = "Re: [#12345674] Printer"
    m["Message-ID"] = "<ticket-12345674.5.reply@example.com>"
    m["In-Reply-To"] = "<ticket-12345674.1.ack@example.com>"
    m["References"] = "<ticket-12345674.1.ack@example.com>"
    m.set_content("We ordered toner.")
    m.add_alternative("<p>We ordered toner.</p>", subtype="html")
    return m


async def test_a_message_goes_to_acs_with_its_threading_headers(fake_acs):
    conn, received, _ = fake_acs
    mailer = AcsMailer(conn, "desk@example.com", connection_verify=False, polling_interval=0.05)
    try:
        await mailer.send(message())
    finally:
        await mailer.close()
    [sent] = received
    assert sent["senderAddress"] == "desk@example.com"
    assert sent["recipients"]["to"] == [{"address": "ada@example.org", "displayName": "Ada"}]
    assert sent["content"]["subject"] == "Re: [#12345674] Printer"
    assert sent["content"]["plainText"].strip() == "We ordered toner."
    assert sent["content"]["html"].strip() == "<p>We ordered toner.</p>"
    assert sent["headers"]["In-Reply-To"] == "<ticket-12345674.1.ack@example.com>"
    assert sent["headers"]["X-Helpdesk-Message-ID"] == "<ticket-12345674.5.reply@example.com>"


async def test_a_failed_send_is_an_error_the_queue_retries(fake_acs):
    conn, _, outcome = fake_acs
    outcome.update(status="Failed", error={"code": "Denied", "message": "no"})
    mailer = AcsMailer(conn, "desk@example.com", connection_verify=False, polling_interval=0.05)
    try:
        with pytest.raises(MailError):
            await mailer.send(message())
    finally:
        await mailer.close()
