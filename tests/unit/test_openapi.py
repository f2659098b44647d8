"""The OpenAPI description covers every HTTP function the app registers, and only those."""

from __future__ import annotations

import re

from shared.openapi import spec
from tests.registry import http_functions


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_endpoint_is_described_with_its_methods():
    described = {(normalise(path), method.upper())
                 for path, ops in spec()["paths"].items() for method in ops}
    registered = {(normalise("/api/" + fn.route), method.upper())
                  for fn in http_functions() for method in fn.methods}
    assert described == registered


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
