"""Who sent a message: DKIM verified here against keys made in the test and served by a
real DNS server on loopback, and the receiving server's Authentication-Results header."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.mail.dns import TxtLookup
from shared.mail.inbound.senders import (
    MICROSOFT_365,
    SenderCheck,
    aligned,
    check_sender,
    organisational_domain,
)
from tests.support import DkimKey, LocalDns, email_message

DKIM = SenderCheck("dkim")


@pytest.fixture(scope="module")
def local_dns() -> Iterator[LocalDns]:
    server = LocalDns()
    yield server
    server.close()


@pytest.fixture(scope="module")
def lookup(local_dns: LocalDns) -> TxtLookup:
    return TxtLookup(local_dns.server, timeout=2)


@pytest.fixture(scope="module")
def signer(local_dns: LocalDns) -> DkimKey:
    return DkimKey.publish(local_dns, "customer.example.org")


def reply(sender: str = "ana@customer.example.org", text: str = "Thanks, that fixed it.",
          **headers: str) -> bytes:
    return email_message(sender, "Re: [#20261204-0001] VPN", text, **headers).as_bytes()


def test_a_signature_of_the_from_domain_verifies(signer: DkimKey, lookup: TxtLookup) -> None:
    verdict = check_sender(signer.sign(reply()), "ana@customer.example.org", DKIM, lookup)
    assert verdict.verified, verdict.how
    assert "customer.example.org" in verdict.how


def test_a_message_changed_after_signing_does_not(signer: DkimKey, lookup: TxtLookup) -> None:
    signed = signer.sign(reply())
    tampered = signed.replace(b"Thanks, that fixed it.", b"Please reopen and wire money.")
    verdict = check_sender(tampered, "ana@customer.example.org", DKIM, lookup)
    assert not verdict.verified
    assert "failed" in verdict.how


def test_a_valid_signature_of_another_domain_is_not_aligned(local_dns: LocalDns,
                                                             lookup: TxtLookup) -> None:
    # The attacker signs with a domain of their own and writes the requester's address in From.
    theirs = DkimKey.publish(local_dns, "attacker.example.net")
    verdict = check_sender(theirs.sign(reply()), "ana@customer.example.org", DKIM, lookup)
    assert not verdict.verified
    assert "not aligned" in verdict.how


def test_a_subdomain_signature_aligns_relaxed_but_not_where_dmarc_asks_strict(
        local_dns: LocalDns, lookup: TxtLookup) -> None:
    relaxed = DkimKey.publish(local_dns, "relaxed.example.com", dmarc=None)
    sub = DkimKey.publish(local_dns, "mail.relaxed.example.com")
    assert check_sender(sub.sign(reply("bo@relaxed.example.com")), "bo@relaxed.example.com",
                        DKIM, lookup).verified
    assert relaxed.domain  # the From domain's own key is not needed for a subdomain's
    DkimKey.publish(local_dns, "strict.example.com", dmarc="v=DMARC1; p=reject; adkim=s")
    strict_sub = DkimKey.publish(local_dns, "mail.strict.example.com")
    verdict = check_sender(strict_sub.sign(reply("bo@strict.example.com")),
                           "bo@strict.example.com", DKIM, lookup)
    assert not verdict.verified


def test_no_signature_is_not_verified(lookup: TxtLookup) -> None:
    verdict = check_sender(reply(), "ana@customer.example.org", DKIM, lookup)
    assert not verdict.verified
    assert verdict.how == "no DKIM signature"


def test_a_second_from_header_is_not_verified(signer: DkimKey, lookup: TxtLookup) -> None:
    signed = signer.sign(reply())
    doubled = b"From: Boss <boss@customer.example.org>\r\n" + signed
    assert not check_sender(doubled, "boss@customer.example.org", DKIM, lookup).verified


def test_a_body_length_signature_does_not_count(signer: DkimKey, lookup: TxtLookup) -> None:
    import dkim

    raw = reply()
    header = dkim.sign(raw, signer.selector.encode(), signer.domain.encode(),
                       signer.private_pem, length=True)
    verdict = check_sender(header + raw, "ana@customer.example.org", DKIM, lookup)
    assert not verdict.verified


def test_keys_are_looked_up_once_per_ttl(local_dns: LocalDns) -> None:
    key = DkimKey.publish(local_dns, "cached.example.org")
    lookup = TxtLookup(local_dns.server, timeout=2)
    for text in ("one", "two", "three"):
        raw = key.sign(reply("cy@cached.example.org", text))
        assert check_sender(raw, "cy@cached.example.org", DKIM, lookup).verified
    assert local_dns.asked["s1._domainkey.cached.example.org"] == 1


def test_an_unreachable_dns_server_leaves_the_sender_unverified(signer: DkimKey) -> None:
    lookup = TxtLookup("127.0.0.1:9", timeout=0.5)  # the discard port: nobody answers
    verdict = check_sender(signer.sign(reply()), "ana@customer.example.org", DKIM, lookup)
    assert not verdict.verified


# --- the receiving server's Authentication-Results ---------------------------------------

GOOGLE = SenderCheck("authentication-results", "mx.google.com")


def with_results(*values: str) -> bytes:
    raw = reply()
    return b"".join(f"Authentication-Results: {v}\r\n".encode() for v in values) + raw


def test_dmarc_pass_from_the_trusted_server_verifies(lookup: TxtLookup) -> None:
    raw = with_results("mx.google.com; dkim=pass header.i=@customer.example.org header.s=s1;"
                       " spf=pass (google.com: domain of ana@customer.example.org designates"
                       " 192.0.2.1 as permitted sender) smtp.mailfrom=ana@customer.example.org;"
                       " dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=customer.example.org")
    verdict = check_sender(raw, "ana@customer.example.org", GOOGLE, lookup)
    assert verdict.verified and "mx.google.com" in verdict.how


def test_results_from_an_untrusted_authserv_id_are_ignored(lookup: TxtLookup) -> None:
    raw = with_results("mx.attacker.example.net; dmarc=pass header.from=customer.example.org")
    verdict = check_sender(raw, "ana@customer.example.org", GOOGLE, lookup)
    assert not verdict.verified
    assert "no Authentication-Results from mx.google.com" in verdict.how


def test_only_the_topmost_trusted_header_counts(lookup: TxtLookup) -> None:
    # The sender wrote a passing header with the server's id; the server added its own on top.
    raw = with_results("mx.google.com; dkim=none; spf=softfail smtp.mailfrom=x@attacker.example.net;"
                       " dmarc=fail (p=NONE) header.from=customer.example.org",
                       "mx.google.com; dmarc=pass header.from=customer.example.org")
    assert not check_sender(raw, "ana@customer.example.org", GOOGLE, lookup).verified


def test_dmarc_pass_for_another_from_domain_does_not_count(lookup: TxtLookup) -> None:
    raw = with_results("mx.google.com; dmarc=pass header.from=attacker.example.net")
    assert not check_sender(raw, "ana@customer.example.org", GOOGLE, lookup).verified


def test_an_aligned_spf_pass_verifies_a_misaligned_one_does_not(lookup: TxtLookup) -> None:
    good = with_results("mx.google.com; spf=pass smtp.mailfrom=bounce@mail.customer.example.org")
    bad = with_results("mx.google.com; spf=pass smtp.mailfrom=bounce@bulk.example.net")
    assert check_sender(good, "ana@customer.example.org", GOOGLE, lookup).verified
    assert not check_sender(bad, "ana@customer.example.org", GOOGLE, lookup).verified


def test_exchange_online_writes_no_authserv_id(lookup: TxtLookup) -> None:
    microsoft = SenderCheck("authentication-results", MICROSOFT_365)
    passing = with_results(
        "spf=pass (sender IP is 192.0.2.7) smtp.mailfrom=customer.example.org; dkim=pass"
        " (signature was verified) header.d=customer.example.org;dmarc=pass action=none"
        " header.from=customer.example.org;compauth=pass reason=100")
    failing = with_results(
        "spf=fail (sender IP is 198.51.100.9) smtp.mailfrom=attacker.example.net; dkim=none"
        " (message not signed) header.d=none;dmarc=fail action=oreject"
        " header.from=customer.example.org;compauth=fail reason=000",
        "mx.google.com; dmarc=pass header.from=customer.example.org")
    assert check_sender(passing, "ana@customer.example.org", microsoft, lookup).verified
    assert not check_sender(failing, "ana@customer.example.org", microsoft, lookup).verified


def test_off_believes_the_from_address(lookup: TxtLookup) -> None:
    verdict = check_sender(reply(), "ana@customer.example.org", SenderCheck("off"), lookup)
    assert verdict.verified and not verdict.checked


@pytest.mark.parametrize(("domain", "other", "expected"), [
    ("mail.example.co.uk", "example.co.uk", True),
    ("example.co.uk", "other.co.uk", False),
    ("a.customer.example.org", "b.customer.example.org", True),
])
def test_alignment_uses_the_public_suffix_list(domain: str, other: str, expected: bool) -> None:
    assert aligned(domain, other) is expected
    assert organisational_domain("x.y.example.co.uk") == "example.co.uk"
