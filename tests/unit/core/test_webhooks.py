"""The pure rules of outbound webhooks (shared/core/webhooks.py): which URLs and addresses
the desk calls, the signature receivers check, the retry plan, which entries are which
events, and what a payload carries."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.core.models import Channel, EntryKind, Priority, Status, ThreadEntry, Ticket
from shared.core.settings import Settings
from shared.core.webhooks import (
    RETRY_DELAYS,
    EndpointSpec,
    EventType,
    UnsafeUrl,
    address_allowed,
    check_url,
    event_types,
    matches,
    next_delay,
    payload,
    shown_url,
    signature_header,
    verify,
)

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "::1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254",
    "fe80::1", "fd00::1", "100.64.0.1", "0.0.0.0", "::", "224.0.0.1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "168.63.129.16", "192.0.2.1", "not an address"])
def test_private_and_special_addresses_are_refused_outside_local(address: str):
    assert not address_allowed(address, local=False)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "20.50.2.1"])
def test_public_addresses_are_allowed(address: str):
    assert address_allowed(address, local=False)


def test_locally_anything_goes():
    assert address_allowed("127.0.0.1", local=True)
    assert check_url("http://127.0.0.1:8080/hook", local=True)


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/x", "https://127.0.0.1/x", "https://169.254.169.254/latest",
    "https://[::1]/x", "https://localhost/x", "https://api.localhost/x", "https://intranet/x",
    "https://u:p@hooks.example.com/x", "ftp://hooks.example.com/x", "https:///x",
    "https://hooks.example.com:99999/x", "https://hooks.example.com/x#frag"])
def test_urls_refused_outside_local(url: str):
    with pytest.raises(UnsafeUrl):
        check_url(url, local=False)


def test_a_public_https_url_is_accepted_and_its_query_never_shown_again():
    url = "https://prod-12.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SECRET"
    assert check_url(url, local=False) == url
    assert "SECRET" not in shown_url(url) and shown_url(url).endswith("/invoke?…")


def test_local_is_development_storage_without_app_service():
    dev = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=x;"
    assert Settings.from_env({"AzureWebJobsStorage": dev}).local
    assert Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}).local
    assert not Settings.from_env({"AzureWebJobsStorage": dev, "WEBSITE_INSTANCE_ID": "abc"}).local
    assert not Settings.from_env({"AzureWebJobsStorage__accountName": "prod"}).local
    assert not Settings.from_env({"AzureWebJobsStorage": "AccountName=prod;AccountKey=x;"}).local


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"id":"1"}'
    header = signature_header("whsec_test", 1764927000, body)
    expected = hmac.new(b"whsec_test", b"1764927000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1764927000,v1={expected}"
    assert verify("whsec_test", header, body, now=1764927000 + 299)
    assert not verify("whsec_test", header, body, now=1764927000 + 301)  # replayed later
    assert not verify("whsec_other", header, body, now=1764927000)
    assert not verify("whsec_test", header, body + b" ", now=1764927000)
    assert not verify("whsec_test", f"t=1764927001,v1={expected}", body, now=1764927000)
    assert not verify("whsec_test", "garbage", body, now=1764927000)


def test_retries_span_about_a_day_then_park():
    assert 23 * 3600 < sum(RETRY_DELAYS) <= 24 * 3600
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)
    assert next_delay(1) == 30 and next_delay(len(RETRY_DELAYS) + 1) is None


def entry(kind: EntryKind, **data: object) -> ThreadEntry:
    return ThreadEntry(seq=2, kind=kind, at=NOW, actor="agent-1", public=True, data=data)


def test_entries_map_to_events():
    assert event_types(entry(EntryKind.CREATED)) == [EventType.CREATED]
    assert event_types(entry(EntryKind.ASSIGNED, agent="a", **{"from": "new", "to": "open"})) \
        == [EventType.ASSIGNED, EventType.STATUS_CHANGED]
    assert event_types(entry(EntryKind.REPLY)) == [EventType.REPLIED]
    assert event_types(entry(EntryKind.MESSAGE, **{"from": "pending", "to": "open"})) == \
        [EventType.REPLIED, EventType.STATUS_CHANGED]
    assert event_types(entry(EntryKind.SLA, event="sla_warning")) == [EventType.SLA_WARNING]
    assert event_types(entry(EntryKind.SLA, event="sla_breached")) == [EventType.SLA_BREACHED]
    assert event_types(entry(EntryKind.SLA, event="sla_started")) == []
    assert event_types(entry(EntryKind.RATED, solved=True)) == [EventType.RATED]
    assert event_types(entry(EntryKind.NOTE)) == []
    assert event_types(entry(EntryKind.RESOLVED, **{"from": "open", "to": "resolved"})) == \
        [EventType.STATUS_CHANGED]


def ticket() -> Ticket:
    return Ticket(number="12345678", subject="VPN", description="secret details",
                  requester_name="Zelda Quux", requester_email="zelda@example.org",
                  priority=Priority.HIGH, category="network", status=Status.OPEN,
                  channel=Channel.EMAIL, team="service-desk", created_at=NOW, updated_at=NOW,
                  last_seq=2)


def test_filters_and_payload():
    spec = EndpointSpec(name="n", url="https://x.example.com", events=[EventType.REPLIED],
                        teams=["service-desk"], priorities=[Priority.HIGH])
    reply = ThreadEntry(seq=2, kind=EntryKind.MESSAGE, at=NOW, actor="zelda@example.org",
                        public=True, body="my password is hunter2")
    assert matches(spec, EventType.REPLIED, ticket(), reply)
    assert not matches(spec, EventType.CREATED, ticket(), reply)
    assert not matches(spec, EventType.REPLIED,
                       ticket().model_copy(update={"team": "senior-support"}), reply)
    assert not matches(spec, EventType.REPLIED,
                       ticket().model_copy(update={"priority": Priority.LOW}), reply)
    event = payload(EventType.REPLIED, ticket(), reply, agents=set(), desk_name="D",
                    base_url="https://desk.example.com")
    assert event["schema_version"] == 1 and event["id"] == "12345678-2-ticket.replied"
    assert event["entry"] == {"seq": 2, "actor": {"role": "requester", "id": None}}
    text = repr(event)
    for private in ("zelda", "Zelda", "hunter2", "secret details"):
        assert private not in text


def test_a_teams_endpoint_names_its_teams_and_takes_its_three_events():
    with pytest.raises(ValidationError, match="teams"):
        EndpointSpec(name="n", url="https://x.example.com", format="teams",
                     events=[EventType.CREATED])
    with pytest.raises(ValidationError, match="ticket.rated"):
        EndpointSpec(name="n", url="https://x.example.com", format="teams", teams=["a"],
                     events=[EventType.CREATED, EventType.RATED])
