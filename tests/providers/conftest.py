"""Fixtures shared by the provider tests."""

import json
from pathlib import Path

import pytest
import responses

from gitint.providers import http

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(autouse=True)
def fresh_transport():
    """Each test starts with no kept-alive sessions and an empty ETag cache."""
    http.etags.items.clear()
    http._sessions.clear()
    yield
    http.etags.items.clear()
    http._sessions.clear()


@pytest.fixture
def mocked():
    """Every outbound request must match a registered `responses` answer."""
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def public_dns(monkeypatch):
    """Host names resolve to a public address (GitHub's) without touching DNS."""
    monkeypatch.setattr(
        http, "resolve", lambda host, port, **kw: [(2, 1, 6, "", ("140.82.112.3", port))]
    )


def canned(host: str, name: str):
    """A canned host body from tests/data/<host>/<name>.json."""
    return json.loads((DATA / host / f"{name}.json").read_text())
