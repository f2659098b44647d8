"""Reading the Bicep templates (parsed by pycep-parser) and the code, for the offline checks.

pycep gives a template as JSON: `parameters`, `variables`, `resources`, `modules`,
`outputs`, each by symbolic name. A resource's body sits under `config`, one level deeper
for a loop (`loop_type`) or a condition (`condition`). pycep writes a reference to a
parameter or variable as a bare string, like a literal; `resolve` looks such a string up in
the file's variables and parameter defaults.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

TABLE = "Microsoft.Storage/storageAccounts/tableServices/tables"
QUEUE = "Microsoft.Storage/storageAccounts/queueServices/queues"
CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"
SITE = "Microsoft.Web/sites"
SITE_CONFIG = "Microsoft.Web/sites/config"


def bicep_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*.bicep") if "build" not in p.relative_to(INFRA).parts)


@cache
def parse(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = dict(BicepParser().parse(file_path=path))
    return parsed


def template(name: str) -> dict[str, Any]:
    """A parsed template by its path under infra/, e.g. 'modules/storage.bicep'."""
    return parse(INFRA / name)


def body(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's or module's own properties, under any loop or condition."""
    config = resource["config"]
    while "name" not in config and isinstance(config.get("config"), dict):
        config = config["config"]
    return config


def loop_of(resource: Mapping[str, Any]) -> dict[str, Any] | None:
    detail = resource["config"].get("loop_type")
    return detail["detail"] if detail else None


def resolve(value: Any, parsed: Mapping[str, Any]) -> Any:
    """A bare string naming a variable or a parameter with a default becomes its value."""
    if isinstance(value, str):
        if value in parsed.get("variables", {}):
            return resolve(parsed["variables"][value]["value"], parsed)
        param = parsed.get("parameters", {}).get(value)
        if param is not None and "default" in param:
            return resolve(param["default"], parsed)
    return value


def resources(parsed: Mapping[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for symbol, resource in parsed.get("resources", {}).items():
        if resource["type"] == kind and not resource.get("existing"):
            yield symbol, resource


def resource_names(parsed: Mapping[str, Any], kind: str,
                   params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Every name a template creates for a resource type: name -> resource symbol. A loop
    over an array contributes each item; `params` are the values a caller passes in."""
    names: dict[str, str] = {}
    scope = dict(parsed)
    if params:
        scope = {**parsed, "variables": {**parsed.get("variables", {}),
                                         **{k: {"value": v} for k, v in params.items()}}}
    for symbol, resource in resources(parsed, kind):
        loop = loop_of(resource)
        name = body(resource)["name"]
        if loop is not None:
            items = resolve(loop["array_name"], scope)
            if name != loop["item_name"] or not isinstance(items, list):
                raise AssertionError(f"{symbol}: cannot read the names of this loop: {loop}")
            for item in items:
                names[item] = symbol
        else:
            value = resolve(name, scope)
            if not isinstance(value, str) or "${" in value:
                raise AssertionError(f"{symbol}: cannot read the name {name!r}")
            names[value] = symbol
    return names


def module_params(parsed: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The parameters main.bicep passes to the module at `path`, resolved in main.bicep."""
    for module in parsed.get("modules", {}).values():
        if module["detail"]["path"] == path:
            return {k: resolve(v, parsed) for k, v in body(module).get("params", {}).items()}
    raise AssertionError(f"main.bicep uses no module {path}")


# --- what the templates create ---------------------------------------------------------


@dataclass
class Inventory:
    """Names of storage resources and app settings, from one side (code or templates)."""

    tables: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)
    containers: set[str] = field(default_factory=set)
    settings: set[str] = field(default_factory=set)
    # Settings the templates leave unset on purpose (function-app.bicep, unsetAppSettings).
    unset_settings: set[str] = field(default_factory=set)
    # Storage connections the triggers name (the host reads <name> or <name>__accountName...).
    connections: set[str] = field(default_factory=set)


def template_inventory(main: Mapping[str, Any], storage: Mapping[str, Any],
                       function_app: Mapping[str, Any]) -> tuple[Inventory, set[str]]:
    """What the templates create, and the containers that are the platform's own (the
    Flex Consumption deployment container), which the code need not use."""
    storage_params = module_params(main, "modules/storage.bicep")
    containers = resource_names(storage, CONTAINER, storage_params)
    platform_containers = {name for name, symbol in containers.items()
                           if body(storage["resources"][symbol])["name"] == "deploymentContainerName"}
    settings: set[str] = set()
    for _, site in resources(function_app, SITE):
        for entry in body(site)["properties"]["siteConfig"].get("appSettings", []):
            settings.add(entry["name"])
    for _, config in resources(function_app, SITE_CONFIG):
        if body(config)["name"] == "appsettings":
            settings.update(body(config)["properties"])
    unset = resolve("unsetAppSettings", function_app)
    return Inventory(
        tables=set(resource_names(storage, TABLE, storage_params)),
        queues=set(resource_names(storage, QUEUE, storage_params)),
        containers=set(containers),
        settings=settings,
        unset_settings=set(unset) if isinstance(unset, list) else set(),
    ), platform_containers


# --- what the code uses ----------------------------------------------------------------


class RecordingEnv(dict[str, str]):
    """A mapping that notes every name read from it."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def settings_read(reader: Any) -> set[str]:
    """Every setting `reader(env)` reads: once with none set, then again with all of them
    set, so reads that depend on another setting being present are found too."""
    seen: set[str] = set()
    while True:
        env = RecordingEnv({name: "x" for name in seen})
        try:
            reader(env)
        except Exception:  # "x" is rarely a valid value, and the reads are done by then
            pass
        if env.read <= seen:
            return seen
        seen |= env.read


@cache
def fresh_function_app() -> ModuleType:
    """function_app.py loaded as a module of its own: get_functions() may be called only
    once per FunctionApp object, and other tests call it on the real one."""
    spec = importlib.util.spec_from_file_location("function_app_for_infra_tests",
                                                  ROOT / "function_app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def registered_functions() -> dict[str, Any]:
    return {fn.get_function_name(): fn for fn in fresh_function_app().app.get_functions()}


def _string_constants(tree: ast.AST, suffix: str) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            for target in node.targets:
                # `OLD_…`: a retired layout's table that tools.reindex reads and drops on
                # an old desk; the templates must not create it.
                if isinstance(target, ast.Name) and target.id.endswith(suffix) \
                        and not target.id.startswith("OLD_"):
                    found.add(node.value.value)
    return found


STORAGE_CALLS = {"table": "tables", "get_table_client": "tables", "create_table": "tables",
                 "create_table_if_not_exists": "tables", "queue": "queues",
                 "get_queue_client": "queues", "container": "containers",
                 "get_container_client": "containers", "create_container": "containers"}


def source_names() -> dict[str, set[str]]:
    """Names the app's source spells out: module constants ending in _TABLE, _QUEUE or
    _CONTAINER, and string literals passed to the SDK's table/queue/container calls."""
    found: dict[str, set[str]] = {"tables": set(), "queues": set(), "containers": set()}
    files = [ROOT / "function_app.py", *sorted((ROOT / "functions").rglob("*.py")),
             *sorted((ROOT / "shared").rglob("*.py"))]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found["tables"] |= _string_constants(tree, "_TABLE")
        found["queues"] |= _string_constants(tree, "_QUEUE")
        found["containers"] |= _string_constants(tree, "_CONTAINER")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in STORAGE_CALLS and node.args \
                    and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                found[STORAGE_CALLS[node.func.attr]].add(node.args[0].value)
    return found


def environ_reads() -> set[str]:
    """Names read straight from os.environ / os.getenv with a literal, anywhere in the app."""
    names = set()
    files = [ROOT / "function_app.py", *sorted((ROOT / "functions").rglob("*.py")),
             *sorted((ROOT / "shared").rglob("*.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            target = None
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                text = ast.unparse(node.func)
                if text in ("os.getenv", "os.environ.get", "environ.get", "getenv"):
                    target = node.args[0].value
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ") \
                    and isinstance(node.slice, ast.Constant):
                target = node.slice.value
            if isinstance(target, str):
                names.add(target)
    return names


def code_inventory() -> Inventory:
    from shared.core import telemetry
    from shared.core.settings import Settings
    from shared.storage import clients

    names = source_names()
    queues = set(clients.QUEUES) | names["queues"]
    connections = set()
    bound_settings: set[str] = set()
    for fn in registered_functions().values():
        trigger = fn.get_trigger()
        if trigger.type == "queueTrigger":
            queues.add(trigger.queue_name)
            connections.add(trigger.connection or "AzureWebJobsStorage")
        if trigger.type == "timerTrigger":
            # A `%Setting%` schedule is read by the Functions host, which fails the
            # function when it is missing.
            bound_settings |= set(re.findall(r"%([^%]+)%", str(trigger.schedule)))
    # The host moves a message that keeps failing to <queue>-poison; admins read those.
    queues |= {f"{name}-poison" for name in queues if not name.endswith("-poison")}
    settings = settings_read(Settings.from_env) | settings_read(telemetry.azure_monitor_options)
    settings |= environ_reads() | bound_settings
    return Inventory(
        tables=set(clients.TABLES) | names["tables"],
        queues=queues,
        containers={clients.ATTACHMENTS_CONTAINER} | names["containers"],
        settings=settings,
        connections=connections,
    )


def compare(code: Inventory, templates: Inventory, *, platform_containers: set[str],
            platform_settings: Mapping[str, str]) -> list[str]:
    """Every difference between what the code uses and what the templates create."""
    problems = []
    for kind in ("tables", "queues", "containers"):
        used, made = getattr(code, kind), getattr(templates, kind)
        for name in sorted(used - made):
            problems.append(f"the code uses {kind[:-1]} {name!r}, which the templates do not create")
        extra = made - used - (platform_containers if kind == "containers" else set())
        for name in sorted(extra):
            problems.append(f"the templates create {kind[:-1]} {name!r}, which the code does not use")
    for connection in sorted(code.connections):
        ways = {connection, f"{connection}__accountName", f"{connection}__queueServiceUri"}
        if not ways & templates.settings:
            problems.append(f"no app setting gives the triggers' storage connection {connection!r}")
    accounted = templates.settings | templates.unset_settings
    for name in sorted(code.settings - accounted):
        problems.append(f"the code reads app setting {name!r}: set it in function-app.bicep "
                        "or list it in unsetAppSettings")
    for name in sorted(templates.settings - code.settings - set(platform_settings)):
        problems.append(f"function-app.bicep sets {name!r}, which nothing reads")
    for name in sorted(templates.unset_settings - code.settings):
        problems.append(f"unsetAppSettings lists {name!r}, which the code does not read")
    for name in sorted(templates.unset_settings & templates.settings):
        problems.append(f"{name!r} is both set and listed in unsetAppSettings")
    return problems


# --- evaluating simple expressions ------------------------------------------------------


class Unevaluable(Exception):
    """An expression the small evaluator below does not know."""


def evaluate(expr: Any, parsed: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    """The value of a pycep expression, given the template's parameter values: enough of
    Bicep (names, !, &&, ||, ?:, empty(), union()) to decide which resources a deployment
    creates and what a conditional property holds. A bare string is a name when it names a
    parameter or a variable, otherwise a literal."""
    if isinstance(expr, str):
        if expr in values:
            return values[expr]
        if expr in parsed.get("variables", {}):
            return evaluate(parsed["variables"][expr]["value"], parsed, values)
        param = parsed.get("parameters", {}).get(expr)
        if param is not None:
            if param.get("default") is None:
                raise Unevaluable(f"parameter {expr!r} has no value and no default")
            return evaluate(param["default"], parsed, values)
        return expr
    if isinstance(expr, (bool, int, float)) or expr is None:
        return expr
    if isinstance(expr, list):
        return [evaluate(item, parsed, values) for item in expr]
    if not isinstance(expr, Mapping):
        raise Unevaluable(repr(expr))
    if "operator" in expr and set(expr) == {"operator"}:
        op = expr["operator"]
        kind, operands = op["type"], op["operands"]
        if kind == "not":
            return not evaluate(operands["bool_value"], parsed, values)
        if kind == "conditional":
            chosen = "true_value" if evaluate(operands["condition"], parsed, values) else "false_value"
            return evaluate(operands[chosen], parsed, values)
        if kind in ("and", "or"):
            results = [bool(evaluate(v, parsed, values)) for v in operands.values()]
            return all(results) if kind == "and" else any(results)
        raise Unevaluable(f"operator {kind}")
    if "function" in expr and set(expr) == {"function"}:
        fn = expr["function"]
        args = [evaluate(v, parsed, values) for v in fn["parameters"].values()]
        if fn["type"] == "empty":
            return not args[0]
        if fn["type"] == "union" and all(isinstance(a, Mapping) for a in args):
            merged: dict[str, Any] = {}
            for arg in args:
                merged.update(arg)
            return merged
        raise Unevaluable(f"function {fn['type']}")
    return {key: evaluate(value, parsed, values) for key, value in expr.items()}


def condition_holds(entry: Mapping[str, Any], parsed: Mapping[str, Any],
                    values: Mapping[str, Any]) -> bool:
    """Whether a resource or module with an `if (...)` is deployed (one without is)."""
    condition = entry["config"].get("condition")
    return True if condition is None else bool(evaluate(condition, parsed, values))


def module_values(main: Mapping[str, Any], symbol: str,
                  main_values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameter values main.bicep hands the module `symbol`, for the given values of
    main's own parameters. Values the evaluator cannot compute (another module's outputs)
    are left out."""
    out = {}
    for key, value in body(main["modules"][symbol]).get("params", {}).items():
        try:
            out[key] = evaluate(value, main, main_values)
        except Unevaluable:
            continue
    return out
