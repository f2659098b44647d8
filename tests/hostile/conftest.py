"""The catalogue runs against the session's one running host (tests/e2e/conftest.py) and
reports its counts at the end of the run."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import host  # noqa: F401  (the session's running host)
from tests.hostile import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY["tried"]:
        terminalreporter.write_line(
            f"hostile input: {TALLY['tried']} cases tried, {TALLY['accepted']} accepted and "
            f"checked, {TALLY['refused']} refused with nothing stored, "
            f"{TALLY['server_errors']} server errors")
