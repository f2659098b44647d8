"""The Teams formatter: every card it makes is valid against the Adaptive Card schema
(a test-side subset derived from the published 1.5 schema: see its `$comment`), and what
a requester typed cannot become Markdown in the channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema_rs
import pytest

from shared.core.models import Channel, EntryKind, Priority, Status, ThreadEntry, Ticket
from shared.core.webhooks import EventType, payload
from shared.webhooks import teams

SCHEMA = json.loads((Path(__file__).parent / "adaptive-card-1.5-subset.json").read_text())
VALIDATOR = jsonschema_rs.Draft6Validator(SCHEMA)
NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def ticket(**changes: object) -> Ticket:
    return Ticket(number="12345678", subject="Printer [on fire](https://evil.example) *now*",
                  description="d", requester_name="Zelda Quux", requester_email="ada@example.org",
                  priority=Priority.HIGH, category="hardware", status=Status.ESCALATED,
                  channel=Channel.WEB, team="senior-support", assignee=None, created_at=NOW,
                  updated_at=NOW, last_seq=4, due_at=NOW).model_copy(update=changes)


ENTRIES = {
    EventType.CREATED: ThreadEntry(seq=1, kind=EntryKind.CREATED, at=NOW,
                                   actor="ada@example.org", public=True),
    EventType.ESCALATED: ThreadEntry(
        seq=3, kind=EntryKind.ESCALATED, at=NOW, actor="agent-1", public=False,
        body="Needs a _senior_ look", data={"tier": "senior-support", "team": "senior-support",
                                            "previous_team": "service-desk", "from": "open",
                                            "to": "escalated"}),
    EventType.SLA_BREACHED: ThreadEntry(
        seq=4, kind=EntryKind.SLA, at=NOW, actor="sla", public=False,
        data={"event": "sla_breached", "target": "first_response", "team": "senior-support",
              "due_at": NOW.isoformat()}),
}


@pytest.mark.parametrize("kind", sorted(teams.HEADINGS))
def test_every_card_is_a_valid_adaptive_card(kind: EventType):
    event = payload(kind, ticket(), ENTRIES[kind], agents={"agent-1"}, desk_name="Desk",
                    base_url="https://desk.example.com")
    message = teams.message(event, team_names={"senior-support": "Senior Support"})
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    errors = [e.message for e in VALIDATOR.iter_errors(card)]
    assert errors == []
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the ticket",
                                "url": "https://desk.example.com/api/agent#/ticket/12345678"}]
    text = json.dumps(card)
    assert "ada@example.org" not in text and "Zelda" not in text


def test_the_schema_check_can_fail():
    event = payload(EventType.CREATED, ticket(), ENTRIES[EventType.CREATED], agents=set(),
                    desk_name="Desk", base_url="https://desk.example.com")
    card = teams.card(event)
    card["body"][0]["size"] = "huge"
    del card["actions"][0]["url"]
    card["msteams"] = {"width": "Full"}
    assert len(list(VALIDATOR.iter_errors(card))) == 1  # anyOf at the root fails as one
    assert not VALIDATOR.is_valid(card)
    assert not VALIDATOR.is_valid({"type": "AdaptiveCard", "body": []})  # no version


def test_typed_text_cannot_become_markdown_or_a_link():
    event = payload(EventType.ESCALATED, ticket(), ENTRIES[EventType.ESCALATED],
                    agents={"agent-1"}, desk_name="Desk", base_url="https://desk.example.com")
    card = teams.card(event, team_names={"senior-support": "Senior Support"})
    assert card["body"][0]["text"] == "Escalated to Senior Support"
    assert card["body"][1]["text"] == \
        r"#12345678 Printer \[on fire\]\(https://evil.example\) \*now\*"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Reason"] == r"Needs a \_senior\_ look"
    assert teams.plain("a\x00b\nc" + "x" * 400).startswith("a b c")
    assert len(teams.plain("x" * 400)) == 300
