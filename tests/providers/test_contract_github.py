"""Every request the GitHub client builds exists in GitHub's official OpenAPI description."""

import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
from responses import matchers

from gitint.providers.base import HostSettings, PullRequestExists, Repo
from gitint.providers.github import GitHub

from .conftest import canned

CONTRACTS = Path(__file__).parents[2].parent / "shared/contracts"
API = "https://api.github.com"
REPO = Repo(host_id="1296269", full_name="octocat/Hello-World", default_branch="master")


# (description file, settings, API root): github.com and the newest GHES description we hold
TARGETS = {
    "cloud": ("api.github.com.json", HostSettings(kind="github"), "https://api.github.com"),
    "ghes": (
        "ghes-3.19.json",
        HostSettings(kind="github_enterprise", base_url="https://ghe.example.com"),
        "https://ghe.example.com/api/v3",
    ),
}


@pytest.fixture(scope="module", params=sorted(TARGETS))
def target(request):
    """(OpenAPI description, provider settings, API root), the 13 MB file loaded once per module."""
    name, settings, api = TARGETS[request.param]
    path = CONTRACTS / "github" / name
    if not path.exists():
        pytest.skip(f"GitHub's OpenAPI description is not at {path}")
    return json.loads(path.read_text()), settings, api


def resolve(spec: dict, node: dict) -> dict:
    """Follow ``$ref`` pointers inside the description."""
    while "$ref" in node:
        found = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def pattern(template: str, greedy_last: bool) -> str:
    """A regex for a path template; with ``greedy_last`` a trailing parameter may hold slashes."""
    regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    return regex[:-5] + ".+" if greedy_last and regex.endswith("[^/]+") else regex


def find_template(spec: dict, path: str) -> str:
    """The description's path template for a concrete path, the most literal one first."""
    for greedy_last in (False, True):  # /git/ref/{ref} holds "heads/feature/x"
        found = [t for t in spec["paths"] if re.fullmatch(pattern(t, greedy_last), path)]
        if found:
            return max(found, key=lambda t: len(re.sub(r"\{[^}]+\}", "", t)))
    raise AssertionError(f"{path} matches no path in GitHub's description")


def check_request(spec: dict, request, api: str = API) -> None:
    """Assert that the method, path, query names and JSON body fit the description."""
    url = urlsplit(request.url)
    template = find_template(spec, unquote(url.path).removeprefix(urlsplit(api).path))
    item = spec["paths"][template]
    method = request.method.lower()
    assert method in item, f"{request.method} {template} is not in GitHub's description"
    operation = item[method]
    parameters = [
        resolve(spec, p) for p in item.get("parameters", []) + operation.get("parameters", [])
    ]
    declared = {p["name"] for p in parameters if p["in"] == "query"}
    for name, _ in parse_qsl(url.query):
        assert name in declared, f"{name} is not a query parameter of {method.upper()} {template}"
    if request.body:
        schema = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
        body = json.loads(request.body)
        unknown = set(body) - set(schema["properties"])
        assert not unknown, f"{unknown} are not fields of {method.upper()} {template}"
        missing = set(schema.get("required", ())) - set(body)
        assert not missing, f"{missing} are required by {method.upper()} {template}"


def run_every_verb(mocked, settings: HostSettings, api: str) -> None:
    """Drive every GitHub verb, including the error paths that make extra calls."""
    gh = GitHub(settings, "ghp_contract")
    repos_url = f"{api}/user/repos"
    mocked.get(
        repos_url,
        json=[canned("github", "repository")],
        headers={"Link": f'<{repos_url}?per_page=100&page=2>; rel="next"'},
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    mocked.get(
        repos_url, json=[], match=[matchers.query_param_matcher({"per_page": "100", "page": "2"})]
    )
    mocked.get(f"{api}/user", json=canned("github", "user"), headers={"X-OAuth-Scopes": "repo"})
    mocked.get(f"{api}/repos/octocat/Hello-World/branches", json=canned("github", "branches"))
    mocked.get(
        re.compile(re.escape(f"{api}/repos/octocat/Hello-World/git/ref/heads/") + ".+"),
        json=canned("github", "git_ref"),
    )
    mocked.post(
        f"{api}/repos/octocat/Hello-World/git/refs", json=canned("github", "git_ref"), status=201
    )
    mocked.post(
        f"{api}/repos/octocat/Hello-World/pulls", json=canned("github", "pull_request"), status=201
    )
    mocked.post(
        f"{api}/repos/octocat/Hello-World/pulls",
        status=422,
        json=canned("github", "pull_request_exists"),
    )
    mocked.get(f"{api}/repos/octocat/Hello-World/pulls", json=canned("github", "pulls"))

    gh.validate()
    list(gh.list_repositories())
    gh.list_branches(REPO, search="mas")
    gh.get_branch(REPO, "feature/ABC-1")
    gh.create_branch(REPO, "ABC-1-login", "master")
    gh.create_pull_request(REPO, "new-topic", "master", "ABC-1 Login", "Jira: ABC-1", True)
    with pytest.raises(PullRequestExists):
        gh.create_pull_request(REPO, "new-topic", "master", "ABC-1 Login", "Jira: ABC-1", False)
    gh.find_open_pull_request(REPO, "new-topic", "master")


def test_every_request_matches_the_description(mocked, public_dns, target):
    """Does every method, path, query parameter and body field exist in GitHub's description?"""
    description, settings, api = target
    run_every_verb(mocked, settings, api)
    assert len(mocked.calls) >= 10
    for call in mocked.calls:
        assert call.request.url.startswith(api)
        check_request(description, call.request, api)


def test_checker_catches_an_unknown_field(mocked, target):
    """Would the contract check notice a body field GitHub does not declare?"""
    mocked.post(f"{API}/repos/o/r/pulls", json={}, status=201)
    requests.post(
        f"{API}/repos/o/r/pulls", json={"head": "a", "base": "b", "descripton": "x"}, timeout=1
    )
    with pytest.raises(AssertionError, match="descripton"):
        check_request(target[0], mocked.calls[0].request)
