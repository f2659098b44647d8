"""Which requests the HTTP layer audits, decided from the route and its role."""

from __future__ import annotations

from functions.auditing import operation, wanted


def test_routes_are_found_by_their_most_literal_template():
    assert operation("POST", "/api/tickets/12345674/merge").path == "/api/tickets/{number}/merge"
    assert operation("POST", "/api/tickets/12345674/assign").path == \
        "/api/tickets/{number}/{action}"
    assert operation("PUT", "/api/directory/teams/x").path == "/api/directory/{kind}/{id}"
    assert operation("PUT", "/api/nothing/here") is None


def test_admin_and_supervisor_writes_file_downloads_and_nothing_else_are_audited():
    assert wanted("PUT", "/api/directory/teams/x", "admin")
    assert wanted("DELETE", "/api/apikeys/abc", "admin")
    assert wanted("POST", "/api/poison/ticket-events/replay", "admin")
    assert wanted("POST", "/api/anything/new", "supervisor")  # by the role asked for
    assert wanted("GET", "/api/tickets/12345674/attachments/abc", "agent")
    assert not wanted("GET", "/api/apikeys", "admin")
    assert not wanted("GET", "/api/directory/mailboxes", "admin")
    assert not wanted("POST", "/api/tickets/12345674/note", "agent")
    assert not wanted("GET", "/api/tickets/12345674", "agent")
