"""The documents say what the code does: read both and compare.

- docs/architecture.md's module map names every package under `shared/` (and every module
  of each), and nothing that is gone; its storage table names exactly the tables,
  containers and queues the code uses (read by `tests/infra/templates.code_inventory`,
  the same reader that checks the Bicep templates); its list of where the layering rule
  is not kept yet is what the imports say.
- docs/api.md's table names every path and method of the OpenAPI document, and no other.
- Every file a document names, and every relative link, exists.

Each comparison is a function of the document's text and the code's facts, so the tests
at the end can show that a deliberate mismatch is caught.
"""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.infra import templates as t

ROOT = t.ROOT
SHARED = ROOT / "shared"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
API = ROOT / "docs" / "api.md"
DOCUMENTS = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def table(text: str, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header row starts with `| <header> |`, as cells
    (an escaped `\\|` stays inside its cell)."""
    rows: list[list[str]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"| {header} |"):
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                cells = re.split(r"(?<!\\)\|", row.strip()[1:-1])
                rows.append([cell.strip() for cell in cells])
            return rows
    raise AssertionError(f"no table with the header {header!r}")


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# --- the module map ----------------------------------------------------------------------


def code_packages(shared: Path = SHARED) -> dict[str, set[str] | None]:
    """`shared/<package>/` → its modules (file stems, without `__init__`), for every package
    at any depth; `shared/<module>.py` → None for the top-level modules."""
    found: dict[str, set[str] | None] = {}
    for init in sorted(shared.rglob("__init__.py")):
        folder = init.parent
        if folder == shared:
            continue
        name = folder.relative_to(shared.parent).as_posix() + "/"
        found[name] = {p.stem for p in folder.glob("*.py") if p.name != "__init__.py"}
    for module in sorted(shared.glob("*.py")):
        if module.name != "__init__.py":
            found[module.relative_to(shared.parent).as_posix()] = None
    return found


def documented_packages(text: str) -> dict[str, set[str]]:
    out = {}
    for cells in table(text, "package"):
        names = code_spans(cells[0])
        assert len(names) == 1, f"one package per line of the module map: {cells[0]}"
        out[names[0]] = set(code_spans(cells[2]))
    return out


def module_map_problems(text: str, code: dict[str, set[str] | None]) -> list[str]:
    documented = documented_packages(text)
    problems = []
    for name in sorted(code.keys() - documented.keys()):
        problems.append(f"{name} exists: add a line for it to the module map")
    for name in sorted(documented.keys() - code.keys()):
        problems.append(f"{name} is in the module map but not in shared/: remove or rename it")
    for name in sorted(code.keys() & documented.keys()):
        modules = code[name] or set()
        for module in sorted(modules - documented[name]):
            problems.append(f"{name}{module}.py exists: add `{module}` to its line of the module map")
        for module in sorted(documented[name] - modules):
            problems.append(f"the module map lists `{module}` in {name}, which has no {module}.py")
    return problems


def test_the_module_map_names_every_package_and_module_and_nothing_else() -> None:
    assert module_map_problems(ARCHITECTURE.read_text(encoding="utf-8"), code_packages()) == []


# --- the storage table -------------------------------------------------------------------


KINDS = {"table": "tables", "container": "containers", "queue": "queues"}


def documented_storage(text: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {kind: set() for kind in KINDS.values()}
    for cells in table(text, "where"):
        kind = cells[0].split(" ", 1)[0]
        assert kind in KINDS, f"the storage table's first column starts with table, container or queue: {cells[0]}"
        found[KINDS[kind]] |= set(code_spans(cells[0]))
    return found


def storage_problems(text: str, code: t.Inventory) -> list[str]:
    documented = documented_storage(text)
    problems = []
    for kind in KINDS.values():
        used = getattr(code, kind)
        for name in sorted(used - documented[kind]):
            problems.append(f"the code uses {kind[:-1]} {name!r}: add it to the storage table")
        for name in sorted(documented[kind] - used):
            problems.append(f"the storage table lists {kind[:-1]} {name!r}, which the code does not use")
    return problems


@pytest.fixture(scope="module")
def inventory() -> t.Inventory:
    return t.code_inventory()


def test_the_storage_table_lists_exactly_the_tables_containers_and_queues_in_use(
        inventory: t.Inventory) -> None:
    assert storage_problems(ARCHITECTURE.read_text(encoding="utf-8"), inventory) == []


# --- the layering rule -------------------------------------------------------------------


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def documented_layers(text: str) -> list[str]:
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def checked_layers() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    [section] = [s for s in config.sections() if config[s].get("type") == "layers"]
    return [line.strip() for line in config[section]["layers"].splitlines() if line.strip()]


def test_the_layers_written_down_are_the_layers_checked() -> None:
    """The layering itself is checked by lint-imports and tests/unit/test_architecture.py;
    this keeps the picture in the docs the one they check."""
    assert documented_layers(ARCHITECTURE.read_text(encoding="utf-8")) == checked_layers()


# --- the API ------------------------------------------------------------------------------


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def openapi_operations() -> set[tuple[str, str]]:
    from functions.openapi_spec import spec

    return {(method.upper(), normalise(path)) for path, item in spec()["paths"].items()
            for method in item if method in ("get", "put", "post", "delete", "patch")}


def documented_operations(text: str) -> set[tuple[str, str]]:
    """Every `METHOD /api/...` in the first column of the API table; `{action}` stands for
    each of the agents' actions (the OpenAPI document gives each its own path)."""
    from functions.openapi_spec import AGENT_ACTIONS

    found = set()
    for cells in table(text, "method and path"):
        spans = [s for s in code_spans(cells[0]) if re.match(r"(GET|PUT|POST|DELETE|PATCH) /", s)]
        assert spans, f"the API table's row names no `METHOD /api/path`: {cells[0]}"
        for span in spans:
            method, path = span.split(" ", 1)
            paths = ([path.replace("{action}", a.value) for a in AGENT_ACTIONS]
                     if path.endswith("/{action}") else [path])
            found |= {(method, normalise(p)) for p in paths}
    return found


def api_problems(text: str, operations: set[tuple[str, str]]) -> list[str]:
    documented = documented_operations(text)
    return ([f"{m} {p} is in /api/openapi.json but not in docs/api.md" for m, p in sorted(operations - documented)]
            + [f"docs/api.md lists {m} {p}, which /api/openapi.json does not have"
               for m, p in sorted(documented - operations)])


def test_the_api_table_names_every_operation_of_the_openapi_document_and_no_other() -> None:
    assert api_problems(API.read_text(encoding="utf-8"), openapi_operations()) == []


# --- files and links ----------------------------------------------------------------------


# Made by a build, not kept in git: infra/package.py, make bench, make install.
GENERATED = ("infra/build/", "bench/results/", "functions/static/vendor/")
TOP = ("shared", "functions", "tests", "tools", "devhost", "devtools", "infra", "bench", "docs")


def named_paths(text: str) -> Iterable[str]:
    for span in re.findall(r"`([^`\s]+)`", text):
        if span.split("/", 1)[0] in TOP and "/" in span or span in ("function_app.py", "host.json"):
            if not re.search(r"[<>…*{}|]", span):
                yield span


def exists(named: str) -> bool:
    """A file or folder; `file.py::test_name` also needs that test in the file."""
    path, _, test = named.partition("::")
    if path.startswith(GENERATED):
        return True
    if not (ROOT / path).exists():
        return False
    return not test or re.search(rf"def {re.escape(test)}\b", (ROOT / path).read_text()) is not None


def test_every_file_and_test_a_document_names_exists() -> None:
    missing = [f"{doc.relative_to(ROOT)}: {path}" for doc in DOCUMENTS
               for path in named_paths(doc.read_text(encoding="utf-8")) if not exists(path)]
    assert missing == []


def test_every_relative_link_of_a_document_exists() -> None:
    broken = []
    for doc in DOCUMENTS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (doc.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_readme_is_an_entry_point_of_at_most_200_lines() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


# --- the checks catch a mismatch -----------------------------------------------------------
# Each starts from what the document says (so these do not depend on the tree agreeing
# with it) and changes one thing on the code's side.


def test_a_new_package_a_new_module_or_a_removed_one_fails_the_module_map() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    code: dict[str, set[str] | None] = {
        name: (None if name.endswith(".py") else modules)
        for name, modules in documented_packages(text).items()}
    assert module_map_problems(text, code) == []
    assert module_map_problems(text, {**code, "shared/billing/": {"invoices"}}) == [
        "shared/billing/ exists: add a line for it to the module map"]
    assert module_map_problems(text, {**code, "shared/kb/": {*(code["shared/kb/"] or ()), "drafts"}}) == [
        "shared/kb/drafts.py exists: add `drafts` to its line of the module map"]
    without = {k: v for k, v in code.items() if k != "shared/portal/"}
    assert module_map_problems(text, without) == [
        "shared/portal/ is in the module map but not in shared/: remove or rename it"]


def test_a_new_table_or_a_dropped_queue_fails_the_storage_table() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    documented = documented_storage(text)
    assert storage_problems(text, t.Inventory(**documented)) == []
    more = t.Inventory(**{**documented, "tables": documented["tables"] | {"archive"}})
    assert storage_problems(text, more) == ["the code uses table 'archive': add it to the storage table"]
    fewer = t.Inventory(**{**documented, "queues": documented["queues"] - {"portal-links"}})
    assert storage_problems(text, fewer) == [
        "the storage table lists queue 'portal-links', which the code does not use"]


def test_a_route_missing_from_either_side_fails_the_api_table() -> None:
    text = API.read_text(encoding="utf-8")
    operations = documented_operations(text)
    assert api_problems(text, operations) == []
    assert api_problems(text, operations | {("GET", "/api/tickets/{}/history")}) == [
        "GET /api/tickets/{}/history is in /api/openapi.json but not in docs/api.md"]
    assert api_problems(text, operations - {("GET", "/api/me")}) == [
        "docs/api.md lists GET /api/me, which /api/openapi.json does not have"]
