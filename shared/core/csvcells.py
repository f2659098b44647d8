"""Cells of the CSV files the desk hands out (the tickets report, the audit log), safe to
open in a spreadsheet: a value that could start a formula (CSV injection) is shown as text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: one that could start a formula gets a leading `'`."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
