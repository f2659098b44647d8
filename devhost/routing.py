"""ASP.NET-style route templates, as the Functions host matches them.

Supported template syntax, per `/`-separated segment:

- literals (`tickets`), matched case-insensitively;
- parameters `{number}`, optional `{page?}`, with a default `{page=1}`;
- a catch-all `{*rest}` or `{**rest}` as the last segment (it may match nothing);
- inline constraints `{id:int}`, `{id:int:min(1)}`, `{code:alpha}`, `{x:regex(^a+$)}`
  (see `_CONSTRAINTS`; an unknown constraint is ignored with a warning);
- complex segments mixing literals and parameters, e.g. `{name}.{ext}`.

Precedence follows ASP.NET's `RoutePrecedence`: segment by segment a literal beats a
complex segment, which beats a constrained parameter, then a plain parameter, then a
catch-all. So `tickets/search` wins over `tickets/{number}` for GET
`/api/tickets/search`. A route whose path matches but whose methods exclude the
request's method is skipped; when no route accepts the method the answer is
`MethodNotAllowed` (405), when no path matches it is `None` (404).

Route values are percent-decoded strings, as `HttpRequest.route_params` holds them.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import unquote

log = logging.getLogger("devhost")

P = TypeVar("P")


class RouteTemplateError(ValueError):
    """A route template the host could not parse."""


# --- constraints ---------------------------------------------------------------


def _int_in(bits: int) -> Callable[[str], bool]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return lambda v: bool(re.fullmatch(r"-?\d+", v)) and low <= int(v) <= high


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return v.strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity")


def _is_guid(v: str) -> bool:
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return True


def _is_datetime(v: str) -> bool:
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": _int_in(32),
    "long": _int_in(64),
    "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
    "bool": lambda v: v.lower() in ("true", "false"),
    "guid": _is_guid,
    "double": _is_float,
    "float": _is_float,
    "decimal": _is_float,
    "datetime": _is_datetime,
    "required": lambda v: v != "",
}


def _with_args(name: str, args: list[str]) -> Callable[[str], bool]:
    if name == "regex":
        pattern = re.compile(",".join(args), re.IGNORECASE)  # ASP.NET: IsMatch, ignore case
        return lambda v: pattern.search(v) is not None
    nums = [int(a) for a in args]
    is_int = _int_in(64)
    if name == "min":
        return lambda v: is_int(v) and int(v) >= nums[0]
    if name == "max":
        return lambda v: is_int(v) and int(v) <= nums[0]
    if name == "range":
        return lambda v: is_int(v) and nums[0] <= int(v) <= nums[1]
    if name == "length":
        low, high = (nums[0], nums[0]) if len(nums) == 1 else (nums[0], nums[1])
        return lambda v: low <= len(v) <= high
    if name == "minlength":
        return lambda v: len(v) >= nums[0]
    if name == "maxlength":
        return lambda v: len(v) <= nums[0]
    raise KeyError(name)


def _constraint(text: str, template: str) -> Callable[[str], bool] | None:
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.DOTALL)
    if not match:
        raise RouteTemplateError(f"bad constraint {text!r} in route {template!r}")
    name, args = match.group(1).lower(), match.group(2)
    try:
        if args is None:
            return _SIMPLE[name]
        return _with_args(name, args.split(",") if name != "regex" else [args])
    except KeyError:
        log.warning("route %r: constraint %r is not emulated; ignored", template, text)
        return None
    except (ValueError, IndexError, re.error) as exc:
        raise RouteTemplateError(f"bad constraint {text!r} in route {template!r}: {exc}") from exc


# --- parsing -------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    optional: bool
    catch_all: bool
    default: str | None
    checks: tuple[Callable[[str], bool], ...]

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


@dataclass(frozen=True)
class Segment:
    parts: tuple[str | Param, ...]
    regex: re.Pattern[str] | None  # only for complex segments

    @property
    def param(self) -> Param | None:
        if len(self.parts) == 1 and isinstance(self.parts[0], Param):
            return self.parts[0]
        return None

    @property
    def may_be_absent(self) -> bool:
        p = self.param
        return p is not None and (p.optional or p.catch_all or p.default is not None)

    def precedence_digit(self) -> int:
        if len(self.parts) > 1:
            return 2
        part = self.parts[0]
        if isinstance(part, str):
            return 1
        digit = 5 if part.catch_all else 3
        return digit - 1 if part.checks else digit


def _split_parts(text: str, template: str) -> list[str | Param]:
    """Split one segment into literal text and `{parameter}` tokens (`{{` escapes `{`)."""
    parts: list[str | Param] = []
    literal = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            literal += ch
            i += 2
        elif ch == "{":
            end = _closing_brace(text, i, template)
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(_parse_param(text[i + 1 : end], template))
            i = end + 1
        elif ch == "}":
            raise RouteTemplateError(f"unbalanced '}}' in route {template!r}")
        else:
            literal += ch
            i += 1
    if literal:
        parts.append(literal)
    return parts


def _closing_brace(text: str, start: int, template: str) -> int:
    """Index of the `}` closing the parameter opened at start (`{{`, `}}` are escapes)."""
    i = start + 1
    while i < len(text):
        if text.startswith("{{", i) or text.startswith("}}", i):
            i += 2
        elif text[i] == "}":
            return i
        else:
            i += 1
    raise RouteTemplateError(f"unclosed '{{' in route {template!r}")


def _parse_param(body: str, template: str) -> Param:
    body = body.replace("{{", "{").replace("}}", "}")
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    if optional:
        body = body[:-1]
    body, default = _split_default(body)
    pieces = _split_outside_parens(body, ":")
    name = pieces[0]
    if not re.fullmatch(r"\w+", name):
        raise RouteTemplateError(f"bad parameter name {name!r} in route {template!r}")
    checks = tuple(c for c in (_constraint(p, template) for p in pieces[1:]) if c is not None)
    return Param(name, optional, catch_all, default, checks)


def _split_default(body: str) -> tuple[str, str | None]:
    """Split `name:constraint=default` at the first `=` outside a constraint's parentheses."""
    depth = 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "=" and depth == 0:
            return body[:i], body[i + 1 :]
    return body, None


def _split_outside_parens(text: str, sep: str) -> list[str]:
    pieces, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            pieces.append(current)
            current = ""
        else:
            current += ch
    pieces.append(current)
    return pieces


def parse_template(template: str) -> tuple[Segment, ...]:
    """Parse a route template into segments; raise RouteTemplateError if malformed."""
    segments = []
    raw_segments = [s for s in template.strip("/").split("/")] if template.strip("/") else []
    for index, raw in enumerate(raw_segments):
        if raw == "":
            raise RouteTemplateError(f"empty segment in route {template!r}")
        parts = _split_parts(raw, template)
        regex = None
        if len(parts) > 1:
            if any(isinstance(p, Param) and (p.catch_all or p.optional) for p in parts):
                raise RouteTemplateError(
                    f"optional/catch-all inside a complex segment: {template!r}"
                )
            # Greedy groups: like ASP.NET, the last literal wins (`{name}.{ext}` on a.b.pdf).
            pattern = "".join(
                f"(?P<{p.name}>.+)" if isinstance(p, Param) else re.escape(p) for p in parts
            )
            regex = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        segment = Segment(tuple(parts), regex)
        param = segment.param
        if param and param.catch_all and index != len(raw_segments) - 1:
            raise RouteTemplateError(f"a catch-all must be the last segment: {template!r}")
        segments.append(segment)
    # Once a segment may be absent, every later one must be too (ASP.NET's rule).
    seen_optional = False
    for segment in segments:
        if seen_optional and not segment.may_be_absent:
            raise RouteTemplateError(f"an optional parameter must come last: {template!r}")
        seen_optional = seen_optional or segment.may_be_absent
    return tuple(segments)


# --- matching ------------------------------------------------------------------


def match_segments(segments: tuple[Segment, ...], path: list[str]) -> dict[str, str] | None:
    """Match decoded path segments against a parsed template; return route values."""
    values: dict[str, str] = {}
    for index, segment in enumerate(segments):
        param = segment.param
        if param is not None and param.catch_all:
            rest = "/".join(path[index:])
            value = rest or param.default
            if value is None:
                return values
            if not param.accepts(value):
                return None
            values[param.name] = value
            return values
        if index >= len(path):
            if not segment.may_be_absent:
                return None
            if param is not None and param.default is not None:
                values[param.name] = param.default
            continue
        text = path[index]
        if param is not None:
            if text == "" or not param.accepts(text):
                return None
            values[param.name] = text
        elif segment.regex is not None:
            found = segment.regex.fullmatch(text)
            if not found:
                return None
            for part in segment.parts:
                if isinstance(part, Param):
                    if not part.accepts(found.group(part.name)):
                        return None
                    values[part.name] = found.group(part.name)
        elif text.casefold() != str(segment.parts[0]).casefold():
            return None
    if len(path) > len(segments):
        return None
    return values


def split_path(raw_path: str) -> list[str]:
    """Split a raw (still percent-encoded) URL path into decoded segments."""
    trimmed = raw_path.strip("/")
    return [unquote(s) for s in trimmed.split("/")] if trimmed else []


@dataclass(frozen=True)
class Route(Generic[P]):
    template: str
    methods: frozenset[str] | None  # None: every method
    payload: P
    segments: tuple[Segment, ...]

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.precedence_digit() for s in self.segments)


@dataclass(frozen=True)
class RouteMatch(Generic[P]):
    route: Route[P]
    values: dict[str, str]


@dataclass(frozen=True)
class MethodNotAllowed:
    allowed: frozenset[str]


class RouteTable(Generic[P]):
    """All HTTP routes of the app under one prefix, in precedence order."""

    def __init__(self, prefix: str = "api") -> None:
        self.prefix = prefix.strip("/")
        self._prefix_segments = split_path(self.prefix)
        self._routes: list[Route[P]] = []

    def add(self, template: str, methods: Any, payload: P) -> Route[P]:
        upper = frozenset(str(getattr(m, "value", m)).upper() for m in methods) if methods else None
        route = Route(template.strip("/"), upper, payload, parse_template(template))
        self._routes.append(route)
        # Stable sort: equal precedence keeps ASP.NET's tie-break on template text.
        self._routes.sort(key=lambda r: (r.precedence, r.template.casefold()))
        return route

    @property
    def routes(self) -> list[Route[P]]:
        return list(self._routes)

    def match(self, method: str, raw_path: str) -> RouteMatch[P] | MethodNotAllowed | None:
        """Find the route for a request; see the module docstring for the outcomes."""
        path = split_path(raw_path)
        n = len(self._prefix_segments)
        if [s.casefold() for s in path[:n]] != [s.casefold() for s in self._prefix_segments]:
            return None
        path = path[n:]
        allowed: set[str] = set()
        path_matched = False
        for route in self._routes:
            values = match_segments(route.segments, path)
            if values is None:
                continue
            if route.methods is None or method.upper() in route.methods:
                return RouteMatch(route, values)
            path_matched = True
            allowed |= route.methods
        return MethodNotAllowed(frozenset(allowed)) if path_matched else None
