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

Regular expressions are written by administrators but run on text written by anyone,
so a pattern is checked when the rule is built: it must compile, be at most
`MAX_PATTERN_LENGTH` characters, not use verbose mode, and contain no quantified group
that itself holds a quantifier, such as `(a+)+` or `(\\w+\\.)*` (the classic
catastrophic-backtracking shape). This is a cheap guard, not a proof: overlapping
alternatives such as `(a|a)*` and chains of adjacent wildcards such as `.*x.*y.*z` can
still be slow. Only the first `MAX_MATCH_TEXT` characters of a field are searched,
which bounds the cost of what remains.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.lifecycle import Status
from shared.models import Channel, Priority, Ticket

Event = Literal["intake", "update"]
FieldName = Literal[
    "channel", "requester_email", "requester_domain", "subject", "description", "category",
    "priority", "team", "status", "time_of_day", "weekday",
]
Operator = Literal["equals", "not_equals", "contains", "not_contains", "matches", "in", "before", "after"]
ActionType = Literal[
    "set_category", "set_priority", "set_team", "set_sla_plan", "assign_agent", "auto_assign",
    "add_tag", "canned_reply", "reject_spam",
]

MAX_PATTERN_LENGTH = 500   # also the cap on any condition value
MAX_MATCH_TEXT = 20_000    # characters of a field a pattern is run over
MAX_TRACE_TEXT = 200       # characters of an actual value shown in the trace
MAX_ACTION_VALUE = 200     # a category, team, tag, agent or canned-reply id is short

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


# --- the regex guard ---------------------------------------------------------------------

_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _quantifier_at(pattern: str, i: int) -> tuple[int, bool, bool] | None:
    """The quantifier starting at `i`, as (length, repeats more than once, variable count)."""
    if i >= len(pattern):
        return None
    ch = pattern[i]
    if ch in "*+":
        size, repeats, variable = 1, True, True
    elif ch == "?":
        size, repeats, variable = 1, False, True
    elif ch == "{":
        found = _BRACES.match(pattern, i)
        if found is None or not (found[1] or found[2]):
            return None  # `re` reads these braces as literal characters
        low = int(found[1] or 0)
        high = int(found[3]) if found[3] else (None if found[2] else low)
        size = found.end() - i
        repeats, variable = high is None or high > 1, high != low
    else:
        return None
    # A lazy (`?`) or possessive (`+`) suffix belongs to the same quantifier.
    if i + size < len(pattern) and pattern[i + size] in "?+":
        size += 1
    return size, repeats, variable


def _skip_class(pattern: str, i: int) -> int:
    """Index just past the character class opening at `i`."""
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a leading "]" is a literal
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def has_nested_quantifier(pattern: str) -> bool:
    """True if a repeated group contains a quantifier, e.g. `(a+)+`, `(?:x?y)*`, `((a)*){2,}`.

    Expects a pattern that compiles. Escapes and character classes are skipped, so `\\(a+\\)+`
    and `[(a+)]+` are not flagged."""
    groups: list[bool] = []  # per open group: does it contain a quantifier?
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        inner = False
        if ch == "(":
            if pattern.startswith("(?#", i):
                i = pattern.find(")", i) + 1 or len(pattern)
                continue
            groups.append(False)
            i += 2 if pattern.startswith("(?", i) else 1
            continue
        if ch == ")":
            inner = groups.pop() if groups else False
            i += 1
        elif ch == "[":
            i = _skip_class(pattern, i)
        elif ch == "\\":
            i += 2
        else:
            i += 1
        quantifier = _quantifier_at(pattern, i)
        if quantifier is not None:
            size, repeats, variable = quantifier
            if inner and repeats:
                return True
            inner = inner or variable
            i += size
        if inner and groups:
            groups[-1] = True
    return False


def check_pattern(pattern: str) -> None:
    """Raise `ValueError` unless `pattern` is acceptable for a `matches` condition."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"a pattern is at most {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if compiled.flags & re.VERBOSE:
        # Verbose mode ignores whitespace, which would let `(a+) +` past the guard below.
        raise ValueError("verbose mode (?x) is not supported in patterns")
    if has_nested_quantifier(pattern):
        raise ValueError("a repeated group may not contain a quantifier, as in (a+)+: "
                         "it can take exponential time on some texts")


# --- the models --------------------------------------------------------------------------


class Condition(BaseModel):
    """One test on one field of the facts."""

    model_config = ConfigDict(extra="forbid")

    field: FieldName
    op: Operator
    value: str | list[str]

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: str | list[str]) -> str | list[str]:
        for item in [value] if isinstance(value, str) else value:
            if len(item) > MAX_PATTERN_LENGTH:
                raise ValueError(f"a condition value is at most {MAX_PATTERN_LENGTH} characters")
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
        elif self.op == "matches":
            check_pattern(str(self.value))
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
    status: str = "new"
    tags: list[str] = []
    at: AwareDatetime

    @classmethod
    def from_ticket(cls, ticket: Ticket, *, at: datetime, tags: Sequence[str] = ()) -> Facts:
        """The facts of a stored ticket, as seen at `at` (the time of the update)."""
        return cls(
            channel=ticket.channel.value, requester_email=ticket.requester_email,
            subject=ticket.subject, description=ticket.description, category=ticket.category,
            priority=ticket.priority, team=ticket.team, status=ticket.status, tags=list(tags), at=at,
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
        return re.search(expected, actual[:MAX_MATCH_TEXT], re.IGNORECASE) is not None
    if op == "before":
        return actual < expected  # zero-padded HH:MM sorts as time does
    if op == "after":
        return actual >= expected
    if op in ("contains", "not_contains"):
        return (expected.casefold() in folded) == (op == "contains")
    return (folded == expected.casefold()) == (op == "equals")


def _check(condition: Condition, facts: Facts, local: datetime) -> dict[str, Any]:
    actual = _actual(condition.field, facts, local)
    value = condition.value if isinstance(condition.value, str) else list(condition.value)
    return {
        "field": condition.field, "op": condition.op, "value": value,
        "actual": _clip(actual), "result": _holds(condition.op, condition.value, actual),
    }


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
