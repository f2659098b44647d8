from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.core.settings import Settings
from shared.helpdesk import Helpdesk
from shared.storage.events import EventQueue
from tests.conftest import LocalServices, app_env


@pytest.fixture
async def desk(test_services: LocalServices) -> AsyncIterator[Helpdesk]:
    """The help desk's services on the session's Azurite. Its events go to queues of the
    test's own: the e2e tests' local host, which may be running on the same Azurite,
    must not handle them behind the test's back."""
    started = await Helpdesk.start(Settings.from_env(app_env(test_services)))
    tag = uuid.uuid4().hex[:8]
    queues = [started.clients.queue(f"it-{name}-{tag}") for name in ("events", "escalations")]
    for queue in queues:
        await queue.create_queue()
    yield dataclasses.replace(started, events=EventQueue(queues[0]),
                              escalations=EventQueue(queues[1]))
    for queue in queues:
        await queue.delete_queue()
    await started.close()
