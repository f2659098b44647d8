"""A category's own fields: definitions, and the values a submission or an agent gives."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.core.directory import CategoryDef
from shared.core.fields import (
    MAX_FIELDS,
    MAX_TOTAL_CHARS,
    FieldDef,
    as_text,
    check_edit,
    check_submission,
    public_values,
)

DEFS = [
    FieldDef(id="os", label="Operating system", type="choice",
             choices=["Windows", "macOS", "Linux"], required=True),
    FieldDef(id="apps", label="Apps", type="multi-choice", choices=["Mail", "Chat", "Files"]),
    FieldDef(id="seats", label="Seats", type="number"),
    FieldDef(id="since", label="Since", type="date"),
    FieldDef(id="serial", label="Serial", type="text"),
    FieldDef(id="agree", label="I agree", type="checkbox"),
    FieldDef(id="asset", label="Asset tag", type="text", visibility="agents", required=True),
]


def submit(given, audience="requester", require="requester"):
    return check_submission(DEFS, given, category="hardware", audience=audience, require=require)


def test_values_are_cleaned_to_their_types():
    values, errors = submit({"os": "linux", "apps": ["Chat", "Mail", "Chat"], "seats": "12",
                             "since": "2026-01-31", "serial": "  SN-1\x07 ", "agree": "on"})
    assert errors == []
    assert values == {"os": "Linux", "apps": ["Mail", "Chat"], "seats": 12,
                      "since": "2026-01-31", "serial": "SN-1", "agree": True}
    assert submit({"os": "Windows", "seats": 2.5})[0]["seats"] == 2.5


def test_every_bad_field_is_named_at_once():
    _, errors = submit({"os": "BeOS", "seats": "many", "since": "31/01/2026", "agree": "maybe",
                        "apps": "Fax", "colour": "red"})
    named = {e["field"]: e["message"] for e in errors}
    assert set(named) == {"fields.os", "fields.seats", "fields.since", "fields.agree",
                          "fields.apps", "fields.colour"}
    assert "Windows, macOS, Linux" in named["fields.os"]
    assert "not a field of category 'hardware'" in named["fields.colour"]


def test_required_fields_count_for_whom_they_are_shown():
    _, errors = submit({})
    assert errors == [{"field": "fields.os", "message": "Operating system is required"}]
    # An agent taking a call must fill the agents' required field too.
    _, errors = submit({"os": "Linux"}, audience="agent", require="agent")
    assert [e["field"] for e in errors] == ["fields.asset"]
    # Email cannot carry fields: nothing is required.
    assert submit({}, require=None) == ({}, [])


def test_a_requester_cannot_set_an_agent_only_field():
    _, errors = submit({"os": "Linux", "asset": "A-1"})
    assert errors == [{"field": "fields.asset",
                       "message": "not a field of category 'hardware'"}]
    values, errors = submit({"os": "Linux", "asset": "A-1"}, audience="agent")
    assert errors == [] and values["asset"] == "A-1"
    assert public_values(DEFS, values) == {"os": "Linux"}


def test_not_numbers_that_json_or_forms_may_send():
    for bad in (True, "nan", "inf", "1e20", [1]):
        assert submit({"os": "Linux", "seats": bad})[1][0]["field"] == "fields.seats"


def test_an_edit_keeps_retired_values_and_stale_choices():
    current = {"os": "Solaris", "old": "kept", "seats": 3}
    values, changes, errors = check_edit(DEFS, current, {"seats": 4})
    assert errors == []
    assert values == {"os": "Solaris", "old": "kept", "seats": 4}
    assert changes == {"seats": {"from": 3, "to": 4}}
    # A retired field can be cleared, not set; a required one cannot be cleared.
    _, _, errors = check_edit(DEFS, current, {"old": "new", "os": None, "nope": "x"})
    assert {e["field"]: e["message"] for e in errors} == {
        "fields.old": "a retired field: it can only be cleared",
        "fields.os": "Operating system is required",
        "fields.nope": "not a field of this ticket's category"}
    values, changes, errors = check_edit(DEFS, current, {"old": None, "seats": ""})
    assert errors == [] and values == {"os": "Solaris"}
    assert changes == {"old": {"from": "kept", "to": None}, "seats": {"from": 3, "to": None}}


def test_an_edit_that_changes_nothing_records_nothing():
    assert check_edit(DEFS, {"seats": 3}, {"seats": "3"})[1] == {}


def test_all_values_together_are_bounded():
    choices = [f"{c:03d}" + "x" * 96 for c in range(50)]
    many = [FieldDef(id=f"m{i}", label=f"M{i}", type="multi-choice", choices=choices)
            for i in range(MAX_FIELDS)]
    given = {f"m{i}": choices for i in range(MAX_FIELDS)}
    _, errors = check_submission(many, given, category="c", audience="agent", require=None)
    assert errors == [{"field": "fields", "message": f"at most {MAX_TOTAL_CHARS} characters in all"}]


def test_definitions_are_checked():
    with pytest.raises(ValidationError, match="needs choices"):
        FieldDef(id="os", label="OS", type="choice")
    with pytest.raises(ValidationError, match="has no choices"):
        FieldDef(id="n", label="N", type="number", choices=["1"])
    with pytest.raises(ValidationError, match="each choice once"):
        FieldDef(id="os", label="OS", type="choice", choices=["a", "A"])
    with pytest.raises(ValidationError):
        FieldDef(id="Bad-Id", label="x", type="text")
    with pytest.raises(ValidationError, match="each field id once"):
        CategoryDef(id="c", name="C", fields=[DEFS[2], DEFS[2]])
    with pytest.raises(ValidationError, match=f"at most {MAX_FIELDS}"):
        CategoryDef(id="c", name="C", fields=[FieldDef(id=f"f{i}", label="F", type="text")
                                             for i in range(MAX_FIELDS + 1)])


def test_values_as_text():
    assert [as_text(v) for v in (None, True, False, ["a", "b"], 3)] == ["", "yes", "no", "a, b", "3"]
