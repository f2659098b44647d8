"""Hostile and malformed input: the catalogue (cases.yaml) and its runner.

`TALLY` counts what the runner did, for the summary line at the end of the run."""

from collections import Counter

TALLY: Counter[str] = Counter()
