"""osTicket's ticket API, translated: keys beyond the documented ones are form fields."""

from __future__ import annotations

from shared.channels.osticket import translate


def test_other_top_level_keys_become_the_categorys_fields():
    request = translate({"name": "Ann", "email": "ann@example.org", "subject": "Dock",
                         "message": "Dead", "topicId": "10", "seats": "7",
                         "asset": {"odd": 1}}, topics={"10": "access"})
    assert request.raw["category"] == "access"
    # Checked by intake against the category's definitions, which name the bad ones.
    assert request.raw["fields"] == {"seats": "7", "asset": {"odd": 1}}


def test_a_request_with_only_documented_keys_has_no_fields():
    request = translate({"name": "Ann", "email": "ann@example.org", "subject": "Dock",
                         "message": "Dead", "source": "API", "alert": True}, topics={})
    assert "fields" not in request.raw
