"""The deployment package carries what the app serves, Chart.js included (it is not in git:
`make install` copies it from node_modules)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT


def package_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("infra_package", ROOT / "infra" / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_staged_app_serves_the_vendored_chart_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = package_module()
    monkeypatch.setattr(package, "APP", tmp_path / "app")
    staged = package.stage()
    chart = staged / "functions" / "static" / "vendor" / "chart.umd.min.js"
    assert chart.read_bytes() == (ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js").read_bytes()
    assert (staged / "functions" / "static" / "agent" / "dashboard.js").is_file()


def test_staging_without_the_vendored_files_stops_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = package_module()
    monkeypatch.setattr(package, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="make install"):
        package.check_vendored()
