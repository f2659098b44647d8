"""Integration API keys: shown once, stored only as a hash, and checked for scope and
address range with one lookup (the lookup is the seam a storage table plugs into)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.admin.apikeys import (
    ApiKey,
    ApiKeyRequest,
    address_allowed,
    check_key,
    client_address,
    new_key,
    split_key,
)
from shared.core.errors import Forbidden, Unauthorized

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Keys:
    def __init__(self, *infos: ApiKey) -> None:
        self.by_id = {i.id: i for i in infos}

    async def get(self, key_id: str) -> ApiKey | None:
        return self.by_id.get(key_id)


def created(scopes: list[str], cidrs: list[str] | None = None):
    return new_key(ApiKeyRequest(name=" osTicket ", scopes=scopes, cidrs=cidrs or []),
                   by="admin1", now=NOW)


def test_the_secret_is_shown_once_and_never_stored_or_listed():
    made = created(["tickets"])
    key_id, secret = split_key(made.key)  # type: ignore[misc]
    assert made.key.startswith("hd_") and key_id == made.info.id
    assert made.info.name == "osTicket"
    assert secret not in made.info.secret_sha256
    assert "secret_sha256" not in made.info.model_dump() and secret not in made.info.model_dump_json()
    assert created(["tickets"]).key != made.key


async def test_a_key_works_for_its_scope_only_and_not_once_revoked():
    made = created(["email"])
    keys = Keys(made.info)
    assert (await check_key(made.key, "email", "203.0.113.9", keys=keys)).id == made.info.id
    with pytest.raises(Forbidden):
        await check_key(made.key, "tickets", None, keys=keys)
    revoked = made.info.model_copy(update={"revoked": True})
    with pytest.raises(Unauthorized):
        await check_key(made.key, "email", None, keys=Keys(revoked))


@pytest.mark.parametrize("presented", [None, "", "hd_", "hd_abc", "hd_abc_", "xx_abc_def",
                                       "hd_a-b_secret"])
async def test_malformed_or_unknown_keys_are_401(presented: str | None):
    made = created(["tickets"])
    with pytest.raises(Unauthorized):
        await check_key(presented, "tickets", None, keys=Keys(made.info))


async def test_a_wrong_secret_for_a_real_id_is_401():
    made = created(["tickets"])
    with pytest.raises(Unauthorized):
        await check_key(made.key[:-2] + "zz", "tickets", None, keys=Keys(made.info))


def test_address_ranges_limit_where_a_key_works():
    info = created(["tickets"], ["10.0.0.0/8", " 2001:db8::/32 "]).info
    assert info.cidrs == ["10.0.0.0/8", "2001:db8::/32"]
    assert address_allowed(info, "10.1.2.3") and address_allowed(info, "2001:db8::1")
    assert not address_allowed(info, "192.0.2.1")
    assert not address_allowed(info, None) and not address_allowed(info, "not an ip")
    assert address_allowed(created(["tickets"]).info, None)  # no ranges: anywhere


def test_ranges_are_normalised_and_bad_ones_refused():
    assert created(["tickets"], ["10.1.2.3/8"]).info.cidrs == ["10.0.0.0/8"]
    with pytest.raises(ValidationError):
        ApiKeyRequest(name="x", scopes=["tickets"], cidrs=["10.0.0.0/33"])
    with pytest.raises(ValidationError):
        ApiKeyRequest(name="x", scopes=[])


@pytest.mark.parametrize("header,address", [
    (None, None),
    ("203.0.113.9", "203.0.113.9"),
    ("10.0.0.1, 203.0.113.9:51234", "203.0.113.9"),  # the platform's entry, port dropped
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("2001:db8::1", "2001:db8::1"),
])
def test_the_client_address_is_the_entry_the_front_end_added(header, address):
    assert client_address(header) == address
