"""The fuzzer writes whatever it generates (rules, directory entries, articles, keys) as an
admin, so it gets a help desk of its own: its own Azurite, so nothing it stores reaches
the other tests' data or queues."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LocalServices
from tests.e2e.conftest import RunningHost, host_of_its_own


@pytest.fixture(scope="module")
def host(test_services: LocalServices, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[RunningHost]:
    workdir = tmp_path_factory.mktemp("fuzz")
    with host_of_its_own(test_services, workdir) as running:
        yield running
