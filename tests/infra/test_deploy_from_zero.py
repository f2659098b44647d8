"""A first deployment works the way docs/deploy.md says, read against azd's and Azure's real behaviour.

- azd runs a service's `prepackage` hook whenever it packages the service (`azd package`,
  `azd up` and `azd deploy`) from the service's project folder; a project-level
  `prepackage` hook is skipped by `azd deploy`.
- azd substitutes `${AZURE_PRINCIPAL_TYPE}` in main.parameters.json with the signed-in
  principal's kind (`User` or `ServicePrincipal`).
- The sign-in client secret is written, referenced and named under one condition.
- docs/deploy.md's Azure CLI commands pass every secure parameter main.bicep cannot do without.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra import templates as t

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"


def azure_yaml() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((t.ROOT / "azure.yaml").read_text(encoding="utf-8"))
    return spec


def the_service() -> dict[str, Any]:
    (service,) = azure_yaml()["services"].values()
    return dict(service)


# --- the package hook ------------------------------------------------------------------


def test_the_package_is_staged_by_a_hook_of_the_service_not_of_the_project() -> None:
    project_hooks = azure_yaml().get("hooks") or {}
    assert not any("package.py" in str(hook) for hook in project_hooks.values()), \
        "a project-level hook does not run for `azd deploy`"
    hook = the_service()["hooks"]["prepackage"]
    assert hook["shell"] == "sh" and "package.py" in hook["run"]


def copy_of_the_repository(tmp_path: Path) -> Path:
    """What a fresh clone holds for the package (after `make install` vendored Chart.js)."""
    root = tmp_path / "clone"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("function_app.py", "host.json", "requirements.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(t.ROOT / name, root / name)
    for name in ("functions", "shared"):
        shutil.copytree(t.ROOT / name, root / name, ignore=ignore)
    (root / "infra").mkdir()
    shutil.copy2(t.INFRA / "package.py", root / "infra" / "package.py")
    (root / the_service()["project"]).mkdir(parents=True)
    return root


def run_the_hook_as_azd_does(root: Path) -> subprocess.CompletedProcess[str]:
    """An inline `sh` hook of a service, run in the service's project folder (azd's
    HooksMiddleware gives service hooks service.Path() as their working directory)."""
    service = the_service()
    return subprocess.run(["sh", "-c", service["hooks"]["prepackage"]["run"]],
                          cwd=root / service["project"], capture_output=True, text=True,
                          timeout=120)


def test_the_hook_stages_the_app_into_the_folder_azd_deploys(tmp_path: Path) -> None:
    root = copy_of_the_repository(tmp_path)
    result = run_the_hook_as_azd_does(root)
    assert result.returncode == 0, result.stderr
    staged = root / the_service()["project"]
    assert (staged / "function_app.py").read_bytes() == (t.ROOT / "function_app.py").read_bytes()
    assert (staged / "host.json").is_file() and (staged / "requirements.txt").is_file()
    assert (staged / "functions" / "__init__.py").is_file()
    assert (staged / "shared" / "__init__.py").is_file()
    assert not (staged / "devhost").exists() and not (staged / "tests").exists()


@pytest.mark.parametrize("missing", ["function_app.py", "shared", "functions", "requirements.txt"])
def test_the_hook_refuses_an_app_without_its_entry_point_or_packages(
        tmp_path: Path, missing: str) -> None:
    root = copy_of_the_repository(tmp_path)
    staged = root / the_service()["project"]
    (staged / "left-from-an-earlier-run.txt").write_text("x")
    target = root / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    result = run_the_hook_as_azd_does(root)
    assert result.returncode != 0
    assert missing in result.stderr and "refusing to stage" in result.stderr
    assert not (staged / "function_app.py").exists()
    assert (staged / "left-from-an-earlier-run.txt").exists(), "it refused before touching anything"


# --- the deploying principal's kind ------------------------------------------------------


def azd_substitute(value: str, env: dict[str, str]) -> str:
    """azd's envsubst over a parameters file value: ${NAME} and ${NAME=default}."""
    def one(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition("=")
        return env.get(name) or default
    return re.sub(r"\$\{([^}]+)\}", one, value)


@pytest.mark.parametrize("principal_type", ["User", "ServicePrincipal"])
def test_azd_passes_the_signed_in_principal_kind_to_main(principal_type: str) -> None:
    params = json.loads((t.INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert "principalType" in params, "without it, a service principal gets role assignments for a User"
    value = azd_substitute(params["principalType"]["value"],
                           {"AZURE_PRINCIPAL_TYPE": principal_type})
    assert value == principal_type
    (allowed,) = [d["argument"] for d in t.template("main.bicep")["parameters"]["principalType"]
                  ["decorators"] if d["type"] == "allowed"]
    assert value in allowed


def role_assignments_by_parameter(module_path: str) -> dict[str, str]:
    """In a module: the parameter giving a role assignment's principal -> the parameter (or
    literal) giving its principal type."""
    parsed = t.template(module_path)
    return {t.body(r)["properties"]["principalId"]: t.body(r)["properties"]["principalType"]
            for _, r in t.resources(parsed, ROLE_ASSIGNMENT)}


def test_every_role_assignment_of_the_deploying_principal_uses_its_kind() -> None:
    main = t.template("main.bicep")
    checked = 0
    for symbol, module in main["modules"].items():
        path = module["detail"]["path"]
        params = t.body(module).get("params", {})
        for id_param, type_param in role_assignments_by_parameter(path).items():
            if params.get(id_param) == "principalId":  # main's: the deploying principal
                assert params.get(type_param) == "principalType", \
                    f"{symbol}: {type_param} must be main's principalType"
                checked += 1
    assert checked >= 2  # the storage data roles and the vault's secrets officer


# --- the sign-in client secret -----------------------------------------------------------


def app_setting(site_template: dict[str, Any], name: str) -> Any:
    (_, site), = t.resources(site_template, t.SITE)
    (entry,) = [e for e in t.body(site)["properties"]["siteConfig"]["appSettings"]
                if e["name"] == name]
    return entry["value"]


@pytest.mark.parametrize(("client_id", "secret"),
                         list(itertools.product(["", "client-id"], ["", "s3cret"])))
def test_the_sign_in_secret_is_written_referenced_and_named_under_one_condition(
        client_id: str, secret: str) -> None:
    main = t.template("main.bicep")
    values = {"environmentName": "prod", "authClientId": client_id, "authClientSecret": secret,
              "chatSecret": "c", "portalSecret": "p"}

    vault = t.template("modules/key-vault.bicep")
    vault_values = t.module_values(main, "keyVault", values)
    written = t.condition_holds(vault["resources"]["authSecret"], vault, vault_values)

    site = t.template("modules/function-app.bicep")
    setting = t.evaluate(app_setting(site, "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET"), site,
                         t.module_values(main, "functionApp", values))
    referenced = "secrets/auth-client-secret/" in setting

    auth_module = main["modules"]["appAuth"]
    auth_on = t.condition_holds(auth_module, main, values)
    named = False
    if auth_on:
        auth = t.template("modules/app-auth.bicep")
        (_, config), = t.resources(auth, t.SITE_CONFIG)
        registration = t.body(config)["properties"]["identityProviders"]["azureActiveDirectory"][
            "registration"]
        named = "clientSecretSettingName" in t.evaluate(
            registration, auth, t.module_values(main, "appAuth", values))

    assert referenced == written, "the app setting must reference exactly the secret that exists"
    assert auth_on == bool(client_id)
    assert named == (auth_on and written), "Easy Auth names the setting only when it holds a secret"
    if not written:
        assert setting == ""


# --- docs/deploy.md's Azure CLI commands----------------------------------------------------


def required_secure_parameters() -> set[str]:
    return {name for name, p in t.template("main.bicep")["parameters"].items()
            if any(d["type"] == "secure" for d in p.get("decorators", []))
            and p.get("default") is None}


DEPLOY_DOC = t.ROOT / "docs" / "deploy.md"


def doc_deployment_commands(path: Path = DEPLOY_DOC) -> list[str]:
    """Every `az deployment group create` in a document's shell blocks, continuation
    lines joined."""
    text = path.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if "az deployment group create" in command:
                commands.append(command)
    return commands


def test_deploy_doc_cli_commands_name_every_required_secure_parameter() -> None:
    required = required_secure_parameters()
    assert {"chatSecret", "portalSecret"} <= required
    assert doc_deployment_commands(), "docs/deploy.md shows no `az deployment group create`"
    # Wherever else a document shows one, it must be as complete.
    commands = [command for path in (t.ROOT / "README.md", *sorted((t.ROOT / "docs").glob("*.md")))
                for command in doc_deployment_commands(path)]
    for command in commands:
        for name in required:
            assert re.search(rf"\b{name}=", command), f"a documented command omits {name}: {command}"


def test_deploy_doc_tells_how_to_keep_the_secrets_on_a_redeployment() -> None:
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    for secret in ("helpdesk-chat-secret", "helpdesk-portal-secret"):
        assert re.search(rf"az keyvault secret show [^\n`]*{secret}", text), \
            f"docs/deploy.md does not say how to read {secret} back for the next deployment"
