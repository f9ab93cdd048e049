"""No branch name the validator accepts can take a request out of the repository's API path,
on any provider verb that takes a branch; names that would are refused in the provider too."""

import json
import posixpath
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitint.branchnames import validate_branch_name
from gitint.providers import make_provider
from gitint.providers.base import HostSettings, InvalidName, Repo
from gitint.providers.http import path_segment, path_segments

SHA = "aa218f56b14c9653891f9e74264a383fa43fefbd"
ANY = re.compile(r"https://.*")

# Pieces that mean something in a URL or to a server, and a few that git refuses, so the
# validator's filter has work to do.
PIECES = list(".%/;?#&=+@{}!$'()*,-_~^:\\ ") + [
    "..",
    "%2e",
    "%2E%2e",
    "%2f",
    "%252e",
    "%00",
    ".lock",
    "@{",
    "HEAD",
    "refs",
    "heads",
    "é",
    "€",
    "\u3002",  # ideographic full stop
    "\uff0e",  # fullwidth full stop
]
names = (
    st.lists(st.sampled_from(PIECES) | st.text("aZ0", min_size=1, max_size=3), max_size=10)
    .map("".join)
    .filter(lambda name: not validate_branch_name(name, new=False))
)


def github_answer(method, path, query):
    if method == "GET" and "/git/ref/heads/" in path:
        return {"ref": "refs/heads/x", "object": {"sha": SHA}}
    if method == "POST" and path.endswith("/git/refs"):
        return {"ref": "refs/heads/x", "object": {"sha": SHA}}
    if method == "POST" and path.endswith("/pulls"):
        return {"number": 1, "html_url": "https://x/1", "head": {"ref": "s"}, "base": {"ref": "t"}}
    return []  # GET …/pulls: none open


def gitlab_answer(method, path, query):
    if "/merge_requests" in path:
        mr = {"iid": 1, "title": "t", "web_url": "https://x/1"}
        return {**mr, "source_branch": "s", "target_branch": "t"} if method == "POST" else []
    return {"name": "x", "commit": {"id": SHA}}  # GET or POST …/repository/branches


def azure_answer(method, path, query):
    if path.endswith("/refs"):
        if method == "POST":
            return {"value": [{"success": True, "newObjectId": SHA}]}
        wanted = query["filter"][0].removeprefix("heads/")
        return {"value": [{"name": f"refs/heads/{wanted}", "objectId": SHA}]}
    if method == "POST":
        refs = {"sourceRefName": "refs/heads/s", "targetRefName": "refs/heads/t"}
        return {"pullRequestId": 1, "title": "t", **refs}
    return {"value": []}


AZURE_REPO = Repo(
    host_id="3411ebc1-d5aa-464f-9615-0b527bc66719",
    full_name="Fabrikam Fiber/api",
    project="Fabrikam Fiber",
    web_url="https://dev.azure.com/fabrikam/Fabrikam%20Fiber/_git/api",
)
HOSTS = {
    "github": (
        HostSettings(kind="github"),
        Repo(host_id="101", full_name="acme/api"),
        "/repos/acme/api/",
        github_answer,
    ),
    "github_enterprise": (
        HostSettings(kind="github_enterprise", base_url="https://ghe.example.com"),
        Repo(host_id="101", full_name="acme/api"),
        "/api/v3/repos/acme/api/",
        github_answer,
    ),
    "gitlab": (
        HostSettings(kind="gitlab"),
        Repo(host_id="4711", full_name="acme/api"),
        "/api/v4/projects/4711/",
        gitlab_answer,
    ),
    "azure_devops": (
        HostSettings(kind="azure_devops", organization="fabrikam"),
        AZURE_REPO,
        f"/fabrikam/Fabrikam%20Fiber/_apis/git/repositories/{AZURE_REPO.host_id}/",
        azure_answer,
    ),
}
VERBS = {
    "get_branch": lambda p, repo, a, b: p.get_branch(repo, a),
    "create_branch": lambda p, repo, a, b: p.create_branch(repo, b, a),
    "create_pull_request": lambda p, repo, a, b: p.create_pull_request(repo, a, b, "t", "", False),
    "find_open_pull_request": lambda p, repo, a, b: p.find_open_pull_request(repo, a, b),
}


def server_path(path: str) -> str:
    """The path as a server resolves it: percent-decoded once, then dot segments removed."""
    return posixpath.normpath(unquote(path)) + ("/" if path.endswith("/") else "")


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("kind", HOSTS)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(first=names, second=names)
def test_requests_stay_under_the_repository(kind, verb, first, second):
    """For any two names the validator accepts, does every request a verb sends stay under the
    repository's prefix, as requests sends it and as a server resolves it?"""
    host_settings, repo, prefix, answer = HOSTS[kind]
    paths = []

    def reply(request):
        url = urlsplit(request.url)
        paths.append(url.path)
        body = answer(request.method, url.path, parse_qs(url.query))
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    provider = make_provider(host_settings, "token-0000", allow_private=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        for method in ("GET", "POST"):
            mocked.add_callback(method, ANY, callback=reply)
        VERBS[verb](provider, repo, first, second)
    assert paths
    for path in paths:
        assert path.startswith(prefix), path
        assert server_path(path).startswith(server_path(prefix)), path


@pytest.mark.parametrize("value", ["", ".", "..", "../x", "x/..", "a/./b", "..\\x"])
def test_dot_segments_are_refused_in_the_provider(value):
    """Does the provider refuse a value a server would resolve out of the path (also once it
    decodes %2F or treats "\\" as "/"), whatever the caller checked before?"""
    with pytest.raises(InvalidName):
        path_segment(value)
    with pytest.raises(InvalidName):
        path_segments(f"a/{value}/b" if value else "a//b")


def test_segments_encode_every_reserved_character():
    """Is everything but unreserved characters percent-encoded, "/" only between segments?"""
    assert path_segment("a/b?c#d%e;f") == "a%2Fb%3Fc%23d%25e%3Bf"
    assert path_segments("feature/a b%2e") == "feature/a%20b%252e"


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_dot_segment_name_never_reaches_the_host(kind):
    """Called directly with ``../../../../user`` (no dialog in front), does the provider refuse
    it without a request?"""
    host_settings, repo, _, _ = HOSTS[kind]
    provider = make_provider(host_settings, "token-0000")
    with responses.RequestsMock() as mocked, pytest.raises(InvalidName):
        provider.get_branch(repo, "../../../../user")
    assert len(mocked.calls) == 0
