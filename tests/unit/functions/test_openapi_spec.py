"""The OpenAPI description covers every HTTP function the app registers, and only those."""

from __future__ import annotations

import re

from functions.openapi_spec import spec
from shared.core.actions import BODIES
from shared.core.lifecycle import Action
from shared.tickets.actionbodies import SYSTEM_ACTIONS
from tests.registry import http_functions


def serves(route: str, path: str) -> bool:
    """Whether a registered route answers a described path: a `{parameter}` of the route
    takes any one segment (the generic ticket action serves /assign, /reply, ...)."""
    route_parts, path_parts = route.split("/"), path.split("/")
    return len(route_parts) == len(path_parts) and all(
        r.startswith("{") or r == p for r, p in zip(route_parts, path_parts, strict=True))


def test_every_endpoint_is_described_with_its_methods():
    described = {(path, method.upper()) for path, ops in spec()["paths"].items() for method in ops}
    registered = {("/api/" + fn.route, method.upper())
                  for fn in http_functions() for method in fn.methods}
    for path, method in described:
        assert any(serves(route, path) for route, m in registered if m == method), (method, path)
    for route, method in registered:
        assert any(serves(route, path) for path, m in described if m == method), (method, route)


def test_every_action_of_the_lifecycle_is_its_own_path_with_its_own_body():
    document = spec()
    schemas = document["components"]["schemas"]
    agent_actions = [a for a in Action if a not in SYSTEM_ACTIONS]
    assert "/api/tickets/{number}/{action}" not in document["paths"]
    for action in agent_actions:
        operation = document["paths"][f"/api/tickets/{{number}}/{action.value}"]["post"]
        [number] = [p for p in operation["parameters"] if p["in"] == "path"]
        assert number["name"] == "number"
        assert "If-Match" in [p["name"] for p in operation["parameters"]]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert "oneOf" not in schema
        name = schema["$ref"].rsplit("/", 1)[1]
        assert name == BODIES[action].__name__ and name in schemas
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/AgentTicketView")
        assert set(operation["responses"]) >= {"401", "403", "404", "409", "412", "422"}
    assigned = document["paths"]["/api/tickets/{number}/assign"]["post"]
    assert '"me"' in assigned["summary"]
    escalate = schemas["EscalateBody"]
    assert set(escalate["required"]) == {"tier", "reason"}


def test_the_email_pipe_is_described_as_osticket_scripts_read_it():
    ok = spec()["paths"]["/api/tickets.email"]["post"]["responses"]
    assert "200" not in ok
    assert set(ok["201"]["content"]) == {"text/plain", "application/json"}


def test_every_reference_resolves_and_errors_are_problem_json():
    document = spec()
    assert document["openapi"] == "3.1.0"
    schemas = document["components"]["schemas"]
    text = str(document)
    for name in re.findall(r"#/components/schemas/([A-Za-z0-9_-]+)", text):
        assert name in schemas, name
    for ops in document["paths"].values():
        for op in ops.values():
            for code, response in op["responses"].items():
                if code.startswith("4") or code.startswith("5"):
                    assert "application/problem+json" in response["content"]
