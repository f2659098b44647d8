"""Counters: named numbers kept in a flat dict, and how two of them add up.

The reports' figures (shared/reports/metrics.py) and the summary rows that store them
(shared/storage/reports.py) are both counters; zero counts are dropped, so a sum that
cancels out leaves nothing behind.
"""

from __future__ import annotations

Counters = dict[str, float]
Contribution = dict[tuple[str, str], Counters]  # (day, row key) -> counters


def add_into(target: Counters, delta: Counters) -> Counters:
    out = dict(target)
    for name, value in delta.items():
        out[name] = out.get(name, 0) + value
        if not out[name]:
            del out[name]
    return out
