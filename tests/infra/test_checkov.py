"""checkov scans infra/ with no failed check; every skip in the templates states its reason.

checkov lives in a virtual environment of its own (`make checkov`: its dependencies clash
with ours), so it runs as a subprocess. It exits 0 on a Bicep file it cannot parse, so
the test also requires that it parsed every file (test_templates.py parses them with
pycep-parser as well).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra import templates as t

CHECKOV = t.ROOT / ".venv" / "checkov" / "bin" / "checkov"


def run_checkov(directory: Path) -> list[dict[str, Any]]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make checkov` (make test does)")
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(directory), "--skip-download",
         "--output", "json", "--skip-path", "build"],
        capture_output=True, text=True, timeout=300, check=False)
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov said no JSON (exit {result.returncode}):\n"
                    f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return reports if isinstance(reports, list) else [reports]


@pytest.fixture(scope="module")
def reports() -> list[dict[str, Any]]:
    return run_checkov(t.INFRA)


def _checks(reports: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [check for report in reports for check in report["results"].get(kind, [])]


def test_no_check_fails(reports: list[dict[str, Any]]) -> None:
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']})"
              for c in _checks(reports, "failed_checks")]
    assert failed == []


def test_every_bicep_file_was_parsed(reports: list[dict[str, Any]]) -> None:
    bicep = next(r for r in reports if r["check_type"] == "bicep")
    assert bicep["summary"]["parsing_errors"] == 0
    assert bicep["summary"]["resource_count"] > 0
    assert bicep["summary"]["passed"] > 0


def test_every_skip_states_its_reason(reports: list[dict[str, Any]]) -> None:
    skipped = _checks(reports, "skipped_checks")
    assert skipped, "expected the documented skips"
    vague = [f"{c['check_id']} in {c['file_path']}" for c in skipped
             if len((c["check_result"].get("suppress_comment") or "").split()) < 5]
    assert vague == []


def test_checkov_reports_a_template_it_cannot_parse(tmp_path: Path) -> None:
    shutil.copy(t.INFRA / "modules" / "identity.bicep", tmp_path / "good.bicep")
    (tmp_path / "broken.bicep").write_text("resource x 'Microsoft.Foo/bars@2024-01-01' = {\n")
    bicep = next(r for r in run_checkov(tmp_path) if r["check_type"] == "bicep")
    assert bicep["summary"]["parsing_errors"] == 1
