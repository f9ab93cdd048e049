"""Fixtures for the admin pages: an admin's htmx headers and a fake git host (the queue runs
jobs inline under TESTING, so a sync asked for has finished when the request returns)."""

from dataclasses import dataclass, field

import pytest

from gitint import hosts
from gitint.providers.base import Identity, NotFound, Provider, Repo
from tests.conftest import context_headers

ADMIN = ("VIEW_DEV_TOOLS", "ADMINISTER")
GOOD = Identity(
    login="integration-bot",
    scopes=("repo",),
    can_create_branch=True,
    can_create_pull_request=True,
)


def repos(start: int, stop: int, prefix: str = "org/repo") -> list[Repo]:
    return [
        Repo(
            host_id=str(n),
            full_name=f"{prefix}-{n}",
            default_branch="main",
            web_url=f"https://github.com/{prefix}-{n}",
        )
        for n in range(start, stop)
    ]


@dataclass
class FakeHost:
    """What the fake provider answers: an identity (or error) and pages of repositories."""

    identity: Identity = GOOD
    error: Exception | None = None  # raised by validate()
    pages: list = field(default_factory=list)  # lists of Repo, or an exception to raise
    secrets: list = field(default_factory=list)  # every secret a provider was made with
    pages_read: int = 0
    hidden: set = field(default_factory=set)  # host ids the account cannot reach (404)
    branch_calls: list = field(default_factory=list)  # repositories whose branches were listed


class FakeProvider(Provider):
    kind = "github"
    label = "Fake host"

    def __init__(self, settings, secret, *, host: FakeHost, allow_private=False):
        super().__init__(settings, secret, allow_private=allow_private)
        self.host = host
        host.secrets.append(secret)

    def validate(self):
        if self.host.error is not None:
            raise self.host.error
        return self.host.identity

    def list_repositories(self):
        for page in self.host.pages:
            self.host.pages_read += 1
            if isinstance(page, Exception):
                raise page
            yield from page

    def list_branches(self, repo, search=None):
        self.host.branch_calls.append(repo.host_id)
        if repo.host_id in self.host.hidden:
            raise NotFound("The repository was not found.")
        return []

    def get_branch(self, repo, name):
        raise NotImplementedError

    def create_branch(self, repo, name, base):
        raise NotImplementedError

    def create_pull_request(self, repo, source, target, title, description, draft):
        raise NotImplementedError

    def find_open_pull_request(self, repo, source, target):
        raise NotImplementedError

    def new_token_url(self):
        return "https://github.com/settings/tokens/new"

    def web_url_for_branch(self, repo, name):
        return f"https://github.com/{repo.full_name}/tree/{name}"

    def web_url_for_pull_request(self, repo, pr_id):
        return f"https://github.com/{repo.full_name}/pull/{pr_id}"


@pytest.fixture
def fake_host(monkeypatch):
    """Every integration talks to one fake host (hosts.provider_for is replaced)."""
    host = FakeHost()

    def provider_for(integration, secret):
        return FakeProvider(hosts.settings_of(integration), secret, host=host)

    monkeypatch.setattr(hosts, "provider_for", provider_for)
    return host


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture
def admin(app, tenant):
    """htmx headers of a Jira administrator of ``tenant``."""
    return context_headers(tenant, "admin-1", ADMIN, issue_key=None, project_key=None)


@pytest.fixture
def developer(app, tenant):
    """htmx headers of a user of ``tenant`` who is not a Jira administrator."""
    return context_headers(tenant, "dev-1", ("VIEW_DEV_TOOLS",), issue_key=None, project_key=None)
