"""OAuth2 tokens are cached until shortly before expiry, refreshed, dropped when the
server refuses them, and never shown."""

from __future__ import annotations

import pytest

from shared.channels import tokens


def test_a_token_is_reused_until_shortly_before_it_expires():
    now = [1000.0]
    issued: list[str] = []

    def fetch() -> tuple[str, float]:
        issued.append(f"t{len(issued)}")
        return issued[-1], now[0] + 3600

    cached = tokens.CachedToken(fetch, clock=lambda: now[0])
    assert cached.token() == "t0"
    now[0] += 3600 - tokens.REFRESH_BEFORE - 1
    assert cached.token() == "t0"
    now[0] += 1
    assert cached.token() == "t1"
    cached.invalidate()
    assert cached.token() == "t2"
    assert "t2" not in repr(cached)


def test_a_setting_token_is_read_each_time_and_missing_is_an_error():
    value: dict[str, str | None] = {"v": "abc"}
    provider = tokens.SettingToken(lambda: value["v"], "HELPDESK_MAILBOX_T")
    assert provider.token() == "abc"
    value["v"] = None
    with pytest.raises(tokens.TokenError, match="HELPDESK_MAILBOX_T is not set"):
        provider.token()


def test_a_bad_google_key_names_no_secret():
    with pytest.raises(tokens.TokenError) as caught:
        tokens.google('{"type": "service_account", "private_key": "SECRET"}', "a@example.com")
    assert "SECRET" not in str(caught.value)
