"""The GitHub repository events the tests and the fake host send fit GitHub's official webhook
descriptions (``x-webhooks`` of the OpenAPI description in shared/contracts)."""

import json
from pathlib import Path

import pytest

from tests.providers.test_contract_github import resolve

from .conftest import github_event

CONTRACTS = Path(__file__).parents[2].parent / "shared/contracts/github"
TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


@pytest.fixture(scope="module", params=["api.github.com.json", "ghes-3.19.json"])
def spec(request):
    path = CONTRACTS / request.param
    if not path.exists():
        pytest.skip(f"GitHub's OpenAPI description is not at {path}")
    return json.loads(path.read_text())


def problems(spec: dict, schema: dict, value, where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema``: missing required properties and wrong types."""
    schema = resolve(spec, schema)
    if value is None:
        ok = schema.get("nullable") or "null" in str(schema.get("type")) or not schema
        return [] if ok or "anyOf" in schema or "oneOf" in schema else [f"{where} is null"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [problems(spec, option, value, where) for option in schema[key]]
            return [] if any(not found for found in branches) else min(branches, key=len)
    found = []
    for option in schema.get("allOf", []):
        found += problems(spec, option, value, where)
    kind = schema.get("type")
    wrong = isinstance(kind, str) and kind in TYPES and not isinstance(value, TYPES[kind])
    if wrong or (kind == "integer" and isinstance(value, bool)):
        return [f"{where} is not {kind}"]
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{where}.{name} is missing")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                found += problems(spec, sub, value[name], f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for n, item in enumerate(value):
            found += problems(spec, schema["items"], item, f"{where}[{n}]")
    return found


def body_schema(spec: dict, event: str) -> dict:
    operation = spec["x-webhooks"][event]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    ("action", "changes"),
    [
        ("created", None),
        ("deleted", None),
        ("renamed", {"repository": {"name": {"from": "billing"}}}),
        ("edited", {"default_branch": {"from": "main"}}),
    ],
)
def test_repository_events_fit_the_description(spec, action, changes):
    """Does each repository event we send carry every property GitHub's description requires,
    with the declared types?"""
    payload = github_event(action)
    if changes:
        payload["changes"] = changes
    assert problems(spec, body_schema(spec, f"repository-{action}"), payload) == []


def test_the_check_finds_a_missing_property(spec):
    """Does the check notice a payload without the repository's default branch?"""
    payload = github_event("created")
    del payload["repository"]["default_branch"]
    assert problems(spec, body_schema(spec, "repository-created"), payload) == [
        "$.repository.default_branch is missing"
    ]


def test_the_signature_header_is_the_documented_one(spec):
    """Is X-Hub-Signature-256 (and X-GitHub-Delivery) among the event's documented headers?"""
    parameters = spec["x-webhooks"]["repository-created"]["post"]["parameters"]
    names = {resolve(spec, p)["name"].lower() for p in parameters}
    assert {"x-hub-signature-256", "x-github-delivery", "x-github-event"} <= names
