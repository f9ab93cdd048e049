"""Every request the Azure DevOps client builds is one the official Swagger description declares:
the path template and method exist, every query parameter is declared (api-version included, with
the spec's own version), and every JSON body key is a property of the body schema.

``_apis/connectionData`` (used by validate()) is not in any public spec, so it is excluded
explicitly below; its shape is covered by test_azure.py.
"""

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from gitint.providers import make_provider
from gitint.providers.base import HostSettings, PullRequestExists, Repo

from .conftest import canned

SPECS = Path(__file__).parents[2].parent / "shared/contracts/azure-devops"
NOT_IN_SPECS = {"/_apis/connectionData"}  # a preview location-service resource, undocumented

REPO_ID = "3411ebc1-d5aa-464f-9615-0b527bc66719"
REPO = Repo(
    host_id=REPO_ID,
    full_name="Fabrikam Fiber/2016_10_31",
    project="Fabrikam Fiber",
    web_url="https://dev.azure.com/fabrikam/Fabrikam%20Fiber/_git/2016_10_31",
)
REPO_NO_PROJECT = Repo(host_id=REPO_ID, full_name="2016_10_31", web_url=REPO.web_url)
# (kind, server version, API root, spec file)
TARGETS = [
    ("azure_devops", None, "https://dev.azure.com/fabrikam", "git-7.1.json"),
    (
        "tfs",
        "2019",
        "https://tfs.example.com/tfs/DefaultCollection",
        "git-onprem-azure-devops-server-5.0.json",
    ),
    ("tfs", "2018", "https://tfs.example.com/tfs/DefaultCollection", "git-onprem-tfs-4.1.json"),
]


def load(name: str) -> dict:
    path = SPECS / name
    if not path.exists():
        pytest.skip(f"the Azure DevOps specs are not available at {SPECS}")
    with path.open(encoding="utf-8-sig") as file:  # the files start with a UTF-8 BOM
        return json.load(file)


def deref(spec: dict, node: dict) -> dict:
    """Follow ``$ref`` (``#/definitions/X`` or ``#/parameters/X``) within the spec."""
    while "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def template_regexes(spec: dict):
    """(regex, template, operations) for every path, plus the variant without an optional
    ``{project}`` segment (the spec marks it ``x-ms-required: false``)."""
    for template, item in spec["paths"].items():
        operations = {method: op for method, op in item.items() if method != "parameters"}
        variants = [template]
        optional_project = any(
            p.get("name") == "project" and p.get("x-ms-required") is False
            for op in operations.values()
            for p in op.get("parameters", [])
        )
        if optional_project:
            variants.append(template.replace("/{project}", "", 1))
        for variant in variants:
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(variant))
            yield re.compile(pattern + "$"), template, operations


def capture(kind, version, root, mocked):
    """Run every verb of the client against canned answers and return the calls made."""
    settings = HostSettings(
        kind=kind,
        organization="fabrikam" if kind != "tfs" else None,
        base_url=root if kind == "tfs" else None,
        server_version=version,
    )
    provider = make_provider(settings, "azpat-contract-0000", allow_private=False)
    git = f"{root}/Fabrikam%20Fiber/_apis/git/repositories/{REPO_ID}"
    bare = f"{root}/_apis/git/repositories/{REPO_ID}"
    mocked.get(root + "/_apis/connectionData", json=canned("azure", "connection_data"))
    mocked.get(root + "/_apis/git/repositories", json=canned("azure", "repositories"))
    page_1, page_2 = canned("azure", "refs_page_1"), canned("azure", "refs_page_2")
    mocked.get(git + "/refs", json=page_1, headers={"x-ms-continuationtoken": "t2"})
    if float(provider.api_version) >= 5:  # 4.1 has no continuation tokens
        mocked.get(git + "/refs", json=page_2)
    mocked.get(git + "/refs", json=canned("azure", "refs_main_prefix"))
    mocked.post(git + "/refs", json=canned("azure", "ref_update_succeeded"))
    mocked.get(bare + "/refs", json=canned("azure", "refs_main_prefix"))
    mocked.post(git + "/pullrequests", json=canned("azure", "pull_request"), status=201)
    mocked.post(git + "/pullrequests", json=canned("azure", "pull_request_exists"), status=409)
    mocked.get(git + "/pullrequests", json=canned("azure", "pull_requests"))

    provider.validate()
    list(provider.list_repositories())
    provider.list_branches(REPO, "abc")
    provider.create_branch(REPO, "ABC-1-login", "main")  # get_branch + POST refs
    provider.get_branch(REPO_NO_PROJECT, "main")  # repository id without the project
    provider.create_pull_request(REPO, "ABC-1-login", "main", "ABC-1 Login", "link", True)
    with pytest.raises(PullRequestExists):  # 409, then find_open_pull_request
        provider.create_pull_request(REPO, "ABC-1-login", "main", "ABC-1 Login", "link", True)
    return list(mocked.calls)


@pytest.mark.parametrize(
    ("kind", "version", "root", "spec_file"), TARGETS, ids=[t[3] for t in TARGETS]
)
def test_requests_match_the_spec(mocked, public_dns, kind, version, root, spec_file):
    """Each request's path, method, query names, api-version and body keys are declared."""
    spec = load(spec_file)
    templates = list(template_regexes(spec))
    root_path = urlsplit(root).path
    prefix = "/" + root_path.rstrip("/").rsplit("/", 1)[-1]  # /{organization} or /{collection}
    checked = excluded = 0
    for call in capture(kind, version, root, mocked):
        request = call.request
        url = urlsplit(request.url)
        assert url.path.startswith(root_path)
        rest = url.path[len(root_path.rstrip("/")) :]
        if rest in NOT_IN_SPECS:
            excluded += 1
            continue
        method = request.method.lower()
        matches = [
            (template, ops[method])
            for regex, template, ops in templates
            if regex.match(prefix + rest) and method in ops
        ]
        assert matches, f"{request.method} {rest} is not in {spec_file}"
        template, operation = min(matches, key=lambda match: match[0].count("{"))

        parameters = [deref(spec, p) for p in operation.get("parameters", [])]
        declared = {p["name"] for p in parameters if p["in"] == "query"}
        sent = parse_qs(url.query, keep_blank_values=True)
        assert set(sent) <= declared, f"{template}: undeclared {set(sent) - declared}"
        assert sent["api-version"] == [spec["info"]["version"]]

        body_params = [p for p in parameters if p["in"] == "body"]
        if request.body:
            assert body_params, f"{template} takes no body"
            schema = deref(spec, body_params[0]["schema"])
            payload = json.loads(request.body)
            if schema.get("type") == "array":
                schema, items = deref(spec, schema["items"]), payload
            else:
                items = [payload]
            properties = set(schema.get("properties", {}))
            for item in items:
                assert set(item) <= properties, f"{template}: unknown {set(item) - properties}"
        checked += 1
    assert excluded == 1  # connectionData, on purpose
    assert checked >= 8
