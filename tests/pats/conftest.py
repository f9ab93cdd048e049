"""Fixtures for the PAT tests: a tenant with a GitHub integration, a mocked GitHub, a fake host."""

import pytest
import responses

from gitint import hosts
from gitint.providers.base import Identity, Provider

GITHUB_USER = "https://api.github.com/user"


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture
def github(make_integration, tenant):
    return make_integration(tenant, "github", name="GitHub.com")


@pytest.fixture
def host():
    """Every outbound HTTP call is mocked; unmatched calls fail."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def github_says(host, login="octocat", scopes="repo, read:user", expires=None, status=200):
    """GET /user answers as GitHub does for a token with these scopes and expiry."""
    headers = {}
    if scopes is not None:
        headers["X-OAuth-Scopes"] = scopes
    if expires:
        headers["GitHub-Authentication-Token-Expiration"] = expires
    body = {"login": login} if status == 200 else {"message": "Bad credentials"}
    host.add(responses.GET, GITHUB_USER, json=body, status=status, headers=headers)


def github_calls(host) -> int:
    return sum(1 for call in host.calls if call.request.url.startswith(GITHUB_USER))


class FakeProvider(Provider):
    """A host that answers validate() from a class attribute; records the secrets it got."""

    kind = "fake"
    label = "Fake Host"
    answer: Identity | Exception = Identity(login="fake-user")
    secrets: list[str] = []

    def validate(self):
        FakeProvider.secrets.append(self.secret)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def new_token_url(self):
        return "https://fake.example.com/tokens/new"

    def list_repositories(self): ...
    def list_branches(self, repo, search=None): ...
    def get_branch(self, repo, name): ...
    def create_branch(self, repo, name, base): ...
    def create_pull_request(self, repo, source, target, title, description, draft): ...
    def find_open_pull_request(self, repo, source, target): ...
    def web_url_for_branch(self, repo, name): ...
    def web_url_for_pull_request(self, repo, pr_id): ...


@pytest.fixture
def fake_host(monkeypatch):
    """Replace every provider with FakeProvider (keeping the credential kind of the real one)."""
    real = hosts.provider_for
    FakeProvider.secrets = []
    FakeProvider.answer = Identity(login="fake-user")

    def provider_for(integration, secret):
        provider = FakeProvider(hosts.settings_of(integration), secret)
        provider.credential_kind = real(integration, "").credential_kind
        return provider

    monkeypatch.setattr(hosts, "provider_for", provider_for)
    return FakeProvider
