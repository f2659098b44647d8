"""Whether a message's From address is authenticated: may it speak for its requester?

A From address is whatever the sender typed. A message may join an existing ticket by
its subject token, or by naming a message we received before, only when its From
domain is authenticated in the DMARC sense: DMARC passed, or a DKIM signature or the
SPF check passed for a domain aligned with the From domain (the same organisational
domain; the same domain exactly where the domain's DMARC policy says `adkim=s` or
`aspf=s`). Our own signed Message-IDs (shared/mail/messageids.py) are proof of a
different kind and do not need this.

How it is decided, per mailbox (or, for the pipe and the HTTP endpoint, per desk):
- `authentication-results`: the receiving server's `Authentication-Results` header
  (RFC 8601), the topmost one whose authserv-id is the configured one (Google writes
  `mx.google.com`). A header with any other id is ignored: anyone can write one, and
  only the receiving server removes copies of its own from incoming mail. Exchange
  Online writes its header without an authserv-id; the configured id `microsoft-365`
  reads the topmost `Authentication-Results` header, the one Exchange Online added last.
- `dkim`: the desk verifies the message's DKIM signatures itself (dkimpy; keys and
  DMARC policies from DNS, cached by shared/mail/dns.py). SPF cannot be checked here,
  since the connecting server's address is not known to the desk.
- `off`: the From address is believed (a server that adds nothing trustworthy).
Parsing uses `authres` (the RFC 8601 parser of dkimpy's authors); organisational domains
come from the Public Suffix List (`publicsuffixlist`, which ships the list).
"""

from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import authres
import dkim
from publicsuffixlist import PublicSuffixList

from shared.mail.dns import TxtLookup

log = logging.getLogger(__name__)

Mode = Literal["authentication-results", "dkim", "off"]
MICROSOFT_365 = "microsoft-365"
# A message with more signatures than this is not worth the work: the first few decide.
MAX_SIGNATURES = 5


@dataclass(frozen=True)
class SenderCheck:
    mode: Mode = "dkim"
    authserv_id: str | None = None


@dataclass(frozen=True)
class Verdict:
    """`verified`: the From domain is authenticated (or the check is off: `checked`
    False). `how`: in words, for the agent and the log."""

    verified: bool
    how: str
    checked: bool = True


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def organisational_domain(domain: str) -> str:
    domain = domain.strip(".").lower()
    return _suffixes().privatesuffix(domain) or domain


def aligned(domain: str, from_domain: str, *, strict: bool = False) -> bool:
    domain, from_domain = domain.strip(".").lower(), from_domain.strip(".").lower()
    if not domain or not from_domain:
        return False
    if strict:
        return domain == from_domain
    return organisational_domain(domain) == organisational_domain(from_domain)


def _domain_of(value: str) -> str:
    return value.rpartition("@")[2].strip().strip(">").lower()


# --- the receiving server's Authentication-Results ---------------------------------------


def _results_header(headers: list[str], authserv_id: str
                    ) -> authres.AuthenticationResultsHeader | None:
    """The header to believe: the topmost with the configured authserv-id. If that one
    cannot be read, none is believed (never one further down, which anyone could have
    written)."""
    for value in headers:
        text = " ".join(value.split())
        if authserv_id == MICROSOFT_365:
            # Exchange Online's header has no authserv-id; it is the topmost one.
            text = f"{MICROSOFT_365}; {text}"
        elif text.split(";", 1)[0].split(" ", 1)[0].lower() != authserv_id.lower():
            continue
        try:
            return authres.AuthenticationResultsHeader.parse_value(text)
        except authres.AuthResError as exc:
            log.info("Authentication-Results from %s unreadable: %s", authserv_id, exc)
            return None
    return None


def _property(result: authres.AuthenticationResult, ptype: str, name: str) -> str:
    for prop in result.properties:
        if prop.type == ptype and prop.name == name:
            return str(prop.value or "")
    return ""


def from_results(headers: list[str], from_domain: str, authserv_id: str) -> Verdict:
    """The verdict of the trusted `Authentication-Results` header among `headers`
    (topmost first) on `from_domain`."""
    parsed = _results_header(headers, authserv_id)
    if parsed is None:
        return Verdict(False, f"no Authentication-Results from {authserv_id}")
    # DMARC's own verdict first: it is the one the domain's owner asked for.
    ordered = sorted(parsed.results, key=lambda r: str(r.method).lower() != "dmarc")
    for result in ordered:
        method, outcome = str(result.method).lower(), str(result.result).lower()
        if outcome != "pass":
            continue
        if method == "dmarc":
            if _property(result, "header", "from").lower() == from_domain:
                return Verdict(True, f"DMARC pass ({authserv_id})")
        elif method == "dkim":
            signer = (_property(result, "header", "d")
                      or _domain_of(_property(result, "header", "i")))
            if aligned(signer, from_domain):
                return Verdict(True, f"DKIM pass for {signer} ({authserv_id})")
        elif method == "spf":
            envelope = _domain_of(_property(result, "smtp", "mailfrom")
                                  or _property(result, "smtp", "helo"))
            if aligned(envelope, from_domain):
                return Verdict(True, f"SPF pass for {envelope} ({authserv_id})")
    return Verdict(False, f"no aligned pass in Authentication-Results from {authserv_id}")


# --- DKIM, verified here ------------------------------------------------------------------


def _dmarc_strict(from_domain: str, lookup: TxtLookup) -> bool:
    """Whether the From domain's DMARC policy asks for strict DKIM alignment."""
    for domain in dict.fromkeys((from_domain, organisational_domain(from_domain))):
        for record in lookup.records(f"_dmarc.{domain}"):
            text = record.decode("ascii", "replace")
            if not text.lower().startswith("v=dmarc1"):
                continue
            tags = dict(part.strip().split("=", 1) for part in text.split(";")
                        if "=" in part)
            return tags.get("adkim", "r").strip().lower() == "s"
    return False


def verify_dkim(raw: bytes, from_domain: str, lookup: TxtLookup) -> Verdict:
    """Whether a DKIM signature on `raw` verifies for a domain aligned with `from_domain`.
    Signatures with a body length (`l=`) are not counted: text can be added below what
    such a signature covers."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if len(message.get_all("From", [])) != 1:
        return Verdict(False, "not exactly one From header")
    signatures = len(message.get_all("DKIM-Signature", []))
    if not signatures:
        return Verdict(False, "no DKIM signature")
    verifier = dkim.DKIM(raw, minkey=1024)
    strict = _dmarc_strict(from_domain, lookup)
    seen: list[str] = []
    for index in range(min(signatures, MAX_SIGNATURES)):
        try:
            ok = verifier.verify(idx=index, dnsfunc=lookup)
        except dkim.DKIMException as exc:
            log.info("DKIM signature %d did not verify: %s", index, exc)
            ok = False
        signer = (verifier.domain or b"").decode("ascii", "replace").lower()
        if ok and b"l" in verifier.signature_fields:
            ok = False
        if ok and aligned(signer, from_domain, strict=strict):
            return Verdict(True, f"DKIM signature of {signer}")
        seen.append(f"{signer or '?'} {'not aligned' if ok else 'failed'}")
    return Verdict(False, "DKIM: " + ", ".join(seen))


def check_sender(raw: bytes, from_address: str, check: SenderCheck, lookup: TxtLookup
                 ) -> Verdict:
    """The verdict on the From address of the message `raw`, as `check` decides it."""
    from_domain = _domain_of(from_address)
    if check.mode == "off":
        return Verdict(True, "sender check off", checked=False)
    if check.mode == "authentication-results":
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        headers = [str(v) for v in message.get_all("Authentication-Results", [])]
        return from_results(headers, from_domain, check.authserv_id or "")
    return verify_dkim(raw, from_domain, lookup)
