"""The audit log's pure parts: what a summary may say, the filters, the continuation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.core.audit import (
    Actor,
    AuditEntry,
    changed_fields,
    csv_row,
    decode_continuation,
    encode_continuation,
    field_names,
    parse_query,
)
from shared.core.csvcells import safe_cell
from shared.core.errors import BadRequest, ValidationFailed


def test_a_summary_names_fields_never_values():
    before = {"id": "t", "name": "Old", "password_setting": "A", "tier": 1}
    after = {"id": "t", "name": "New", "password_setting": "B", "tier": 1}
    assert changed_fields(before, after, {"name": "New"}) == "changed: name, password_setting"
    assert changed_fields(None, after, {"id": "t", "name": "New"}) == "created: id, name"
    assert changed_fields(after, after, {}) == "changed: nothing"
    assert "New" not in changed_fields(before, after, {}) + changed_fields(None, after, after)


def test_field_names_are_bounded_and_printable():
    names = field_names({f"f{i:03d}\n\x00": 1 for i in range(100)})
    assert len(names) == 41 and names[-1] == "…"
    assert all(n.isprintable() for n in names)
    assert field_names({"x" * 500: 1}) == ["x" * 63 + "…"]
    assert field_names(["not", "an", "object"]) == []


def test_filters_are_validated():
    query = parse_query({"from": "2026-01-02", "to": "2026-01-03", "method": "put",
                         "limit": "10", "ignored": "x", "actor": ""})
    assert (query.first, query.last, query.method, query.limit, query.actor) == (
        date(2026, 1, 2), date(2026, 1, 3), "PUT", 10, None)
    for bad in ({"from": "2026-01-03", "to": "2026-01-02"}, {"limit": "201"},
                {"method": "TRACE"}, {"to": "soon"}, {"target": "x" * 201}):
        with pytest.raises(ValidationFailed):
            parse_query(bad)
    assert parse_query({}).days(date(2026, 5, 1), 10) == (date(2026, 4, 21), date(2026, 5, 1))


def test_continuations_round_trip_and_garbage_is_refused():
    assert decode_continuation(encode_continuation(("0001", "x|y"))) == ("0001", "x|y")
    for garbage in ("", "!!!", encode_continuation(("a", "b"))[:-3] + "@@@",
                    "WzEsMl0=", "eyJhIjogMX0="):  # [1,2] and {"a": 1}
        with pytest.raises(BadRequest):
            decode_continuation(garbage)


def test_a_csv_row_cannot_start_a_formula():
    entry = AuditEntry(at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                       actor=Actor(kind="principal", id="=1+1", name="@x", roles=["admin"]),
                       method="PUT", route="/api/directory/{kind}/{id}",
                       params={"kind": "teams", "id": "-t"}, target="-t", status=None,
                       summary="+created")
    cells = [safe_cell(v) for v in csv_row(entry)]
    assert cells[:5] == ["2026-01-02T03:04:05+00:00", "principal", "'=1+1", "'@x", "admin"]
    assert cells[8:12] == ["'-t", "id=-t kind=teams", "", "'+created"]
