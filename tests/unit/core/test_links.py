"""The portal's signed tokens: they name one ticket and address, expire, and any change to
any part, or another secret, makes them worthless; an emailed code, a session and a link
emailed before codes are each signed for their own use and cannot stand in for another."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from shared.core.links import (
    BadLink,
    form_token,
    link_for,
    make_code,
    make_session,
    make_token,
    read_code,
    read_session,
    read_token,
    session_for,
)
from shared.core.settings import Settings, SettingsError

SECRET = "unit-test-portal-secret"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NUMBER = "12345671"


def token(**kw) -> str:
    return make_token(kw.get("number", NUMBER), kw.get("email", "Ada@Example.org "),
                      secret=kw.get("secret", SECRET),
                      expires=kw.get("expires", NOW + timedelta(days=30)))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_round_trip_names_the_ticket_and_the_lowercased_address():
    grant = read_token(token(), secret=SECRET, now=NOW)
    assert (grant.number, grant.email) == (NUMBER, "ada@example.org")
    assert grant.expires == int((NOW + timedelta(days=30)).timestamp())
    # Good until the last second, not after.
    read_token(token(), secret=SECRET, now=NOW + timedelta(days=30, seconds=-1))


def test_an_expired_link_is_refused_as_expired():
    with pytest.raises(BadLink) as info:
        read_token(token(), secret=SECRET, now=NOW + timedelta(days=30))
    assert info.value.expired


@pytest.mark.parametrize("part", ["number", "expiry", "email", "version"])
def test_changing_any_part_of_the_payload_breaks_the_signature(part):
    payload_text, mac = token().split(".")
    version, number, expires, email = unb64(payload_text).decode().split("|", 3)
    changed = {"number": (version, "87654323", expires, email),
               "expiry": (version, number, str(int(expires) + 86400 * 365), email),
               "email": (version, number, expires, "eve@example.org"),
               "version": ("v2", number, expires, email)}[part]
    forged = b64("|".join(changed).encode()) + "." + mac
    with pytest.raises(BadLink) as info:
        read_token(forged, secret=SECRET, now=NOW)
    assert not info.value.expired


def test_a_changed_signature_or_a_mangled_token_is_refused():
    payload, mac = token().split(".")
    flipped = b64(bytes([unb64(mac)[0] ^ 1]) + unb64(mac)[1:])
    for bad in (f"{payload}.{flipped}", payload, f"{payload}.", "", "a.b.c", "%%%.***",
                f"{payload}.{mac}x"):
        with pytest.raises(BadLink):
            read_token(bad, secret=SECRET, now=NOW)


def test_a_link_signed_with_another_secret_is_refused():
    with pytest.raises(BadLink):
        read_token(token(secret="some-other-secret-entirely"), secret=SECRET, now=NOW)


def test_the_form_field_depends_on_the_token_and_the_secret():
    a, b = token(), token(number="87654323")
    assert form_token(a, secret=SECRET) == form_token(a, secret=SECRET)
    assert form_token(a, secret=SECRET) != form_token(b, secret=SECRET)
    assert form_token(a, secret=SECRET) != form_token(a, secret="some-other-secret-entirely")


def test_links_in_emails_use_the_public_url_and_the_configured_lifetime():
    settings = Settings.model_validate({
        "storage": {"connection_string": "UseDevelopmentStorage=true"},
        "public_base_url": "https://help.example.com/", "portal_secret": SECRET,
        "portal_link_days": 7})
    link = link_for(NUMBER, "ada@example.org", settings=settings, now=NOW)
    assert link.startswith("https://help.example.com/api/portal/t/")
    grant = read_code(link.rsplit("/", 1)[1], secret=SECRET, now=NOW)
    assert grant.expires == int((NOW + timedelta(days=7)).timestamp())
    # Each email's link is a code of its own, spent on its own.
    again = read_code(link_for(NUMBER, "ada@example.org", settings=settings, now=NOW)
                      .rsplit("/", 1)[1], secret=SECRET, now=NOW)
    assert again.code_id != grant.code_id and grant.code_id.startswith("c-")
    session, max_age = session_for(grant, settings=settings, now=NOW)
    assert max_age == 7 * 86400
    assert read_session(session, secret=SECRET, now=NOW).number == NUMBER
    with pytest.raises(SettingsError, match="HELPDESK_PORTAL_SECRET"):
        link_for(NUMBER, "a@b.c", settings=settings.model_copy(update={"portal_secret": None}),
                 now=NOW)


def expires(days: float = 7) -> datetime:
    return NOW + timedelta(days=days)


def test_a_code_a_session_and_an_old_link_are_not_interchangeable():
    code = make_code(NUMBER, "ada@example.org", secret=SECRET, expires=expires())
    session = make_session(NUMBER, "ada@example.org", secret=SECRET, expires=expires())
    old = make_token(NUMBER, "ada@example.org", secret=SECRET, expires=expires())
    assert read_code(code, secret=SECRET, now=NOW).number == NUMBER
    assert read_code(old, secret=SECRET, now=NOW).code_id.startswith("v-")  # spent like a code
    assert read_session(session, secret=SECRET, now=NOW).code_id == ""
    for not_a_session in (code, old):
        with pytest.raises(BadLink):
            read_session(not_a_session, secret=SECRET, now=NOW)
    with pytest.raises(BadLink):
        read_code(session, secret=SECRET, now=NOW)


def test_an_expired_code_still_says_which_ticket_it_named():
    """So that "email me a new link" knows where to send it; it opens nothing itself."""
    code = make_code(NUMBER, "Ada@Example.org", secret=SECRET, expires=expires())
    with pytest.raises(BadLink) as info:
        read_code(code, secret=SECRET, now=NOW + timedelta(days=7))
    assert info.value.expired and info.value.grant is not None
    assert (info.value.grant.number, info.value.grant.email) == (NUMBER, "ada@example.org")


def test_a_code_with_any_part_changed_is_refused():
    code = make_code(NUMBER, "ada@example.org", secret=SECRET, expires=expires(), nonce="n1")
    payload_text, mac = code.split(".")
    fields = unb64(payload_text).decode().split("|")
    for index, value in ((1, "87654323"), (2, str(int(fields[2]) + 86400)),
                         (3, "eve@example.org"), (4, "n2")):
        changed = list(fields)
        changed[index] = value
        with pytest.raises(BadLink) as info:
            read_code(b64("|".join(changed).encode()) + "." + mac, secret=SECRET, now=NOW)
        assert not info.value.expired


def test_a_stop_copying_link_names_its_ticket_and_address_and_nothing_else():
    from datetime import UTC, datetime, timedelta

    from shared.core.links import BadLink, make_code, make_session, make_stop, read_stop

    now = datetime(2026, 1, 1, tzinfo=UTC)
    token = make_stop(NUMBER, "Col@Example.org", secret="s" * 32,
                      expires=now + timedelta(days=365))
    grant = read_stop(token, secret="s" * 32, now=now)
    assert (grant.number, grant.email) == (NUMBER, "col@example.org")
    for other in (make_code(NUMBER, "col@example.org", secret="s" * 32,
                            expires=now + timedelta(days=1)),
                  make_session(NUMBER, "col@example.org", secret="s" * 32,
                               expires=now + timedelta(days=1))):
        with pytest.raises(BadLink):  # neither a portal code nor a session stops anyone
            read_stop(other, secret="s" * 32, now=now)
    with pytest.raises(BadLink):
        read_stop(token, secret="another" * 5, now=now)
    with pytest.raises(BadLink) as expired:
        read_stop(token, secret="s" * 32, now=now + timedelta(days=366))
    assert expired.value.expired
