"""Rules: osTicket's filters and Zendesk's triggers, kept as data and evaluated purely.

A `Rule` is a list of `Condition`s (all or any must hold) and a list of `RuleAction`s.
`evaluate` runs the enabled rules for one event over `Facts` (what the caller knows of a
ticket or a submission) and returns an `Outcome`: the changes to make, tags, canned
replies, whether the ticket is spam, and a trace that explains every decision. It
changes nothing itself; the caller applies the outcome, so a dry run and a real run
are the same call.

Semantics, in one place:
- rules run in (order, id) order; each sees the changes made by the rules before it;
- a later set_* on the same field overrides an earlier one (last writer wins);
- `stop` ends evaluation after a rule that fired; `reject_spam` always does;
- string comparisons are case-insensitive; `requester_domain` is what follows the
  last "@" of the requester's address;
- `time_of_day` and `weekday` use the local time of `at` in the zone given to
  `evaluate`; "after 18:00" means at or after 18:00, "before 09:00" strictly before.
  Seconds are ignored. An overnight window is two conditions with match="any".

Regular expressions are written by administrators but run on text written by anyone, at
intake and on every update, so they run on RE2 (google-re2), whose matching time grows
linearly with the text whatever the pattern: `(a+)+$` on 20,000 characters takes
microseconds, where Python's backtracking `re` takes longer than the age of the universe.
RE2 has no backreferences, lookaround, possessive quantifiers, atomic groups or verbose
mode; a pattern using them is refused when the rule is saved (422 naming the field). A
rule stored before that check keeps loading (read back from storage as JSON, it is not
refused, so one old rule cannot stop intake): its pattern condition never holds, and the
trace says why. Patterns are at most `MAX_PATTERN_LENGTH` characters and see only the
first `MAX_MATCH_TEXT` characters of a field. A pattern is compiled once per process.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.core.fields import as_text
from shared.core.lifecycle import INITIAL, Status
from shared.core.models import Channel, Priority, Ticket

Event = Literal["intake", "update"]
FieldName = Literal[
    "channel", "requester_email", "requester_domain", "subject", "description", "category",
    "priority", "team", "status", "time_of_day", "weekday",
]
# A category's own field (shared/core/fields.py) is tested as `field.<its id>`: its value
# as text (a checkbox is "yes" or "no", a date YYYY-MM-DD, a ticket without it ""); a
# multi-choice field holds for equals/in/contains when one of its values does, and for
# not_equals/not_contains when none does.
CUSTOM_FIELD = re.compile(r"^field\.[a-z][a-z0-9_]{0,39}$")
FIELD_NAMES = frozenset(get_args(FieldName))
Operator = Literal["equals", "not_equals", "contains", "not_contains", "matches", "in", "before", "after"]
ActionType = Literal[
    "set_category", "set_priority", "set_team", "set_sla_plan", "assign_agent", "auto_assign",
    "add_tag", "canned_reply", "reject_spam",
]

MAX_PATTERN_LENGTH = 500   # also the cap on any condition value
MAX_MATCH_TEXT = 20_000    # characters of a field a pattern is run over
MAX_TRACE_TEXT = 200       # characters of an actual value shown in the trace
MAX_ACTION_VALUE = 200     # a category, team, tag, agent or canned-reply id is short

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HH_MM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")

# Which operators make sense for which field; anything else is refused at build time.
_TEXT_OPS = frozenset({"equals", "not_equals", "contains", "not_contains", "matches", "in"})
_OPS_BY_FIELD: dict[str, frozenset[str]] = {
    "time_of_day": frozenset({"before", "after"}),
    "weekday": frozenset({"equals", "not_equals", "in"}),
}
# Fields with a closed vocabulary: an equality against an unknown word is a typo that would
# silently never match, so it is refused.
_VOCABULARY: dict[str, frozenset[str]] = {
    "channel": frozenset(c.value for c in Channel),
    "priority": frozenset(p.value for p in Priority),
    "status": frozenset(s.value for s in Status),
    "weekday": frozenset(WEEKDAYS),
}
_EQUALITY_OPS = frozenset({"equals", "not_equals", "in"})

# Where each set_* action writes in `Outcome.changes`.
_CHANGE_KEY: dict[str, str] = {
    "set_category": "category",
    "set_priority": "priority",
    "set_team": "team",
    "set_sla_plan": "sla_plan",
    "assign_agent": "assignee",
    "auto_assign": "assignee",
}
_VALUELESS = frozenset({"auto_assign", "reject_spam"})


# --- patterns ----------------------------------------------------------------------------


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False  # string comparisons are case-insensitive everywhere
    options.log_errors = False      # a refused pattern is the caller's answer, not a log line
    return options


_OPTIONS = _options()


class UnsupportedPattern(ValueError):
    """A pattern RE2 cannot run (or that is too long)."""


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> re2._Regexp:
    """`pattern` compiled for RE2, case-insensitive; `UnsupportedPattern` if it cannot be."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UnsupportedPattern(f"a pattern is at most {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) \
            else str(exc)
        raise UnsupportedPattern(
            f"not a regular expression the rule engine (RE2) can run: {reason}; backreferences "
            "(\\1), lookaround ((?=, (?!, (?<=, (?<!), possessive quantifiers, atomic groups "
            "and (?x) are not supported") from None
    except UnicodeEncodeError:  # a lone surrogate, from a JSON \\ud800 escape
        raise UnsupportedPattern("a pattern must be valid Unicode text") from None


def check_pattern(pattern: str) -> None:
    """Raise `ValueError` unless `pattern` is acceptable for a `matches` condition."""
    compiled(pattern)


def pattern_holds(pattern: str, text: str) -> bool:
    """Whether `pattern` is found in the first `MAX_MATCH_TEXT` characters of `text`;
    `UnsupportedPattern` for a stored pattern RE2 cannot run."""
    regexp = compiled(pattern)
    text = text[:MAX_MATCH_TEXT]
    try:
        return regexp.search(text) is not None
    except UnicodeEncodeError:  # lone surrogates cannot be UTF-8: match the rest of the text
        return regexp.search(text.encode("utf-8", "replace").decode("utf-8")) is not None


# --- the models --------------------------------------------------------------------------


class Condition(BaseModel):
    """One test on one field of the facts."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description=f"one of {', '.join(sorted(FIELD_NAMES))}, or "
                       "field.<id> for a category's own field")
    op: Operator
    value: str | list[str]

    @field_validator("field")
    @classmethod
    def _known_field(cls, name: str) -> str:
        if name not in FIELD_NAMES and not CUSTOM_FIELD.match(name):
            raise ValueError(f"one of {', '.join(sorted(FIELD_NAMES))}, or field.<id>")
        return name

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: str | list[str], info: ValidationInfo) -> str | list[str]:
        for item in [value] if isinstance(value, str) else value:
            if len(item) > MAX_PATTERN_LENGTH:
                raise ValueError(f"a condition value is at most {MAX_PATTERN_LENGTH} characters")
        if info.data.get("op") == "matches" and isinstance(value, str):
            try:
                check_pattern(value)
            except UnsupportedPattern:
                # The API hands a rule over as Python objects and refuses such a pattern;
                # the directory reads rules back as JSON, where a rule saved before RE2
                # must still load (its pattern is not run) rather than fail every intake.
                if info.mode != "json":
                    raise
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Condition:
        allowed = _OPS_BY_FIELD.get(self.field, _TEXT_OPS)
        if self.op not in allowed:
            raise ValueError(f"{self.field} takes {', '.join(sorted(allowed))}, not {self.op}")
        if self.op == "in":
            if not isinstance(self.value, list) or not self.value:
                raise ValueError("'in' needs a non-empty list of values")
        elif not isinstance(self.value, str):
            raise ValueError(f"'{self.op}' needs a single value, not a list")
        self._check_value()
        return self

    def _check_value(self) -> None:
        if self.op in ("before", "after"):
            if not _HH_MM.match(str(self.value)):
                raise ValueError("a time of day is written HH:MM, from 00:00 to 23:59")
        elif self.op in ("contains", "not_contains") and self.value == "":
            # An empty needle matches everything; a rule meant to always run has no conditions.
            raise ValueError(f"'{self.op}' needs a non-empty value")
        if self.field in _VOCABULARY and self.op in _EQUALITY_OPS:
            self.value = _in_vocabulary(self.field, self.value)


def _in_vocabulary(name: str, value: str | list[str]) -> str | list[str]:
    """`value` lower-cased, or `ValueError` naming the words the field knows."""
    known = _VOCABULARY[name]
    items = [v.strip().lower() for v in ([value] if isinstance(value, str) else value)]
    for item in items:
        if item not in known:
            choices = WEEKDAYS if name == "weekday" else sorted(known)
            raise ValueError(f"unknown {name} {item!r}; one of {', '.join(choices)}")
    return items[0] if isinstance(value, str) else items


class RuleAction(BaseModel):
    """One thing a rule does when it fires."""

    model_config = ConfigDict(extra="forbid")

    type: ActionType
    value: str | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> RuleAction:
        if self.type in _VALUELESS:
            if self.value is not None:
                raise ValueError(f"{self.type} takes no value")
            return self
        value = (self.value or "").strip()
        if not value:
            raise ValueError(f"{self.type} needs a value")
        if len(value) > MAX_ACTION_VALUE:
            raise ValueError(f"an action value is at most {MAX_ACTION_VALUE} characters")
        if self.type == "set_priority":
            value = value.lower()
            if value not in _VOCABULARY["priority"]:
                raise ValueError(f"unknown priority {value!r}; one of {', '.join(p.value for p in Priority)}")
        elif self.type == "add_tag":
            value = value.lower()  # tags are compared and shown lower-case
        self.value = value
        return self


class Rule(BaseModel):
    """A named list of conditions and actions, run on the events in `on`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    order: int = 100
    on: list[Event] = ["intake"]
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = []
    actions: list[RuleAction] = Field(min_length=1)
    stop: bool = False

    @field_validator("on")
    @classmethod
    def _some_event(cls, on: list[Event]) -> list[Event]:
        if not on:
            raise ValueError("a rule runs on at least one event")
        return list(dict.fromkeys(on))


class Facts(BaseModel):
    """What a rule sees. Built by the caller from a ticket or a submission."""

    model_config = ConfigDict(extra="forbid")

    channel: str
    requester_email: str
    subject: str
    description: str
    category: str
    priority: Priority
    team: str | None = None
    status: str = INITIAL.value
    tags: list[str] = []
    at: AwareDatetime
    fields: dict[str, Any] = {}

    @classmethod
    def from_ticket(cls, ticket: Ticket, *, at: datetime, tags: Sequence[str] = ()) -> Facts:
        """The facts of a stored ticket, as seen at `at` (the time of the update)."""
        return cls(
            channel=ticket.channel.value, requester_email=ticket.requester_email,
            subject=ticket.subject, description=ticket.description, category=ticket.category,
            priority=ticket.priority, team=ticket.team, status=ticket.status.value, tags=list(tags), at=at,
            fields=dict(ticket.fields),
        )


class Outcome(BaseModel):
    """What the rules decided. JSON-serialisable, for the dry run as much as for intake."""

    fired: list[str] = []
    changes: dict[str, str] = {}
    tags: list[str] = []
    canned_replies: list[str] = []
    spam: bool = False
    trace: list[dict[str, Any]] = []


# --- evaluation --------------------------------------------------------------------------


def applicable(rules: Sequence[Rule], event: Event) -> list[Rule]:
    """The rules that run on `event`, in the order they run."""
    return sorted((r for r in rules if r.enabled and event in r.on), key=lambda r: (r.order, r.id))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name like "Europe" is a folder
        raise ValueError(f"unknown time zone {name!r}") from None


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    try:
        return at.astimezone(zone)
    except (OverflowError, ValueError):
        # At the very ends of the calendar the instant cannot be shifted; its own wall
        # clock is the best answer left, and evaluation must not fail on odd input.
        return at


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TRACE_TEXT else text[: MAX_TRACE_TEXT - 1] + "…"


def _actual(name: str, facts: Facts, local: datetime) -> str:
    """The value of a condition field, as text."""
    if name == "requester_domain":
        # Domains are case-insensitive, so the trace shows them lower-cased.
        _, at_sign, domain = facts.requester_email.rpartition("@")
        return domain.strip().lower() if at_sign else ""
    if name == "time_of_day":
        return f"{local.hour:02d}:{local.minute:02d}"
    if name == "weekday":
        return WEEKDAYS[local.weekday()]
    if name == "priority":
        return facts.priority.value
    value = getattr(facts, name)
    return "" if value is None else str(value)


def _holds(op: str, expected: str | list[str], actual: str) -> bool:
    folded = actual.casefold()
    if op == "in":
        return folded in {v.casefold() for v in expected}
    assert isinstance(expected, str)  # guaranteed by Condition's validation
    if op == "matches":
        return pattern_holds(expected, actual)
    if op == "before":
        return actual < expected  # zero-padded HH:MM sorts as time does
    if op == "after":
        return actual >= expected
    if op in ("contains", "not_contains"):
        return (expected.casefold() in folded) == (op == "contains")
    return (folded == expected.casefold()) == (op == "equals")


_NEGATIVE = frozenset({"not_equals", "not_contains"})


def _custom_holds(op: str, expected: str | list[str], value: Any) -> bool:
    """A condition on a category's field; a multi-choice value holds item by item."""
    if not isinstance(value, list):
        return _holds(op, expected, as_text(value))
    results = [_holds(op, expected, str(item)) for item in value]
    return all(results) if op in _NEGATIVE else any(results)


def _check(condition: Condition, facts: Facts, local: datetime) -> dict[str, Any]:
    custom = condition.field.startswith("field.")
    raw = facts.fields.get(condition.field[len("field."):]) if custom else None
    actual = as_text(raw) if custom else _actual(condition.field, facts, local)
    value = condition.value if isinstance(condition.value, str) else list(condition.value)
    checked: dict[str, Any] = {"field": condition.field, "op": condition.op, "value": value,
                               "actual": _clip(actual)}
    try:
        checked["result"] = _custom_holds(condition.op, condition.value, raw) if custom \
            else _holds(condition.op, condition.value, actual)
    except UnsupportedPattern as exc:
        _warn_once(str(condition.value), str(exc))
        checked.update(result=False, error=f"this stored pattern is not run: {exc}; fix the rule")
    return checked


@functools.lru_cache(maxsize=64)
def _warn_once(pattern: str, reason: str) -> None:
    log.warning("a stored rule's pattern %r is not run: %s", pattern, reason)


@dataclasses.dataclass
class _Run:
    """The state of one evaluation: the working facts and what has been decided so far."""

    facts: Facts
    fired: list[str] = dataclasses.field(default_factory=list)
    changes: dict[str, str] = dataclasses.field(default_factory=dict)
    tags: list[str] = dataclasses.field(default_factory=list)
    replies: list[str] = dataclasses.field(default_factory=list)
    spam: bool = False
    trace: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def apply(self, action: RuleAction) -> None:
        value = action.value or ""
        if action.type == "reject_spam":
            self.spam = True
        elif action.type == "add_tag":
            # Only tags the ticket does not already carry count as added.
            if value not in self.tags and value not in {t.lower() for t in self.facts.tags}:
                self.tags.append(value)
        elif action.type == "canned_reply":
            if value not in self.replies:
                self.replies.append(value)
        else:
            self._change(_CHANGE_KEY[action.type], "auto" if action.type == "auto_assign" else value)

    def _change(self, key: str, value: str) -> None:
        self.changes[key] = value
        # Later rules must see the change; only fields the facts carry can be seen.
        if key == "priority":
            self.facts = self.facts.model_copy(update={"priority": Priority(value)})
        elif key in ("category", "team"):
            self.facts = self.facts.model_copy(update={key: value})

    def outcome(self) -> Outcome:
        return Outcome(fired=self.fired, changes=self.changes, tags=self.tags,
                       canned_replies=self.replies, spam=self.spam, trace=self.trace)


def _fires(rule: Rule, results: list[bool]) -> bool:
    if not results:
        return True
    return all(results) if rule.match == "all" else any(results)


def _consider(rule: Rule, run: _Run, local: datetime) -> bool:
    """Evaluate one rule against the working facts; True if evaluation stops here."""
    # Every condition is evaluated, not short-circuited, so the trace explains all of them.
    checks = [_check(c, run.facts, local) for c in rule.conditions]
    fired = _fires(rule, [c["result"] for c in checks])
    if fired:
        run.fired.append(rule.id)
        for action in rule.actions:
            run.apply(action)
    stops = fired and (rule.stop or run.spam)
    run.trace.append({
        "rule": rule.id, "fired": fired, "conditions": checks,
        "actions": [a.model_dump() for a in rule.actions] if fired else [],
        "stopped_here": stops,
    })
    return stops


def evaluate(rules: Sequence[Rule], facts: Facts, *, event: Event, timezone: str = "UTC") -> Outcome:
    """Run the rules for `event` over `facts`. Never raises on any Facts; an unknown
    `timezone` is a configuration error and raises `ValueError`."""
    local = _local(facts.at, _zone(timezone))
    run = _Run(facts=facts.model_copy(deep=True))
    for rule in applicable(rules, event):
        if _consider(rule, run, local):
            break
    return run.outcome()
