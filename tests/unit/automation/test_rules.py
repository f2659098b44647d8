"""Rules as data: validation when a rule is built, and the semantics of `evaluate`
(operators, ordering, stop, spam, chaining, last writer wins, local time), with properties
over arbitrary facts: evaluation never raises and fires rules only in their running order."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.automation.rules import (
    MAX_MATCH_TEXT,
    MAX_PATTERN_LENGTH,
    MAX_TRACE_TEXT,
    Condition,
    Facts,
    Outcome,
    Rule,
    RuleAction,
    applicable,
    evaluate,
)
from shared.core.models import Channel, Priority, Ticket

# Monday 15 January 2024, 17:30 UTC: 18:30 in Paris, Tuesday 02:30 in Tokyo.
T0 = datetime(2024, 1, 15, 17, 30, tzinfo=UTC)


def facts(**overrides: Any) -> Facts:
    base: dict[str, Any] = {
        "channel": "email", "requester_email": "Jane.Doe@Example.COM",
        "subject": "Refund for invoice 42", "description": "I was charged twice.",
        "category": "general", "priority": Priority.NORMAL, "at": T0,
    }
    return Facts(**(base | overrides))


def rule(rule_id: str, *conditions: dict[str, Any], actions: list[dict[str, Any]] | None = None,
         **options: Any) -> Rule:
    return Rule.model_validate({
        "id": rule_id, "name": rule_id, "conditions": list(conditions),
        "actions": actions or [{"type": "add_tag", "value": rule_id}], **options,
    })


def cond(field: str, op: str, value: str | list[str]) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def fires(condition: dict[str, Any], timezone: str = "UTC", **overrides: Any) -> bool:
    outcome = evaluate([rule("r", condition)], facts(**overrides), event="intake", timezone=timezone)
    return outcome.fired == ["r"]


# --- operators ---------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "expected"), [
    (cond("category", "equals", "general"), True),
    (cond("category", "equals", "billing"), False),
    (cond("category", "not_equals", "billing"), True),
    (cond("category", "not_equals", "general"), False),
    (cond("subject", "contains", "invoice"), True),
    (cond("subject", "contains", "password"), False),
    (cond("subject", "not_contains", "password"), True),
    (cond("subject", "not_contains", "invoice"), False),
    (cond("subject", "matches", r"invoice \d+$"), True),
    (cond("subject", "matches", r"^invoice"), False),
    (cond("channel", "in", ["web", "email"]), True),
    (cond("channel", "in", ["web", "chat"]), False),
    (cond("priority", "equals", "normal"), True),
    (cond("priority", "in", ["high", "urgent"]), False),
    (cond("status", "equals", "new"), True),
    (cond("team", "equals", ""), True),          # no team compares as the empty string
    (cond("team", "not_contains", "desk"), True),
    (cond("time_of_day", "after", "17:30"), True),
    (cond("time_of_day", "after", "17:31"), False),
    (cond("time_of_day", "before", "17:31"), True),
    (cond("time_of_day", "before", "17:30"), False),
    (cond("weekday", "equals", "mon"), True),
    (cond("weekday", "not_equals", "mon"), False),
    (cond("weekday", "in", ["sat", "sun"]), False),
])
def test_each_operator(condition: dict[str, Any], expected: bool) -> None:
    assert fires(condition) is expected


@pytest.mark.parametrize("condition", [
    cond("category", "equals", "GENERAL"),
    cond("subject", "contains", "REFUND"),
    cond("subject", "matches", "REFUND FOR"),
    cond("requester_email", "in", ["jane.doe@example.com"]),
    cond("requester_domain", "equals", "example.com"),
    cond("priority", "equals", "NORMAL"),
    cond("weekday", "equals", "MON"),
])
def test_string_comparisons_ignore_case(condition: dict[str, Any]) -> None:
    assert fires(condition)


@pytest.mark.parametrize(("email", "domain"), [
    ("jane@Example.com", "example.com"),
    ("odd\"@\"name@corp.example.org", "corp.example.org"),  # after the last "@"
    ("no-at-sign", ""),
])
def test_requester_domain_is_the_part_after_the_at(email: str, domain: str) -> None:
    assert fires(cond("requester_domain", "equals", domain), requester_email=email)
    assert evaluate([rule("r", cond("requester_domain", "equals", "x"))], facts(requester_email=email),
                    event="intake").trace[0]["conditions"][0]["actual"] == domain


def test_pattern_only_sees_the_first_characters_of_a_field() -> None:
    long = "a" * MAX_MATCH_TEXT + "needle"
    assert not fires(cond("description", "matches", "needle"), description=long)
    assert fires(cond("description", "contains", "needle"), description=long)
    assert fires(cond("description", "matches", "needle"), description=long[6:])


# --- combining conditions ----------------------------------------------------------------


def test_all_needs_every_condition_and_any_needs_one() -> None:
    yes, no = cond("category", "equals", "general"), cond("category", "equals", "billing")
    outcome = evaluate([
        rule("all-mixed", yes, no, match="all"), rule("all-yes", yes, yes, match="all"),
        rule("any-mixed", no, yes, match="any"), rule("any-no", no, no, match="any"),
    ], facts(), event="intake")
    assert outcome.fired == ["all-yes", "any-mixed"]


def test_a_rule_without_conditions_always_fires() -> None:
    assert evaluate([rule("always", match="any")], facts(), event="intake").fired == ["always"]


def test_every_condition_is_traced_even_after_one_fails() -> None:
    outcome = evaluate([rule("r", cond("category", "equals", "billing"), cond("channel", "equals", "email"))],
                       facts(), event="intake")
    assert [c["result"] for c in outcome.trace[0]["conditions"]] == [False, True]


# --- order, stop, spam -------------------------------------------------------------------


def test_rules_run_by_order_then_id() -> None:
    rules = [rule("c", order=5), rule("b", order=10), rule("a", order=10), rule("z")]
    outcome = evaluate(rules, facts(), event="intake")
    assert outcome.fired == ["c", "a", "b", "z"]
    assert [t["rule"] for t in outcome.trace] == ["c", "a", "b", "z"]
    assert outcome.tags == ["c", "a", "b", "z"]


def test_stop_ends_evaluation_only_when_the_rule_fired() -> None:
    rules = [
        rule("a-not-firing", cond("category", "equals", "billing"), order=1, stop=True),
        rule("b-stopper", order=2, stop=True),
        rule("c-never", order=3),
    ]
    outcome = evaluate(rules, facts(), event="intake")
    assert outcome.fired == ["b-stopper"]
    assert [(t["rule"], t["stopped_here"]) for t in outcome.trace] == [("a-not-firing", False), ("b-stopper", True)]


def test_spam_stops_and_keeps_the_rest_of_its_rule() -> None:
    rules = [
        rule("spam", cond("subject", "matches", "refund"), order=1,
             actions=[{"type": "reject_spam"}, {"type": "add_tag", "value": "Junk"}]),
        rule("later", order=2, actions=[{"type": "set_priority", "value": "urgent"}]),
    ]
    outcome = evaluate(rules, facts(), event="intake")
    assert outcome.spam and outcome.fired == ["spam"] and outcome.tags == ["junk"]
    assert outcome.changes == {} and outcome.trace[-1]["stopped_here"]


# --- chaining and overrides --------------------------------------------------------------


def test_a_later_rule_sees_an_earlier_change() -> None:
    rules = [
        rule("route", cond("subject", "contains", "refund"), order=1,
             actions=[{"type": "set_category", "value": "billing"}, {"type": "set_priority", "value": "high"}]),
        rule("billing-team", cond("category", "equals", "billing"), cond("priority", "equals", "high"), order=2,
             actions=[{"type": "set_team", "value": "finance"}]),
        rule("finance-sla", cond("team", "equals", "finance"), order=3,
             actions=[{"type": "set_sla_plan", "value": "gold"}]),
    ]
    outcome = evaluate(rules, facts(), event="intake")
    assert outcome.fired == ["route", "billing-team", "finance-sla"]
    assert outcome.changes == {"category": "billing", "priority": "high", "team": "finance", "sla_plan": "gold"}


def test_the_facts_given_are_not_changed() -> None:
    given_facts = facts()
    evaluate([rule("r", actions=[{"type": "set_category", "value": "billing"}])], given_facts, event="intake")
    assert given_facts.category == "general"


def test_last_writer_wins() -> None:
    rules = [
        rule("a", order=1, actions=[{"type": "set_priority", "value": "high"},
                                    {"type": "assign_agent", "value": "agent-7"}]),
        rule("b", order=2, actions=[{"type": "set_priority", "value": "low"}, {"type": "auto_assign"}]),
    ]
    outcome = evaluate(rules, facts(), event="intake")
    assert outcome.changes == {"priority": "low", "assignee": "auto"}


def test_tags_and_replies_are_deduplicated_in_order() -> None:
    rules = [
        rule("a", order=1, actions=[{"type": "add_tag", "value": "vip"}, {"type": "canned_reply", "value": "ack"},
                                    {"type": "add_tag", "value": "known"}]),
        rule("b", order=2, actions=[{"type": "add_tag", "value": "VIP"}, {"type": "canned_reply", "value": "ack"},
                                    {"type": "add_tag", "value": "billing"}]),
    ]
    outcome = evaluate(rules, facts(tags=["Known"]), event="intake")
    assert outcome.tags == ["vip", "billing"]  # "known" was already on the ticket
    assert outcome.canned_replies == ["ack"]


# --- time ---------------------------------------------------------------------------------


def test_time_of_day_is_local_to_the_zone_given() -> None:
    after_six = cond("time_of_day", "after", "18:00")
    assert fires(after_six, timezone="Europe/Paris")       # 18:30 in Paris
    assert not fires(after_six, timezone="UTC")            # 17:30 in UTC
    assert fires(after_six, timezone="UTC", at=datetime(2024, 1, 15, 18, 0, tzinfo=UTC))  # "after" includes 18:00
    assert not fires(cond("time_of_day", "before", "18:00"), at=datetime(2024, 1, 15, 18, 0, tzinfo=UTC))


def test_weekday_is_local_to_the_zone_given() -> None:
    assert fires(cond("weekday", "equals", "tue"), timezone="Asia/Tokyo")
    assert fires(cond("weekday", "equals", "mon"), timezone="America/New_York")


def test_an_overnight_window_is_two_conditions_with_any() -> None:
    window = [cond("time_of_day", "after", "22:00"), cond("time_of_day", "before", "06:00")]
    night = rule("night", *window, match="any")
    assert evaluate([night], facts(at=datetime(2024, 1, 15, 23, 0, tzinfo=UTC)), event="intake").fired
    assert evaluate([night], facts(at=datetime(2024, 1, 16, 5, 59, tzinfo=UTC)), event="intake").fired
    assert not evaluate([night], facts(at=datetime(2024, 1, 16, 6, 0, tzinfo=UTC)), event="intake").fired


def test_the_ends_of_the_calendar_do_not_break_evaluation() -> None:
    far_east, far_west = timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))
    for at in (datetime.min.replace(tzinfo=far_east), datetime.max.replace(tzinfo=far_west)):
        outcome = evaluate([rule("r", cond("time_of_day", "after", "00:00"), cond("weekday", "in", ["mon"]))],
                           facts(at=at), event="intake", timezone="Pacific/Kiritimati")
        assert len(outcome.trace[0]["conditions"]) == 2


def test_an_unknown_time_zone_is_refused() -> None:
    for zone in ("Mars/Olympus", "Europe", ""):
        with pytest.raises(ValueError, match="unknown time zone"):
            evaluate([], facts(), event="intake", timezone=zone)


def test_facts_need_an_aware_time() -> None:
    with pytest.raises(ValidationError):
        facts(at=datetime(2024, 1, 15, 17, 30))


# --- which rules run ---------------------------------------------------------------------


def test_disabled_rules_and_other_events_are_skipped() -> None:
    rules = [
        rule("off", enabled=False), rule("intake-only"), rule("update-only", on=["update"]),
        rule("both", on=["intake", "update"]),
    ]
    assert evaluate(rules, facts(), event="intake").fired == ["both", "intake-only"]
    assert evaluate(rules, facts(), event="update").fired == ["both", "update-only"]
    assert [t["rule"] for t in evaluate(rules, facts(), event="update").trace] == ["both", "update-only"]


def test_facts_from_a_ticket() -> None:
    ticket = Ticket(number="12345678", subject="Printer", description="Jammed", requester_name="Jo",
                    requester_email="jo@example.org", priority=Priority.HIGH, category="hardware",
                    status="open", channel=Channel.PHONE, team="desk", created_at=T0, updated_at=T0, last_seq=1)
    seen = Facts.from_ticket(ticket, at=T0, tags=["vip"])
    assert (seen.channel, seen.status, seen.team, seen.tags) == ("phone", "open", "desk", ["vip"])
    assert evaluate([rule("r", cond("channel", "equals", "phone"), on=["update"])], seen, event="update").fired


# --- the trace ---------------------------------------------------------------------------


def test_the_trace_is_json_and_readable() -> None:
    rules = [rule("r1", cond("description", "contains", "x"), order=1),
             rule("r2", cond("channel", "in", ["email"]), order=2, stop=True)]
    outcome = evaluate(rules, facts(description="y" * 1000), event="intake")
    data = json.loads(outcome.model_dump_json())
    first, second = data["trace"]
    assert first == {"rule": "r1", "fired": False, "actions": [], "stopped_here": False, "conditions": [
        {"field": "description", "op": "contains", "value": "x", "actual": "y" * (MAX_TRACE_TEXT - 1) + "…",
         "result": False}]}
    assert second["fired"] and second["stopped_here"]
    assert second["actions"] == [{"type": "add_tag", "value": "r2"}]
    assert second["conditions"][0]["value"] == ["email"]
    assert Outcome.model_validate(data) == outcome


# --- validation --------------------------------------------------------------------------


# Patterns that take Python's backtracking `re` exponential time on a text that almost
# matches ("aaaa…!"), each with the last character that makes that text match.
CATASTROPHIC = [("(a+)+$", "a"), ("(a*)*b", "b"), (r"^(\w+\s?)*$", "a"), ("(a|aa)+$", "a"),
                ("(a|a)*c", "c"), ("(.*a){12}x", "x")]


@pytest.mark.parametrize(("pattern", "last"), CATASTROPHIC)
def test_catastrophic_patterns_are_accepted_and_evaluated_in_linear_time(pattern: str, last: str) -> None:
    # On 30 to 400 characters these took Python's `re` seconds to far longer than any test;
    # here they run on the whole matched length, and answer right both ways.
    almost = "a" * (MAX_MATCH_TEXT - 1) + "!"
    assert not fires(cond("description", "matches", pattern), description=almost)
    assert fires(cond("description", "matches", pattern), description=almost[:-1] + last)


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?P<w>\w)(?P=w)", "foo(?=bar)", "foo(?!bar)", "(?<=a)b",
                                     "(?<!a)b", "a++", "(?>a+)b", "(?x)a b", r"\Z"])
def test_patterns_the_linear_engine_cannot_run_are_refused_when_saved(pattern: str) -> None:
    with pytest.raises(ValidationError, match="RE2"):
        Rule.model_validate({"id": "r", "name": "r", "conditions": [cond("subject", "matches", pattern)],
                             "actions": [{"type": "reject_spam"}]})


def test_a_stored_rule_whose_pattern_the_engine_cannot_run_still_loads_and_never_holds() -> None:
    # Saved before the engine changed: intake must go on, the rule must not fire on that pattern.
    stored = json.dumps({"id": "old", "name": "old", "match": "any", "actions": [{"type": "reject_spam"}],
                         "conditions": [cond("subject", "matches", r"(\w+) \1"),
                                        cond("subject", "contains", "lottery")]})
    old = Rule.model_validate_json(stored)
    assert not evaluate([old], facts(subject="hello hello"), event="intake").spam
    outcome = evaluate([old], facts(subject="you won the lottery"), event="intake")
    assert outcome.spam  # its other condition still holds
    [first, _] = outcome.trace[0]["conditions"]
    assert first["result"] is False and "not run" in first["error"]


@pytest.mark.parametrize("pattern", ["(ab)+", r"\d+-\d+", "(a+)?", "[(a+)]+", r"\(a+\)+", "(ab){3}",
                                     r"^(re|fwd?):\s*", "(?i)refund", "(?P<n>x)", r"\bword\b"])
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    Condition(field="subject", op="matches", value=pattern)


def test_case_is_ignored_beyond_ascii() -> None:
    assert fires(cond("subject", "matches", "ÉTÉ|straße"), subject="Rapport d'été")
    assert fires(cond("subject", "matches", "^refund"), subject="REFUND please")


@pytest.mark.parametrize(("data", "message"), [
    (cond("subject", "matches", "(unclosed"), "RE2"),
    (cond("subject", "matches", "a" * (MAX_PATTERN_LENGTH + 1)), "at most"),
    (cond("subject", "matches", "(?x)(a+) +"), "RE2"),
    (cond("subject", "matches", "\ud800"), "valid Unicode"),
    (cond("subject", "in", "email"), "list"),
    (cond("subject", "in", []), "non-empty list"),
    (cond("subject", "equals", ["a"]), "single value"),
    (cond("subject", "contains", ""), "non-empty"),
    (cond("subject", "before", "09:00"), "not before"),
    (cond("time_of_day", "equals", "09:00"), "not equals"),
    (cond("time_of_day", "after", "9:00"), "HH:MM"),
    (cond("time_of_day", "after", "24:00"), "HH:MM"),
    (cond("weekday", "equals", "monday"), "unknown weekday"),
    (cond("weekday", "contains", "mo"), "not contains"),
    (cond("priority", "in", ["high", "critical"]), "unknown priority"),
    (cond("channel", "equals", "e-mail"), "unknown channel"),
    (cond("status", "equals", "waiting"), "unknown status"),
    (cond("tags", "equals", "x"), "field"),
    (cond("subject", "like", "x"), "op"),
    ({**cond("subject", "equals", "x"), "extra": 1}, "extra"),
])
def test_bad_conditions_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Condition.model_validate(data)


def test_vocabulary_values_are_normalised() -> None:
    assert Condition(field="weekday", op="in", value=["Sat", " SUN"]).value == ["sat", "sun"]


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "set_priority", "value": "critical"}, "unknown priority"),
    ({"type": "set_category"}, "needs a value"),
    ({"type": "add_tag", "value": "  "}, "needs a value"),
    ({"type": "auto_assign", "value": "x"}, "takes no value"),
    ({"type": "reject_spam", "value": "x"}, "takes no value"),
    ({"type": "close_ticket"}, "type"),
])
def test_bad_actions_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RuleAction.model_validate(data)


def test_action_values_are_normalised() -> None:
    assert RuleAction(type="set_priority", value=" HIGH ").value == "high"
    assert RuleAction(type="add_tag", value="VIP").value == "vip"
    assert RuleAction(type="set_team", value=" Finance ").value == "Finance"


@pytest.mark.parametrize("changes", [
    {"id": "Not A Slug"}, {"id": "-leading"}, {"id": "x" * 64}, {"actions": []}, {"on": []},
    {"on": ["delete"]}, {"name": ""}, {"match": "most"}, {"priority": 1},
])
def test_bad_rules_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate({"id": "ok", "name": "ok", "actions": [{"type": "auto_assign"}]} | changes)


def test_rule_defaults() -> None:
    built = Rule(id="r", name="R", actions=[RuleAction(type="auto_assign")])
    assert (built.enabled, built.order, built.on, built.match, built.conditions, built.stop) == (
        True, 100, ["intake"], "all", [], False)


# --- properties ---------------------------------------------------------------------------

_text = st.text(max_size=60)
_safe_patterns = st.sampled_from([r"\d+", "^re:", "(ab)+c", "refund|invoice", r"[\w.]+@", "$", "é.ß"])
_conditions = st.one_of(
    st.builds(cond, st.sampled_from(["requester_email", "requester_domain", "subject", "description",
                                     "category", "team"]),
              st.sampled_from(["equals", "not_equals"]), _text),
    st.builds(cond, st.sampled_from(["subject", "description", "requester_email"]),
              st.sampled_from(["contains", "not_contains"]), _text.filter(bool)),
    st.builds(cond, st.sampled_from(["subject", "description", "category"]), st.just("matches"),
              st.one_of(_safe_patterns, _text.map(re.escape))),
    st.builds(cond, st.just("channel"), st.sampled_from(["equals", "not_equals"]), st.sampled_from(list(Channel))),
    st.builds(cond, st.just("priority"), st.just("in"), st.lists(st.sampled_from(list(Priority)), min_size=1)),
    st.builds(cond, st.just("time_of_day"), st.sampled_from(["before", "after"]),
              st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59))),
    st.builds(cond, st.just("weekday"), st.just("in"),
              st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1)),
)
_actions: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.builds(dict, type=st.sampled_from(["set_category", "set_team", "set_sla_plan", "assign_agent", "add_tag",
                                          "canned_reply"]),
              value=st.sampled_from(["billing", "general", "desk", "Finance", "x"])),
    st.builds(dict, type=st.just("set_priority"), value=st.sampled_from(list(Priority))),
    st.builds(dict, type=st.sampled_from(["auto_assign", "reject_spam"])),
)


@st.composite
def rule_sets(draw: st.DrawFn) -> list[Rule]:
    ids = draw(st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}", fullmatch=True), max_size=8, unique=True))
    return [Rule.model_validate({
        "id": rule_id, "name": rule_id, "enabled": draw(st.booleans()), "order": draw(st.integers(-3, 3)),
        "on": draw(st.lists(st.sampled_from(["intake", "update"]), min_size=1, max_size=2)),
        "match": draw(st.sampled_from(["all", "any"])), "stop": draw(st.booleans()),
        "conditions": draw(st.lists(_conditions, max_size=3)),
        "actions": draw(st.lists(_actions, min_size=1, max_size=3)),
    }) for rule_id in ids]


_facts = st.builds(
    Facts, channel=st.text(), requester_email=st.text(), subject=st.text(), description=st.text(),
    category=st.text(), priority=st.sampled_from(list(Priority)), team=st.none() | st.text(),
    status=st.text(), tags=st.lists(st.text(max_size=10), max_size=3), at=st.datetimes(timezones=st.timezones()),
)


def _is_subsequence(items: list[str], of: list[str]) -> bool:
    remaining = iter(of)
    return all(item in remaining for item in items)


@settings(max_examples=300, deadline=None)
@given(rule_sets(), _facts, st.sampled_from(["intake", "update"]),
       st.sampled_from(["UTC", "Europe/Paris", "Pacific/Kiritimati", "America/St_Johns"]))
def test_evaluate_never_raises_and_fires_in_running_order(rules: list[Rule], seen: Facts, event: Any,
                                                          zone: str) -> None:
    outcome = evaluate(rules, seen, event=event, timezone=zone)
    order = [r.id for r in applicable(rules, event)]
    assert _is_subsequence(outcome.fired, order)
    assert [t["rule"] for t in outcome.trace] == order[: len(outcome.trace)]
    assert outcome.fired == [t["rule"] for t in outcome.trace if t["fired"]]
    assert sum(t["stopped_here"] for t in outcome.trace) <= 1
    assert all(len(c["actual"]) <= MAX_TRACE_TEXT for t in outcome.trace for c in t["conditions"])
    json.loads(outcome.model_dump_json())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_pattern_guard_never_raises(pattern: str) -> None:
    try:
        Condition(field="subject", op="matches", value=pattern)
    except ValidationError:
        pass


@pytest.mark.parametrize(("condition", "expected"), [
    (cond("field.os", "equals", "linux"), True),
    (cond("field.os", "not_equals", "Linux"), False),
    (cond("field.apps", "in", ["Fax", "chat"]), True),
    (cond("field.apps", "equals", "Files"), False),
    (cond("field.apps", "not_equals", "Files"), True),
    (cond("field.apps", "not_contains", "ai"), False),
    (cond("field.agree", "equals", "yes"), True),
    (cond("field.seats", "equals", "12"), True),
    (cond("field.missing", "equals", ""), True),
    (cond("field.missing", "contains", "x"), False),
])
def test_conditions_on_a_categorys_fields(condition: dict[str, Any], expected: bool) -> None:
    values = {"os": "Linux", "apps": ["Mail", "Chat"], "agree": True, "seats": 12}
    assert fires(condition, fields=values) is expected


def test_a_field_condition_names_a_field_id() -> None:
    with pytest.raises(ValidationError, match="field.<id>"):
        rule("r", cond("field.Bad Id", "equals", "x"))
    with pytest.raises(ValidationError, match="field.<id>"):
        rule("r", cond("colour", "equals", "x"))


def test_a_tickets_fields_are_its_facts() -> None:
    ticket = Ticket(number="00000001", subject="s", description="d", requester_name="R",
                    requester_email="r@example.org", priority=Priority.NORMAL,
                    category="general", status="open", channel=Channel.WEB, created_at=T0,
                    updated_at=T0, last_seq=1, fields={"os": "Linux"})
    assert Facts.from_ticket(ticket, at=T0).fields == {"os": "Linux"}
