"""App Service Authentication emulation: principal encoding, header stripping, redirects,
and the sign-in flow against the running sample host."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from multidict import CIMultiDict

from devhost.easyauth import (
    COOKIE_NAME,
    EMAIL,
    NAME_IDENTIFIER,
    ROLE,
    SessionStore,
    encode_principal,
    forwarded_headers,
    is_local_redirect,
    make_principal,
)
from tests.devhost.conftest import RunningHost


def decode(value: str) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(value)))


def roles_of(document: dict[str, Any]) -> list[str]:
    return [c["val"] for c in document["claims"] if c["typ"] == document["role_typ"]]


# --- unit ------------------------------------------------------------------------


def test_principal_encodes_app_service_shape() -> None:
    principal = make_principal("u-1", "ann@example.com", "agent, admin ,agent,")
    document = decode(encode_principal(principal))
    assert document["auth_typ"] == "dev"
    assert document["name_typ"] == EMAIL
    assert document["role_typ"] == ROLE
    claims = {(c["typ"], c["val"]) for c in document["claims"]}
    assert (NAME_IDENTIFIER, "u-1") in claims
    assert (EMAIL, "ann@example.com") in claims
    assert ("name", "ann@example.com") in claims
    assert roles_of(document) == ["agent", "admin", "authenticated"]


def test_user_id_defaults_to_a_stable_value_from_the_email() -> None:
    a = make_principal("", "Ann@Example.com", "")
    b = make_principal(" ", "ann@example.com", "")
    assert a.user_id == b.user_id and a.user_id
    assert a.roles == ("authenticated",)


def test_email_is_required() -> None:
    with pytest.raises(ValueError):
        make_principal("u", "  ", "agent")


def test_client_principal_headers_are_stripped_case_insensitively() -> None:
    client = CIMultiDict(
        [
            ("X-MS-CLIENT-PRINCIPAL", "forged"),
            ("x-ms-client-principal-id", "evil"),
            ("X-Ms-Client-Principal-Name", "evil@example.com"),
            ("X-MS-CLIENT-PRINCIPAL-ROLES", "admin"),
            ("Accept", "text/html"),
        ]
    )
    assert dict(forwarded_headers(client, None)) == {"Accept": "text/html"}

    principal = make_principal("u-2", "bob@example.com", "supervisor")
    headers = forwarded_headers(client, principal)
    assert headers.getall("x-ms-client-principal") == [encode_principal(principal)]
    assert headers["x-ms-client-principal-id"] == "u-2"
    assert headers["x-ms-client-principal-name"] == "bob@example.com"
    assert headers["x-ms-client-principal-idp"] == "dev"
    assert "x-ms-client-principal-roles" not in headers


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("/", True),
        ("/agent/queue?x=1", True),
        ("//evil.example/", False),
        ("/\\evil.example", False),
        ("https://evil.example/", False),
        ("evil", False),
        ("", False),
        ("/a\r\nSet-Cookie: x", False),
    ],
)
def test_only_local_paths_are_redirect_targets(uri: str, local: bool) -> None:
    assert is_local_redirect(uri) is local


def test_sessions_end_and_expire() -> None:
    store = SessionStore(lifetime=60)
    sid, _ = store.create(make_principal("u", "u@example.com", ""))
    assert store.get(sid) is not None
    store.end(sid)
    assert store.get(sid) is None
    expired = SessionStore(lifetime=-1)
    sid, _ = expired.create(make_principal("u", "u@example.com", ""))
    assert expired.get(sid) is None


# --- over HTTP ---------------------------------------------------------------------


def test_sign_in_flow(sample_host: RunningHost) -> None:
    with httpx.Client(base_url=sample_host.base_url, timeout=30, follow_redirects=False) as c:
        assert c.get("/.auth/me").json() == []

        form = c.get("/.auth/login/dev", params={"post_login_redirect_uri": "/api/whoami"})
        assert form.status_code == 200
        assert form.headers["content-type"].startswith("text/html")
        for field in ("userId", "userDetails", "userRoles"):
            assert f'name="{field}"' in form.text
        assert 'name="post_login_redirect_uri" value="/api/whoami"' in form.text

        r = c.post(
            "/.auth/login/dev",
            data={
                "userId": "agent-7",
                "userDetails": "ann@example.com",
                "userRoles": "agent,admin",
                "post_login_redirect_uri": "/api/whoami",
            },
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/api/whoami"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        session_value = c.cookies[COOKIE_NAME]

        me = c.get("/.auth/me").json()
        assert len(me) == 1
        assert me[0]["provider_name"] == "dev"
        assert me[0]["user_id"] == "agent-7"
        me_roles = [cl["val"] for cl in me[0]["user_claims"] if cl["typ"] == ROLE]
        assert me_roles == ["agent", "admin", "authenticated"]

        # A client-sent principal is replaced by the session's.
        seen = c.get(
            "/api/whoami",
            headers={"X-MS-CLIENT-PRINCIPAL": "forged", "X-MS-CLIENT-PRINCIPAL-ID": "evil"},
        ).json()
        assert seen["id"] == "agent-7"
        assert seen["name"] == "ann@example.com"
        assert seen["idp"] == "dev"
        assert roles_of(seen["principal"]) == ["agent", "admin", "authenticated"]

        out = c.get("/.auth/logout", params={"post_logout_redirect_uri": "/api/form"})
        assert out.status_code == 302
        assert out.headers["location"] == "/api/form"

    # The old cookie no longer names a session.
    with httpx.Client(base_url=sample_host.base_url, timeout=30) as c:
        c.cookies.set(COOKIE_NAME, session_value)
        assert c.get("/.auth/me").json() == []
        assert c.get("/api/whoami").json()["principal"] is None


def test_forged_principal_without_session_is_stripped(sample_host: RunningHost) -> None:
    forged = base64.b64encode(json.dumps({"claims": [{"typ": ROLE, "val": "admin"}]}).encode())
    seen = httpx.get(
        f"{sample_host.base_url}/api/whoami",
        headers={"X-MS-CLIENT-PRINCIPAL": forged.decode(), "X-MS-CLIENT-PRINCIPAL-ID": "evil"},
        timeout=30,
    ).json()
    assert seen == {"principal": None, "id": None, "name": None, "idp": None}


def test_sign_in_refuses_off_site_redirects_and_missing_email(sample_host: RunningHost) -> None:
    with httpx.Client(base_url=sample_host.base_url, timeout=30, follow_redirects=False) as c:
        r = c.post(
            "/.auth/login/dev",
            data={"userDetails": "x@example.com", "post_login_redirect_uri": "//evil.example/"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/"
        r = c.post("/.auth/login/dev", data={"userDetails": ""})
        assert r.status_code == 400
        assert c.get("/.auth/login/github").status_code == 404
