import base64
import json

import pytest

from shared.core.auth import ROLE_CLAIM, parse_principal, require
from shared.core.errors import Forbidden, Unauthorized


def header(claims, **extra):
    data = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": ROLE_CLAIM}
    data.update(extra)
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_roles_and_name_come_from_the_claims():
    p = parse_principal(header([
        {"typ": "name", "val": "ada@example.com"},
        {"typ": ROLE_CLAIM, "val": "agent"},
        {"typ": ROLE_CLAIM, "val": "admin"},
    ]), user_id="u1")
    assert p is not None
    assert p.user_id == "u1" and p.name == "ada@example.com"
    assert p.roles == {"agent", "admin"}


@pytest.mark.parametrize("value", [None, "", "not base64 !!", base64.b64encode(b"[1,2]").decode(),
                                   base64.b64encode(b"{broken").decode(), header([])])
def test_missing_or_unreadable_principal_is_none(value):
    assert parse_principal(value) is None


def test_require_answers_401_then_403():
    with pytest.raises(Unauthorized):
        require(None, "agent", sign_in_enabled=True)
    requester = parse_principal(header([{"typ": "name", "val": "x@example.com"}]))
    with pytest.raises(Forbidden):
        require(requester, "agent", sign_in_enabled=True)


def test_without_app_service_authentication_no_principal_is_believed():
    admin = parse_principal(header([{"typ": "name", "val": "a@example.com"},
                                    {"typ": ROLE_CLAIM, "val": "admin"}]))
    with pytest.raises(Unauthorized, match="not configured"):
        require(admin, "agent", sign_in_enabled=False)


def test_the_email_comes_from_an_address_claim_not_a_display_name():
    entra = parse_principal(header([
        {"typ": "name", "val": "Ada Lovelace"},
        {"typ": "preferred_username", "val": "ada@contoso.example"}]))
    assert entra is not None and entra.email == "ada@contoso.example"
    assert entra.display_name == "Ada Lovelace"
    nameless = parse_principal(header([{"typ": "name", "val": "Ada Lovelace"}]))
    assert nameless is not None and nameless.email is None
    local = parse_principal(header([{"typ": "name", "val": "dev@example.com"}]))
    assert local is not None and local.email == "dev@example.com" and local.display_name is None


def test_roles_are_cumulative():
    supervisor = parse_principal(header([{"typ": "name", "val": "s@example.com"},
                                         {"typ": ROLE_CLAIM, "val": "supervisor"}]))
    assert require(supervisor, "agent", sign_in_enabled=True) is supervisor
    with pytest.raises(Forbidden):
        require(supervisor, "admin", sign_in_enabled=True)
