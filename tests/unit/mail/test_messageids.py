"""Our outgoing Message-IDs: signed so that nobody else can make one, and recognised."""

from __future__ import annotations

import pytest

from shared.core.settings import MailSettings, Settings, StorageSettings
from shared.mail import messageids


def settings(secret: str | None = "a-portal-secret-of-some-length",
             sender: str = "help@desk.example.com") -> Settings:
    return Settings(storage=StorageSettings(connection_string="x"),
                    mail=MailSettings(sender=sender), portal_secret=secret)


def test_our_message_ids_verify_and_name_their_ticket():
    mid = messageids.make("12345674", 3, "reply", settings=settings())
    assert mid.startswith("<ticket-12345674.3.reply.") and mid.endswith("@desk.example.com>")
    assert messageids.verify(mid, settings=settings()) == messageids.OurId("12345674", 3, "reply")
    assert messageids.verify(mid.upper(), settings=settings()) is not None  # case folds


@pytest.mark.parametrize("change", [
    lambda m: m.replace("12345674", "12345682"),               # another ticket
    lambda m: m.replace(".3.", ".4."),                          # another sequence
    lambda m: m.replace("desk.example.com", "evil.example"),   # another domain
    lambda m: m[:-25] + "0" * 24 + m[-25 + 24:],                # another tag
    lambda m: "<ticket-12345674.3.reply@desk.example.com>",     # the old, unsigned shape
])
def test_a_changed_or_made_up_id_is_not_ours(change):
    mid = messageids.make("12345674", 3, "reply", settings=settings())
    forged = change(mid)
    assert forged != mid
    assert messageids.verify(forged, settings=settings()) is None


def test_another_secret_or_none_verifies_nothing():
    mid = messageids.make("12345674", 1, "ack", settings=settings())
    assert messageids.verify(mid, settings=settings("another-secret-entirely")) is None
    assert messageids.verify(mid, settings=settings(None)) is None
