"""forge/manifest.yml: its shape as docs/forge.md defines it (pure Python), and, with Node and
forge/node_modules, @forge/manifest's full validation and `build.mjs --check`.

The Node checks skip, saying why, when node or forge/node_modules is missing — unless
GITINT_REQUIRE_NODE is set (CI sets it after `npm ci --prefix forge`), where that is a failure.
"""

import json
import os
import shutil
import subprocess

import pytest

from tests.forge._manifest import FORGE, MANIFEST, REPO, load, parse

UI_MODULES = {
    "jira:issueAction": {"gitint-create-branch", "gitint-create-pull-request"},
    "jira:personalSettingsPage": {"gitint-pats"},
    "jira:adminPage": {"gitint-admin"},
}
SCOPES = {"read:jira-work", "read:jira-user", "read:app-user-token", "read:app-system-token"}
EXAMPLE_BASE_URL = "https://gitint.example.com"  # what validate.mjs interpolates


def node(*args: str) -> subprocess.CompletedProcess:
    """Runs node with args in the repository; skips or fails when Node or npm ci is missing."""
    reason = None
    if not shutil.which("node"):
        reason = "node is not installed"
    elif not (FORGE / "node_modules").is_dir():
        reason = "forge/node_modules is missing (npm ci --prefix forge)"
    if reason:
        if os.environ.get("GITINT_REQUIRE_NODE"):
            pytest.fail(f"the forge/ Node checks are required here but {reason}")
        pytest.skip(reason)
    return subprocess.run(
        ["node", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def ui_modules(manifest: dict) -> list[tuple[str, dict]]:
    return [
        (kind, module)
        for kind, modules in manifest["modules"].items()
        for module in modules
        if "resource" in module
    ]


def test_ui_modules_are_the_documented_ones():
    """Are the UI modules exactly the four keys of docs/forge.md, under their module types?"""
    manifest = load()
    found: dict[str, set] = {}
    for kind, module in ui_modules(manifest):
        found.setdefault(kind, set()).add(module["key"])
    assert found == UI_MODULES
    admin = manifest["modules"]["jira:adminPage"][0]
    assert admin["title"] == "Manage Git repositories"
    assert admin["useAsConfig"] is True


def test_every_ui_module_resolves_to_the_remote_endpoint():
    """Does every UI module show the resource `main` and resolve to the endpoint gitint-ui?"""
    manifest = load()
    assert manifest["resources"] == [{"key": "main", "path": "static/gitint"}]
    for _kind, module in ui_modules(manifest):
        assert module["resource"] == "main", module["key"]
        assert module["resolver"] == {"endpoint": "gitint-ui"}, module["key"]


def test_endpoints_remote_and_trigger():
    """Do both endpoints reach the remote gitint (${GITINT_BASE_URL}, compute) with their tokens?"""
    manifest = load()
    endpoints = {e["key"]: e for e in manifest["modules"]["endpoint"]}
    assert endpoints["gitint-ui"]["remote"] == "gitint"
    assert endpoints["gitint-ui"]["auth"] == {
        "appUserToken": {"enabled": True},
        "appSystemToken": {"enabled": True},
    }
    assert endpoints["gitint-lifecycle"]["remote"] == "gitint"
    assert endpoints["gitint-lifecycle"]["route"] == {"path": "/forge/lifecycle"}
    assert endpoints["gitint-lifecycle"]["auth"]["appSystemToken"] == {"enabled": True}
    [trigger] = manifest["modules"]["trigger"]
    assert trigger["endpoint"] == "gitint-lifecycle"
    assert set(trigger["events"]) == {"avi:forge:installed:app", "avi:forge:upgraded:app"}
    [remote] = manifest["remotes"]
    assert remote["key"] == "gitint"
    assert remote["baseUrl"] == "${GITINT_BASE_URL}"
    assert "compute" in remote["operations"]
    assert "GITINT_BASE_URL" in manifest["environment"]["variables"]


def test_scopes_are_exactly_the_expected_ones():
    """Does the app ask for exactly the four scopes, and nothing more?"""
    assert set(load()["permissions"]["scopes"]) == SCOPES
    assert len(load()["permissions"]["scopes"]) == len(SCOPES)


def test_the_bundle_maps_every_ui_module_key():
    """Does src/gitint-forge.js know the page of every UI module key?"""
    source = (FORGE / "src" / "gitint-forge.js").read_text(encoding="utf-8")
    for keys in UI_MODULES.values():
        for key in keys:
            assert f'"{key}":' in source, key


def test_forge_manifest_validation_rejects_a_broken_manifest(tmp_path):
    """Does validate.mjs exit 1 with the validator's message for an unknown resolver endpoint?"""
    shutil.copytree(FORGE / "static", tmp_path / "static")
    broken = MANIFEST.read_text(encoding="utf-8").replace(
        "endpoint: gitint-ui\n", "endpoint: gitint-nowhere\n", 1
    )
    (tmp_path / "manifest.yml").write_text(broken, encoding="utf-8")
    result = node("forge/validate.mjs", str(tmp_path / "manifest.yml"))
    assert result.returncode == 1
    assert "undefined endpoint module with key 'gitint-nowhere'" in result.stderr


def test_forge_manifest_validation_passes():
    """Does @forge/manifest's full validation pass, on the data this file's checks read?"""
    result = node("forge/validate.mjs", "--json")  # the validated manifest, interpolated
    assert result.returncode == 0, result.stdout + result.stderr
    validated = json.loads(result.stdout)
    validated["remotes"][0]["baseUrl"] = validated["remotes"][0]["baseUrl"].replace(
        EXAMPLE_BASE_URL, "${GITINT_BASE_URL}"
    )
    assert validated == load()


def test_built_resource_is_up_to_date():
    """Is forge/static/gitint what `node forge/build.mjs` builds (bundle and copies)?"""
    result = node("forge/build.mjs", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_subset_parser_refuses_what_it_does_not_know():
    """Does the manifest reader fail on YAML outside its subset instead of guessing?"""
    assert parse("a:\n  - b: 1\n    c: 'x: y'\n  - d\n") == {"a": [{"b": "1", "c": "x: y"}, "d"]}
    for text in ("a: [1, 2]\n", "a: 1\na: 2\n", "a:\n  b: 1\n c: 2\n"):
        with pytest.raises(ValueError):
            parse(text)
