"""The Connect app descriptor at /atlassian-connect.json."""

import json
import re

from tests.conftest import BASE_URL

CONTEXT = "issueKey={issue.key}&projectKey={project.key}&projectId={project.id}"


def _descriptor(client) -> dict:
    response = client.get("/atlassian-connect.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def test_descriptor_core_fields(client):
    """Does the descriptor name the app, its base URL, JWT auth, lifecycle and migrations?"""
    descriptor = _descriptor(client)
    assert descriptor["key"] == "gitint" and descriptor["name"]
    assert descriptor["baseUrl"] == BASE_URL
    assert descriptor["authentication"] == {"type": "jwt"}
    assert descriptor["lifecycle"] == {
        "installed": "/lifecycle/installed",
        "uninstalled": "/lifecycle/uninstalled",
    }
    assert descriptor["apiMigrations"] == {"signed-install": True, "context-qsh": True}
    assert descriptor["scopes"] == ["READ"]


def test_descriptor_follows_the_base_url(app, client):
    """Is baseUrl taken from GITINT_BASE_URL?"""
    app.config["GITINT_BASE_URL"] = "https://git.example.com/gitint"
    assert _descriptor(client)["baseUrl"] == "https://git.example.com/gitint"


def test_issue_actions_open_the_dialogs(client):
    """Are there issue actions 'Create branch' / 'Create pull request' opening our dialogs?"""
    items = {item["name"]["value"]: item for item in _descriptor(client)["modules"]["webItems"]}
    assert items["Create branch"]["url"] == f"/dialogs/create-branch?{CONTEXT}"
    assert items["Create pull request"]["url"] == f"/dialogs/create-pull-request?{CONTEXT}"
    for item in items.values():
        assert item["location"] == "operations-top-level"
        assert item["context"] == "addon"
        assert item["target"]["type"] == "dialog"


def test_admin_and_user_pages(client):
    """Is there an admin page for integrations and a general page for personal access tokens?"""
    modules = _descriptor(client)["modules"]
    (admin,) = modules["adminPages"]
    assert admin["url"] == "/admin/integrations"
    (pats,) = modules["jiraProjectPages"]
    assert pats["url"] == "/pats?projectKey={project.key}&projectId={project.id}"
    assert pats["name"]["value"] == "Git: personal access tokens"


def test_module_keys_are_valid_and_unique(client):
    """Are module keys unique and made only of letters, digits and dashes (Connect's rule)?"""
    keys = [m["key"] for modules in _descriptor(client)["modules"].values() for m in modules]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"[a-zA-Z0-9-]+", key) for key in keys)
