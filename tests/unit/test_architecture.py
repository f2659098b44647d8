"""The layering of shared/ holds (docs/architecture.md), and the checks that keep it fail
on a violation.

import-linter (`.importlinter`, run by `make lint`) checks the packages' layers and that
the kernel imports nothing of ours. What it cannot express about third-party
subpackages is checked here from the modules' own imports: nothing in shared/ imports
`azure.functions`, and only shared/storage imports the Azure storage SDKs or their
errors.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# The storage SDKs and their errors: shared/storage's alone.
STORAGE_SDKS = ("azure.data.tables", "azure.storage", "azure.core")
# Other Azure SDKs, each the business of one adapter module.
ALLOWED_ELSEWHERE = {
    "shared/mail/acs.py": ("azure.communication", "azure.core.exceptions"),
    "shared/core/telemetry.py": ("azure.monitor", "azure.identity"),
}
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def violations(root: Path) -> list[str]:
    """Every import under root/shared that breaks the SDK rules, as `path:line module`."""
    found = []
    for path in sorted((root / "shared").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        allowed = ALLOWED_ELSEWHERE.get(name, ())
        for line, module in imported_modules(path):
            if module == "azure.functions" or module.startswith("azure.functions."):
                found.append(f"{name}:{line} {module} (the adapters live in functions/)")
            elif (not name.startswith("shared/storage/")
                  and module.startswith(STORAGE_SDKS) and not module.startswith(allowed)):
                found.append(f"{name}:{line} {module} (only shared/storage/ talks to storage)")
    return found


def test_only_storage_imports_the_storage_sdks_and_nothing_imports_azure_functions():
    assert violations(ROOT) == []


def test_the_sdk_check_finds_a_deliberate_violation(tmp_path: Path):
    service = tmp_path / "shared" / "tickets" / "leaky.py"
    service.parent.mkdir(parents=True)
    service.write_text("from azure.data.tables import TableClient\n"
                       "import azure.functions as func\n")
    (tmp_path / "shared" / "storage").mkdir()
    (tmp_path / "shared" / "storage" / "fine.py").write_text("from azure.core import exceptions\n")
    assert violations(tmp_path) == [
        "shared/tickets/leaky.py:1 azure.data.tables (only shared/storage/ talks to storage)",
        "shared/tickets/leaky.py:2 azure.functions (the adapters live in functions/)"]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True,
                          text=True, timeout=120)


def test_the_layers_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_layer_contracts_fail_on_a_deliberate_violation(tmp_path: Path):
    for part in ("shared", "functions"):
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__", "vendor", "static"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    errors = tmp_path / "shared" / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom shared.tickets import intake  # noqa\n")
    storage = tmp_path / "shared" / "storage" / "keys.py"
    storage.write_text(storage.read_text() + "\nfrom shared.kb import knowledge  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "The kernel (shared.core) imports nothing else of the help desk BROKEN" in result.stdout
    assert "shared.core.errors -> shared.tickets.intake" in result.stdout
    assert "shared.storage is not allowed to import shared.kb" in result.stdout
