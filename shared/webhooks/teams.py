"""The Microsoft Teams formatter: a webhook event (shared/core/webhooks.py `payload`) as
the message a Teams channel's Workflows ("When a Teams webhook request is received")
webhook takes: an Adaptive Card 1.5 attachment, with the ticket's facts and a button to
open it on the agents' page. Pure; the card is checked against the Adaptive Card schema
in tests/unit/webhooks/test_teams.py.

Card text is plain: Adaptive Card TextBlocks read a subset of Markdown, so what a
requester typed (the subject) has its Markdown characters escaped, and a link cannot be
smuggled into the channel.
"""

from __future__ import annotations

import re
from typing import Any

from shared.core.webhooks import EventType

CARD_VERSION = "1.5"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# What makes Markdown structure inside a line: emphasis, links, code, headings, HTML.
_MARKDOWN = re.compile(r"([\\`*_\[\]()#<>~|])")

HEADINGS = {
    EventType.CREATED: "New ticket",
    EventType.ESCALATED: "Escalated to {team}",
    EventType.SLA_BREACHED: "SLA breached",
}
COLOURS = {EventType.CREATED: "accent", EventType.ESCALATED: "warning",
           EventType.SLA_BREACHED: "attention"}


def plain(text: str, limit: int = 300) -> str:
    """Text shown as typed: Markdown escaped, control characters dropped, cut at `limit`."""
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return _MARKDOWN.sub(r"\\\1", text)


def card(event: dict[str, Any], *, team_names: dict[str, str] | None = None) -> dict[str, Any]:
    """The Adaptive Card for one event."""
    names = team_names or {}
    kind = EventType(event["type"])
    ticket = event["ticket"]
    data = event.get("data") or {}
    team = data.get("team") or ticket.get("team")
    heading = HEADINGS.get(kind, kind.value).format(team=names.get(team or "", team or "no team"))
    facts = [
        {"title": "Status", "value": ticket["status"]},
        {"title": "Priority", "value": ticket["priority"]},
        {"title": "Category", "value": ticket["category"]},
        {"title": "Team", "value": names.get(team or "", team or "none")},
        {"title": "Assignee", "value": ticket.get("assignee") or "nobody yet"},
    ]
    if kind is EventType.ESCALATED:
        facts.append({"title": "Tier", "value": str(data.get("tier") or "")})
        if data.get("reason"):
            facts.append({"title": "Reason", "value": str(data["reason"])})
    if kind is EventType.SLA_BREACHED:
        facts.append({"title": "Target", "value": str(data.get("target") or "").replace("_", " ")})
        facts.append({"title": "Was due", "value": str(data.get("due_at") or "")})
    if ticket.get("due_at") and kind is not EventType.SLA_BREACHED:
        facts.append({"title": "Due", "value": ticket["due_at"]})
    title = f"#{ticket['number']} {plain(ticket['subject'])}"
    return {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": f"{heading}: #{ticket['number']}",
        "body": [
            {"type": "TextBlock", "text": plain(heading), "size": "small", "weight": "bolder",
             "color": COLOURS.get(kind, "default"), "wrap": True},
            {"type": "TextBlock", "text": title, "size": "large", "weight": "bolder",
             "wrap": True, "style": "heading"},
            {"type": "FactSet", "facts": [{"title": f["title"], "value": plain(f["value"], 500)}
                                          for f in facts]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open the ticket",
                     "url": ticket["url"]}],
    }


def message(event: dict[str, Any], *, team_names: dict[str, str] | None = None
            ) -> dict[str, Any]:
    """What the Workflows webhook is sent: a message with the card as its one attachment."""
    return {
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": card(event, team_names=team_names),
        }],
    }
