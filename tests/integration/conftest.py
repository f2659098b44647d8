from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.helpdesk import Helpdesk
from shared.settings import Settings
from tests.conftest import LocalServices, app_env


@pytest.fixture
async def desk(test_services: LocalServices) -> AsyncIterator[Helpdesk]:
    desk = await Helpdesk.start(Settings.from_env(app_env(test_services)))
    yield desk
    await desk.close()
