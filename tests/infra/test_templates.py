"""Every .bicep file parses (pycep-parser), and the templates hang together the way a Bicep
compiler would insist: modules exist and get exactly the parameters they declare, names
come from the abbreviations file, the parameters file and azure.yaml fit main.bicep."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pycep import BicepParser

from tests.infra import templates as t

FILES = t.bicep_files()


def test_there_is_a_module_per_resource() -> None:
    names = {p.relative_to(t.INFRA).as_posix() for p in FILES}
    assert {"main.bicep", "modules/function-app.bicep", "modules/storage.bicep",
            "modules/identity.bicep", "modules/storage-access.bicep", "modules/key-vault.bicep",
            "modules/app-insights.bicep", "modules/log-analytics.bicep",
            "modules/communication.bicep", "modules/app-auth.bicep"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(t.INFRA).as_posix())
def test_every_bicep_file_parses(path: Path) -> None:
    parsed = t.parse(path)
    assert parsed.get("resources") or parsed.get("modules")


def test_the_parser_rejects_a_broken_template() -> None:
    with pytest.raises(Exception, match="Unexpected"):
        BicepParser().parse(text="resource x 'Microsoft.Foo/bars@2024-01-01' = {\n  name: 'x'\n")


def test_modules_exist_and_get_the_parameters_they_declare() -> None:
    main = t.template("main.bicep")
    used = set()
    for symbol, module in main["modules"].items():
        path = module["detail"]["path"]
        used.add(path)
        declared = t.template(path)["parameters"]
        given = set(t.body(module).get("params", {}))
        required = {name for name, p in declared.items() if "default" not in p}
        assert given <= set(declared), f"{symbol}: unknown parameters {given - set(declared)}"
        assert required <= given, f"{symbol}: missing parameters {required - given}"
    modules = {p.relative_to(t.INFRA).as_posix() for p in FILES} - {"main.bicep"}
    assert modules == used, f"modules main.bicep does not use: {modules - used}"


def test_names_come_from_the_abbreviations_and_the_resource_token() -> None:
    abbreviations = json.loads((t.INFRA / "abbreviations.json").read_text(encoding="utf-8"))
    text = (t.INFRA / "main.bicep").read_text(encoding="utf-8")
    used = set(re.findall(r"abbrs\.(\w+)", text))
    assert used and used <= set(abbreviations)
    main = t.template("main.bicep")
    for module in main["modules"].values():
        for key, value in t.body(module)["params"].items():
            if key in ("name", "planName", "emailServiceName"):
                value = t.resolve(value, main)
                assert isinstance(value, str) and "${abbrs." in value and "resourceToken}" in value


def test_the_parameters_file_fits_main() -> None:
    params = json.loads((t.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    declared = t.template("main.bicep")["parameters"]
    assert set(params) <= set(declared)
    # pycep gives a parameter without a default "default": None.
    required = {name for name, p in declared.items() if p.get("default") is None}
    assert {"environmentName", "chatSecret", "portalSecret"} <= required
    assert required <= set(params)


def test_azure_yaml_provisions_main_and_deploys_the_function_app() -> None:
    spec = yaml.safe_load((t.ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert spec["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    (service_name, service), = spec["services"].items()
    assert service["host"] == "function" and service["language"] == "python"
    assert (t.ROOT / service["project"]).is_dir()
    assert "package.py" in service["hooks"]["prepackage"]["run"]  # test_deploy_from_zero.py
    site = t.template("modules/function-app.bicep")
    assert t.resolve("serviceName", site) == service_name  # the azd-service-name tag


def test_the_function_app_runs_python_311_on_flex_consumption_as_its_identity() -> None:
    site_template = t.template("modules/function-app.bicep")
    (_, plan), = t.resources(site_template, "Microsoft.Web/serverfarms")
    assert t.body(plan)["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    (_, site), = t.resources(site_template, t.SITE)
    props = t.body(site)["properties"]
    assert props["functionAppConfig"]["runtime"] == {"name": "python", "version": "pythonVersion"}
    assert t.resolve("pythonVersion", site_template) == "3.11"
    assert props["functionAppConfig"]["deployment"]["storage"]["authentication"]["type"] == \
        "UserAssignedIdentity"
    assert t.body(site)["identity"]["type"] == "UserAssigned"
    assert props["httpsOnly"] is True and props["siteConfig"]["minTlsVersion"] == "1.2"


def test_the_storage_account_is_locked_to_entra_id() -> None:
    (_, account), = t.resources(t.template("modules/storage.bicep"),
                                "Microsoft.Storage/storageAccounts")
    props = t.body(account)["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True


def test_secrets_reach_the_app_as_key_vault_references() -> None:
    site_template = t.template("modules/function-app.bicep")
    text = (t.INFRA / "modules" / "function-app.bicep").read_text(encoding="utf-8")
    for secret in ("helpdesk-chat-secret", "acs-email-connection", "smtp-password",
                   "auth-client-secret"):
        assert f"@Microsoft.KeyVault(SecretUri=${{keyVaultUri}}secrets/{secret}/)" in text
    (_, site), = t.resources(site_template, t.SITE)
    assert t.body(site)["properties"]["keyVaultReferenceIdentity"] == "identityId"
    vault_text = (t.INFRA / "modules" / "key-vault.bicep").read_text(encoding="utf-8")
    for secret in ("helpdesk-chat-secret", "smtp-password", "auth-client-secret"):
        assert f"name: '{secret}'" in vault_text
    assert "name: connectionSecretName" in (t.INFRA / "modules" / "communication.bicep").read_text()
