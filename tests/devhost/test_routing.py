"""Route templates: parsing, matching and ASP.NET precedence."""

from __future__ import annotations

import pytest

from devhost.routing import (
    MethodNotAllowed,
    RouteMatch,
    RouteTable,
    RouteTemplateError,
    parse_template,
    split_path,
)


def table(*routes: tuple[str, list[str] | None]) -> RouteTable[str]:
    t: RouteTable[str] = RouteTable("api")
    for template, methods in routes:
        t.add(template, methods, template)
    return t


def hit(t: RouteTable[str], path: str, method: str = "GET") -> tuple[str, dict[str, str]]:
    found = t.match(method, path)
    assert isinstance(found, RouteMatch), f"{method} {path} -> {found}"
    return found.route.payload, found.values


def test_parameters_are_extracted_and_decoded() -> None:
    t = table(("tickets/{number}/attachments/{id}", None))
    assert hit(t, "/api/tickets/HD-1/attachments/a%20b%2Fc") == (
        "tickets/{number}/attachments/{id}",
        {"number": "HD-1", "id": "a b/c"},
    )


def test_literal_beats_parameter_whatever_the_order_added() -> None:
    for routes in (
        [("tickets/{number}", None), ("tickets/search", None)],
        [("tickets/search", None), ("tickets/{number}", None)],
    ):
        t = table(*routes)
        assert hit(t, "/api/tickets/search")[0] == "tickets/search"
        assert hit(t, "/api/tickets/123") == ("tickets/{number}", {"number": "123"})


def test_precedence_literal_constrained_plain_catch_all() -> None:
    t = table(("x/{*rest}", None), ("x/{name}", None), ("x/{id:int}", None), ("x/new", None))
    assert hit(t, "/api/x/new")[0] == "x/new"
    assert hit(t, "/api/x/12")[0] == "x/{id:int}"
    assert hit(t, "/api/x/abc")[0] == "x/{name}"
    assert hit(t, "/api/x/a/b") == ("x/{*rest}", {"rest": "a/b"})


def test_literals_and_prefix_match_case_insensitively() -> None:
    t = table(("Tickets/Search", None))
    assert hit(t, "/API/tickets/SEARCH")[0] == "Tickets/Search"


def test_parameter_values_keep_their_case() -> None:
    assert hit(table(("t/{v}", None)), "/api/t/MiXeD")[1] == {"v": "MiXeD"}


def test_optional_parameter_and_default() -> None:
    t = table(("pages/{page?}", None), ("sizes/{size=10}", None))
    assert hit(t, "/api/pages") == ("pages/{page?}", {})
    assert hit(t, "/api/pages/2")[1] == {"page": "2"}
    assert t.match("GET", "/api/pages/2/3") is None
    assert hit(t, "/api/sizes")[1] == {"size": "10"}
    assert hit(t, "/api/sizes/5")[1] == {"size": "5"}


def test_catch_all_may_be_empty() -> None:
    t = table(("files/{*path}", None))
    assert hit(t, "/api/files") == ("files/{*path}", {})
    assert hit(t, "/api/files/a/b/c.txt")[1] == {"path": "a/b/c.txt"}


@pytest.mark.parametrize(
    ("template", "good", "bad"),
    [
        ("n/{v:int}", "-42", "4.2"),
        ("n/{v:int}", "2147483647", "2147483648"),
        ("n/{v:alpha}", "abcXYZ", "abc1"),
        ("n/{v:bool}", "True", "yes"),
        ("n/{v:guid}", "5f0c6a3e-7e4b-4a5b-9d0e-1f2a3b4c5d6e", "not-a-guid"),
        ("n/{v:min(10)}", "10", "9"),
        ("n/{v:range(1,3)}", "3", "4"),
        ("n/{v:length(2)}", "ab", "abc"),
        ("n/{v:maxlength(3)}", "abc", "abcd"),
        ("n/{v:regex(^\\d{{3}}$)}", "123", "1234"),
        ("n/{v:int:min(1)}", "1", "0"),
    ],
)
def test_constraints(template: str, good: str, bad: str) -> None:
    t = table((template, None))
    assert hit(t, f"/api/n/{good}")[1] == {"v": good}
    assert t.match("GET", f"/api/n/{bad}") is None


def test_unknown_constraint_is_ignored() -> None:
    t = table(("n/{v:someday}", None))
    assert hit(t, "/api/n/x")[1] == {"v": "x"}


def test_complex_segment() -> None:
    t = table(("reports/{name}.{ext}", None))
    assert hit(t, "/api/reports/sla.2024.csv")[1] == {"name": "sla.2024", "ext": "csv"}
    assert t.match("GET", "/api/reports/noext") is None


def test_method_not_allowed_versus_not_found() -> None:
    t = table(("tickets/{number}", ["GET", "PUT"]), ("tickets/search", ["GET"]))
    assert t.match("DELETE", "/api/tickets/1") == MethodNotAllowed(frozenset({"GET", "PUT"}))
    assert t.match("GET", "/api/nothing") is None
    assert t.match("GET", "/elsewhere/tickets/1") is None
    # A literal route that refuses the method lets a parameter route take the request.
    assert hit(t, "/api/tickets/search", "PUT") == ("tickets/{number}", {"number": "search"})


def test_methods_accept_enum_values() -> None:
    import azure.functions as func

    t: RouteTable[str] = RouteTable("api")
    t.add("a", [func.HttpMethod.POST], "a")
    assert isinstance(t.match("post", "/api/a"), RouteMatch)
    assert isinstance(t.match("GET", "/api/a"), MethodNotAllowed)


def test_empty_and_nested_prefix() -> None:
    bare: RouteTable[str] = RouteTable("")
    bare.add("hello", None, "hello")
    assert isinstance(bare.match("GET", "/hello"), RouteMatch)
    nested: RouteTable[str] = RouteTable("api/v1")
    nested.add("hello", None, "hello")
    assert isinstance(nested.match("GET", "/api/v1/hello"), RouteMatch)
    assert nested.match("GET", "/api/hello") is None


def test_trailing_slash_is_ignored() -> None:
    assert hit(table(("tickets", None)), "/api/tickets/")[0] == "tickets"


@pytest.mark.parametrize(
    "template",
    ["a/{*rest}/b", "a/{x?}/b", "a/{", "a/}", "a//b", "a/{bad name}", "a/{x?}{y}"],
)
def test_malformed_templates_are_rejected(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        parse_template(template)


def test_split_path_decodes_each_segment() -> None:
    assert split_path("/api/a%2Fb/c%20d/") == ["api", "a/b", "c d"]
    assert split_path("/") == []


def test_bad_route_in_the_registry_stops_the_host() -> None:
    from types import SimpleNamespace

    from devhost.functions import FunctionSpec
    from devhost.http_server import build_route_table
    from devhost.loader import LoadError

    trigger = SimpleNamespace(type="httpTrigger", name="req", route="a/{*x}/b", methods=None)
    spec = FunctionSpec(
        name="broken",
        trigger=trigger,
        output_bindings=(),
        user_function=lambda req: None,
        is_async=False,
        wants_context=False,
        parameters=frozenset({"req"}),
        directory="",
    )
    with pytest.raises(LoadError, match="function broken"):
        build_route_table([spec], "api")


def test_a_root_page_under_an_empty_prefix_as_azure_allows_it() -> None:
    """`routePrefix: ""` with the app's routes under `api/` and a page at `/` through the
    template Azure documents for an empty path: the host can run the app that way."""
    t: RouteTable[str] = RouteTable("")
    for template in ("{ignored:maxlength(0)?}", "api/form", "api/static/{*path}",
                     "api/tickets/{number}"):
        t.add(template, ["GET"], template)
    assert hit(t, "/") == ("{ignored:maxlength(0)?}", {})
    assert hit(t, "/api/form") == ("api/form", {})
    assert hit(t, "/api/tickets/12345674") == ("api/tickets/{number}", {"number": "12345674"})
    assert hit(t, "/api/static/agent/app.js") == ("api/static/{*path}", {"path": "agent/app.js"})
    assert t.match("GET", "/form") is None  # one segment: too long for the root's template
