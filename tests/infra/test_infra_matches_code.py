"""The templates create every table, queue and container the code uses, and set (or
deliberately leave to the code's default) every app setting it reads; and nothing more.
The code's side is read from the code itself, the templates' side from the parsed Bicep."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from shared.core.auth import ROLES
from tests.infra import templates as t

# Settings read by the platform rather than by our code, and why the templates set them.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__credential": "the Functions host: use a managed identity for its storage",
    "AzureWebJobsStorage__clientId": "the Functions host: which user-assigned identity",
    "AZURE_CLIENT_ID": "azure-identity's DefaultAzureCredential: which user-assigned identity",
    "AzureWebJobsDisableHomepage": "the Functions host: no default page at / (the form is /api/form)",
}


def _auth_secret_settings() -> dict[str, str]:
    """App Service Authentication reads its client secret from the setting the auth template
    names (clientSecretSettingName), so that setting belongs to the platform too."""
    found = {}
    auth = t.template("modules/app-auth.bicep")
    for _, config in t.resources(auth, t.SITE_CONFIG):
        aad = t.body(config)["properties"]["identityProviders"]["azureActiveDirectory"]
        registration = t.evaluate(aad["registration"], auth,
                                  {"clientId": "id", "hasClientSecret": True})
        found[registration["clientSecretSettingName"]] = "App Service Authentication"
    assert found, "app-auth.bicep configures no Entra ID client secret setting"
    return found


def _compare(main: dict[str, Any] | None = None, storage: dict[str, Any] | None = None,
             function_app: dict[str, Any] | None = None) -> list[str]:
    inventory, platform_containers = t.template_inventory(
        main or t.template("main.bicep"),
        storage or t.template("modules/storage.bicep"),
        function_app or t.template("modules/function-app.bicep"))
    return t.compare(t.code_inventory(), inventory, platform_containers=platform_containers,
                     platform_settings={**PLATFORM_SETTINGS, **_auth_secret_settings()})


def test_the_templates_and_the_code_agree_both_ways() -> None:
    assert _compare() == []


def test_the_code_side_is_read_from_the_code() -> None:
    code = t.code_inventory()
    # Spot checks that the readers found what we know is there, so an empty side cannot pass.
    assert {"tickets", "ticketindex"} <= code.tables
    assert {"ticket-events", "ticket-events-poison", "escalations-poison"} <= code.queues
    assert "attachments" in code.containers
    assert {"AzureWebJobsStorage__accountName", "HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR",
            "HELPDESK_AUTOCLOSE_CLOSE_AFTER_DAYS", "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "ACS_EMAIL_CONNECTION"} <= code.settings
    assert code.connections == {"AzureWebJobsStorage"}


def _without_queue(storage: dict[str, Any], name: str) -> dict[str, Any]:
    changed = copy.deepcopy(storage)
    queues = changed["variables"]["queues"]["value"]
    assert name in queues
    queues.remove(name)
    return changed


@pytest.mark.parametrize("queue", ["escalations", "ticket-events-poison"])
def test_a_template_that_drops_a_queue_fails_the_check(queue: str) -> None:
    problems = _compare(storage=_without_queue(t.template("modules/storage.bicep"), queue))
    assert problems == [f"the code uses queue {queue!r}, which the templates do not create"]


def test_a_template_that_drops_the_queue_resources_fails_the_check() -> None:
    storage = copy.deepcopy(t.template("modules/storage.bicep"))
    del storage["resources"]["appQueues"]
    problems = _compare(storage=storage)
    queues = t.template("modules/storage.bicep")["variables"]["queues"]["value"]
    assert len(problems) == len(queues) and all("queue" in p for p in problems)


def test_a_table_the_code_does_not_use_fails_the_check() -> None:
    storage = copy.deepcopy(t.template("modules/storage.bicep"))
    storage["variables"]["tables"]["value"].append("leftover")
    assert _compare(storage=storage) == [
        "the templates create table 'leftover', which the code does not use"]


def _app_settings(function_app: dict[str, Any]) -> list[dict[str, Any]]:
    site = next(r for _, r in t.resources(function_app, t.SITE))
    settings: list[dict[str, Any]] = t.body(site)["properties"]["siteConfig"]["appSettings"]
    return settings


def test_a_setting_the_code_reads_but_the_templates_forget_fails_the_check() -> None:
    function_app = copy.deepcopy(t.template("modules/function-app.bicep"))
    settings = _app_settings(function_app)
    settings[:] = [s for s in settings if s["name"] != "HELPDESK_CHAT_SECRET"]
    assert _compare(function_app=function_app) == [
        "the code reads app setting 'HELPDESK_CHAT_SECRET': set it in function-app.bicep "
        "or list it in unsetAppSettings"]


def test_a_setting_nothing_reads_fails_the_check() -> None:
    function_app = copy.deepcopy(t.template("modules/function-app.bicep"))
    _app_settings(function_app).append({"name": "HELPDESK_PORTAL_SECRETT", "value": "x"})
    assert _compare(function_app=function_app) == [
        "function-app.bicep sets 'HELPDESK_PORTAL_SECRETT', which nothing reads"]


def test_settings_read_conditionally_are_found() -> None:
    def reader(env: Any) -> None:
        if env.get("A"):
            env.get("B")

    assert t.settings_read(reader) == {"A", "B"}


def test_the_entra_app_roles_are_the_roles_the_code_checks() -> None:
    roles = json.loads((t.INFRA / "entra-app-roles.json").read_text(encoding="utf-8"))
    assert sorted(r["value"] for r in roles) == sorted(ROLES)
    assert len({r["id"] for r in roles}) == len(roles)
    assert all(r["allowedMemberTypes"] == ["User"] and r["isEnabled"] for r in roles)
