"""The fuzzing runs against the session's one running host (tests/e2e/conftest.py)."""

from tests.e2e.conftest import host  # noqa: F401  (the session's running host)
