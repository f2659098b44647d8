"""A category's own fields (osTicket's help-topic forms): their definitions, and the
checking of the values a submission or an agent gives them. Pure: no I/O.

How values are kept, and why nothing is lost when a definition changes:
- a ticket keeps its values in one map, keyed by the field's `id` (`Ticket.fields`),
  never by its label: renaming a label, reordering fields, changing a field's type,
  its choices or whether it is required leaves every stored value as it was;
- an id is lower-case letters, digits and `_`, starting with a letter, at most 40
  characters (`FIELD_ID`); it means the same field in every category, so a ticket moved
  to another category that defines the same id keeps and shows the value there;
- a value whose field is no longer defined for the ticket's category (removed, or the
  ticket moved category) stays on the ticket: agents see it as retired, may clear it,
  and cannot set it again; a choice no longer offered stays as it was stored (shown, and
  kept by edits that do not touch it); values are checked against the definition only
  when they are given;
- `visibility` is `requester` (shown on the web form, the portal, accepted from
  requesters) or `agents` (never on the public form, the portal, an email or an answer
  to a requester; a requester who sends one gets the same answer as for an unknown field).

Limits: `MAX_FIELDS` per category, `MAX_CHOICES` choices of `MAX_CHOICE_CHARS` each, text
values of `MAX_TEXT_CHARS`, and all of a ticket's values together `MAX_TOTAL_CHARS` as
JSON (a table property holds 32K UTF-16 units; the index row carries them too).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

FIELD_ID = r"^[a-z][a-z0-9_]{0,39}$"
MAX_FIELDS = 20
MAX_CHOICES = 50
MAX_CHOICE_CHARS = 100
MAX_TEXT_CHARS = 1_000
MAX_TOTAL_CHARS = 24_000
MAX_NUMBER = 1e15

FieldType = Literal["text", "number", "date", "choice", "multi-choice", "checkbox"]
Visibility = Literal["requester", "agents"]
Audience = Literal["requester", "agent"]
CHOICE_TYPES = ("choice", "multi-choice")

FieldId = Annotated[str, StringConstraints(pattern=FIELD_ID)]
ChoiceText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=MAX_CHOICE_CHARS)]


class FieldDef(BaseModel):
    """One extra field of a category."""

    model_config = ConfigDict(extra="forbid")

    id: FieldId = Field(description="stable key of the stored values (never shown as a label)")
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200)]
    type: FieldType
    required: bool = False
    visibility: Visibility = Field("requester", description="`agents`: never shown to or "
                                   "accepted from requesters")
    choices: list[ChoiceText] = Field(default_factory=list, max_length=MAX_CHOICES,
                                      description="for choice and multi-choice")
    help: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""

    @model_validator(mode="after")
    def _choices_fit(self) -> FieldDef:
        if self.type in CHOICE_TYPES:
            if not self.choices:
                raise ValueError(f"a {self.type} field needs choices")
            if len({c.casefold() for c in self.choices}) != len(self.choices):
                raise ValueError("each choice once")
        elif self.choices:
            raise ValueError(f"a {self.type} field has no choices")
        return self

    @property
    def public(self) -> bool:
        return self.visibility == "requester"


def check_definitions(fields: list[FieldDef]) -> list[FieldDef]:
    """A category's list: at most `MAX_FIELDS`, each id once."""
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"at most {MAX_FIELDS} fields per category")
    ids = [f.id for f in fields]
    if len(set(ids)) != len(ids):
        raise ValueError("each field id once")
    return fields


def visible(defs: list[FieldDef], audience: Audience) -> list[FieldDef]:
    return [d for d in defs if audience == "agent" or d.public]


def public_values(defs: list[FieldDef], values: Mapping[str, Any]) -> dict[str, Any]:
    """What a requester may see of a ticket's values: those of requester fields only (a
    retired value is not shown: its visibility is no longer known)."""
    public = {d.id for d in defs if d.public}
    return {k: v for k, v in values.items() if k in public}


_YES = {"yes", "true", "on", "1"}
_NO = {"no", "false", "off", "0"}


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []


def _text_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _choice(defn: FieldDef, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("a choice, as text")
    wanted = raw.strip().casefold()
    for choice in defn.choices:
        if choice.casefold() == wanted:
            return choice
    raise ValueError(f"one of: {', '.join(defn.choices)}")


def clean(defn: FieldDef, raw: Any) -> Any:
    """The value to store for `raw` (None: no value); `ValueError` saying what is wrong."""
    if _empty(raw):
        return None
    if defn.type == "text":
        if not isinstance(raw, str):
            raise ValueError("text")
        text = "".join(c for c in raw.strip() if c in "\n\t" or c.isprintable())
        if _text_units(text) > MAX_TEXT_CHARS:
            raise ValueError(f"at most {MAX_TEXT_CHARS} characters")
        return text or None
    if defn.type == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError("a number")
        try:
            number = float(raw.strip().replace(",", ".") if isinstance(raw, str) else raw)
        except (ValueError, OverflowError):
            raise ValueError("a number") from None
        if not math.isfinite(number) or abs(number) > MAX_NUMBER:
            raise ValueError(f"a number between {-MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}")
        return int(number) if number.is_integer() else number
    if defn.type == "date":
        if not isinstance(raw, str) or len(raw.strip()) != 10:
            raise ValueError("a date, YYYY-MM-DD")
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            raise ValueError("a date, YYYY-MM-DD") from None
    if defn.type == "choice":
        return _choice(defn, raw)
    if defn.type == "multi-choice":
        items = raw if isinstance(raw, list) else [raw]
        chosen = {_choice(defn, item) for item in items}
        return [c for c in defn.choices if c in chosen]
    # checkbox
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _YES | _NO:
        return raw.strip().lower() in _YES
    raise ValueError("true or false")


def _missing(value: Any) -> bool:
    return value is None or value is False or value == []


def total_size(values: Mapping[str, Any]) -> int:
    return _text_units(dumps(values))


def dumps(values: Mapping[str, Any]) -> str:
    """The stored form: JSON, keys sorted, so equal maps are equal text (the index compares)."""
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _too_big(values: Mapping[str, Any]) -> list[dict[str, str]]:
    if total_size(values) > MAX_TOTAL_CHARS:
        return [{"field": "fields", "message": f"at most {MAX_TOTAL_CHARS} characters in all"}]
    return []


def check_submission(defs: list[FieldDef], given: Any, *, category: str,
                     audience: Audience, require: Audience | None
                     ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The values of a new ticket, and an error for each bad field (`fields.<id>`).

    A field the submitter (`audience`) may not see is refused as unknown; `require`
    enforces the required fields that audience sees (None: none, as for an email)."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        return {}, [{"field": "fields", "message": "an object of field id → value"}]
    shown = {d.id: d for d in visible(defs, audience)}
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for key, raw in given.items():
        defn = shown.get(str(key))
        if defn is None:
            errors.append({"field": f"fields.{key}",
                           "message": f"not a field of category {category!r}"})
            continue
        try:
            value = clean(defn, raw)
        except ValueError as exc:
            errors.append({"field": f"fields.{key}", "message": str(exc)})
            continue
        if value is not None:
            values[defn.id] = value
    if require is not None:
        for defn in visible(defs, require):
            if defn.required and _missing(values.get(defn.id)) \
                    and not any(e["field"] == f"fields.{defn.id}" for e in errors):
                errors.append({"field": f"fields.{defn.id}",
                               "message": f"{defn.label} is required"})
    return values, errors or _too_big(values)


def check_edit(defs: list[FieldDef], current: Mapping[str, Any], given: Mapping[str, Any]
               ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict[str, str]]]:
    """An agent's edit: the ticket's new values, what changed (`{id: {from, to}}`), and
    an error per bad field. `given` maps ids to new values; null or "" clears one. A
    retired value may be cleared, not set; a required field may not be cleared."""
    by_id = {d.id: d for d in defs}
    values = dict(current)
    changes: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, str]] = []
    for key, raw in given.items():
        defn = by_id.get(key)
        if defn is None:
            if key in current and _empty(raw):
                value = None
            else:
                message = "a retired field: it can only be cleared" if key in current \
                    else "not a field of this ticket's category"
                errors.append({"field": f"fields.{key}", "message": message})
                continue
        else:
            try:
                value = clean(defn, raw)
            except ValueError as exc:
                errors.append({"field": f"fields.{key}", "message": str(exc)})
                continue
            if defn.required and _missing(value):
                errors.append({"field": f"fields.{key}", "message": f"{defn.label} is required"})
                continue
        before = current.get(key)
        if value == before and type(value) is type(before):
            continue
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
        changes[key] = {"from": before, "to": value}
    return values, changes, errors or _too_big(values)


def as_text(value: Any) -> str:
    """A value as one line of text (the CSV export, rules, history)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
