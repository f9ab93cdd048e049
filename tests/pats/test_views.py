"""The PAT page and the PAT setup fragment over HTTP: rendering, saving, deleting, refusing."""

import json
import re
from datetime import timedelta

import pytest
import responses
from sqlalchemy import func, select

from gitint import search
from gitint.extensions import db
from gitint.models import Attempt, AuditEvent, Credential, Repository, utcnow
from tests.conftest import context_headers, entry_url, statements_of

from .conftest import github_calls, github_says

TOKEN = "ghp_Route00000000000000000000000000042"


def hx(tenant, account_id="user-1", **kwargs):
    return context_headers(tenant, account_id=account_id, **kwargs)


def save(client, tenant, integration, account_id="user-1", **form):
    form.setdefault("target", "dialog")
    return client.post(f"/pats/{integration.id}", data=form, headers=hx(tenant, account_id))


def inputs(html: str) -> dict[str, str]:
    """name → the whole <input> tag, for the visible (non-hidden) inputs of a fragment."""
    tags = re.findall(r"<input\b[^>]*>", html)
    return {
        re.search(r'name="([^"]+)"', tag).group(1): tag
        for tag in tags
        if 'type="hidden"' not in tag
    }


def own_credentials(tenant, account_id="user-1"):
    return db.session.scalars(
        select(Credential).where(
            Credential.tenant_id == tenant.id, Credential.account_id == account_id
        )
    ).all()


# ---------------------------------------------------------------- the page


def test_page_opens_from_jira_without_caching(client, tenant, github):
    """Does the signed iframe entry render the whole page, marked no-store?"""
    response = client.get(entry_url(tenant, "/pats"))
    assert response.status_code == 200
    assert "<h1>Git: personal access tokens</h1>" in response.text
    assert 'name="gitint-context"' in response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_page_shows_each_integrations_token_state(
    client, tenant, make_integration, make_credential, make_repo
):
    """Does the page show checkmarks, @login, last 4, expiry warning, revoked and Setup required?"""
    github = make_integration(tenant, "github", name="GitHub.com")
    gitlab = make_integration(tenant, "gitlab", name="GitLab.com", require_user_pat=True)
    azure = make_integration(tenant, "azure_devops", name="Azure", organization="contoso")
    make_credential(
        github, "user-1", secret="ghp_x000000000009876", expires_at=utcnow() + timedelta(days=5)
    )
    make_credential(azure, "user-1", secret="azurepat0000abcd", status="revoked")
    make_credential(gitlab, "user-2", secret="glpat-otheruser5555", login="someone-else")
    for name in ("acme/api", "acme/web"):
        make_repo(github, name)
    make_repo(gitlab, "acme/infra")
    make_repo(azure, "Project/app")

    page = client.get("/pats", headers=hx(tenant, htmx=False)).text
    assert "@user-1-login" in page
    assert 'ending in <code class="suffix">…9876</code>' in page  # the last 4, marked as a suffix
    assert 'ending in <code class="suffix">…abcd</code>' in page
    # token states as lozenges, on the integration row and on its repository rows
    assert page.count('<span class="lozenge warning">Expires in 5 days</span>') == 3
    assert page.count('<span class="lozenge danger">Revoked</span>') == 2
    assert page.count("Setup required") == 2  # GitLab's integration row and its repository row
    assert page.count('<span class="sr-only">Token set</span>') == 2  # both GitHub repositories
    assert "someone-else" not in page and "5555" not in page
    # icon-only controls have text alternatives
    assert 'aria-label="Replace your token for GitHub.com"' in page
    assert 'aria-label="Set up your token for GitLab.com"' in page
    assert 'aria-hidden="true">✎</span>' in page


def test_search_and_pages(client, tenant, github, make_repo):
    """Does the repository browser page through every repository 50 at a time (with the count),
    and search (literally) with the type-ahead's order — prefix, after "/", anywhere — paging
    its results with Previous/Next?"""
    for n in range(60):
        make_repo(github, f"team/repo-{n:02d}")
    make_repo(github, "other/Special_100%")
    make_repo(github, "repo-tools/cli")
    first = client.get("/pats", headers=hx(tenant)).text
    assert "<h1>" not in first and 'id="pat-repositories"' in first  # the block only
    assert first.count("<tr data-integration") == 50 and "1–50 of 62" in first
    assert "Next page" in first and "Previous page" not in first
    second = client.get("/pats?page=2", headers=hx(tenant)).text
    assert second.count("<tr data-integration") == 12 and "51–62 of 62" in second
    assert "Previous page" in second and "Next page" not in second

    found = client.get("/pats?q=repo", headers=hx(tenant)).text
    names = re.findall(r">((?:team|repo-tools|other)/[^<]+)</a>", found)
    assert names[:3] == ["repo-tools/cli", "team/repo-00", "team/repo-01"]  # the prefix first
    assert len(names) == 50 and "1–50 matching “repo”" in found and "of 61" not in found
    assert "Next page" in found and "Previous page" not in found
    rest = client.get("/pats?q=repo&page=2", headers=hx(tenant)).text
    assert rest.count("<tr data-integration") == 11 and "51–61 matching" in rest
    assert "Previous page" in rest and "Next page" not in rest
    gone = client.get("/pats?q=repo&page=9", headers=hx(tenant)).text  # fewer matches by now
    assert gone.count("<tr data-integration") == 50 and "1–50 matching" in gone

    found = client.get("/pats?q=SPECIAL_100%25", headers=hx(tenant)).text
    assert found.count("<tr data-integration") == 1 and "other/Special_100%" in found
    assert client.get("/pats?q=%25", headers=hx(tenant)).text.count("<tr data-integration") == 1
    assert "No repositories match" in client.get("/pats?q=zzz", headers=hx(tenant)).text


def test_a_large_tenant_is_counted_up_to_a_bound_and_paged_to_its_end(
    client, tenant, github, make_repo, monkeypatch
):
    """Above COUNT_UP_TO repositories, does the browser say "of more than N" (the count stops
    there instead of reading every row), still page to the very last repository, and send a
    page past the end back to the first?"""
    from gitint.views import pats

    monkeypatch.setattr(pats, "COUNT_UP_TO", 20)
    for n in range(120):
        make_repo(github, f"team/repo-{n:03d}")
    seen = []
    first = statements_of(lambda: seen.append(client.get("/pats", headers=hx(tenant)).text))
    assert "1–50 of more than 20" in seen[0] and "Next page" in seen[0]
    counts = [s for s in first if "count(" in s]
    assert len(counts) == 1 and "LIMIT" in counts[0]  # a bounded count
    third = client.get("/pats?page=3", headers=hx(tenant)).text
    assert third.count("<tr data-integration") == 20 and "101–120 of more than 20" in third
    assert "team/repo-119" in third and "Next page" not in third and "Previous page" in third
    past = client.get("/pats?page=7", headers=hx(tenant)).text
    assert "1–50 of more than 20" in past and "team/repo-000" in past

    monkeypatch.setattr(pats, "COUNT_UP_TO", 120)  # exactly the bound: the count is exact
    assert "1–50 of 120" in client.get("/pats", headers=hx(tenant)).text
    last = client.get("/pats?page=9", headers=hx(tenant)).text  # past the end: the last page
    assert "101–120 of 120" in last and "Next page" not in last


def test_a_search_costs_the_same_statements_whatever_the_repository_count(
    client, tenant, github, make_repo
):
    """Is a PAT-page search a bounded number of statements (the type-ahead's search, no count of
    every match: it used to scan them all), at 30 repositories as at 3,000?"""

    def search_statements():
        html = []
        seen = statements_of(lambda: html.append(client.get("/pats?q=ledger", headers=hx(tenant))))
        assert html[0].status_code == 200
        return [s for s in seen if "FROM repositories" in s]

    def add(numbers):
        names = [f"team/ledger-{n}" for n in numbers]
        rows = [
            {"tenant_id": tenant.id, "integration_id": github.id, "host_id": name}
            | {"full_name": name, "search_name": name}
            for name in names
        ]
        db.session.execute(Repository.__table__.insert(), rows)
        db.session.commit()

    def type_ahead_statements():  # what the dialogs' search runs for the same page
        seen = statements_of(lambda: search.search_repositories(tenant.id, "ledger", 0, 50))
        return [s for s in seen if "FROM repositories" in s]

    add(range(30))
    small = search_statements()
    add(range(30, 3000))
    large = search_statements()
    assert large == type_ahead_statements()  # the same statements (the page's count is gone)
    assert len(small) <= search.MAX_STATEMENTS and len(large) <= search.MAX_STATEMENTS


# ---------------------------------------------------------------- the fragment


KINDS = [
    (
        "github",
        {},
        "https://github.com/settings/tokens/new?scopes=repo&amp;description=gitint",
        "repo",
    ),
    (
        "github_enterprise",
        {"base_url": "https://ghe.example.com"},
        "https://ghe.example.com/settings/tokens/new?scopes=repo&amp;description=gitint",
        "Pull requests",
    ),
    (
        "gitlab",
        {},
        "https://gitlab.com/-/user_settings/personal_access_tokens?name=gitint&amp;scopes=api",
        "<code>api</code>",
    ),
    (
        "gitlab_self_managed",
        {"base_url": "https://gitlab.example.com"},
        "https://gitlab.example.com/-/user_settings/personal_access_tokens?name=gitint&amp;scopes=api",
        "<code>api</code>",
    ),
    (
        "azure_devops",
        {"organization": "contoso"},
        "https://dev.azure.com/contoso/_usersSettings/tokens",
        "All accessible organizations",
    ),
    (
        "vsts",
        {"organization": "contoso"},
        "https://contoso.visualstudio.com/_usersSettings/tokens",
        "All accessible organizations",
    ),
    (
        "tfs",
        {"base_url": "https://tfs.example.com/tfs/DefaultCollection", "server_version": "2019"},
        "https://tfs.example.com/tfs/DefaultCollection/_usersSettings/tokens",
        "Code (Read &amp; write)",
    ),
    (
        "tfs",
        {"base_url": "https://tfs.example.com/tfs/DefaultCollection", "server_version": "2017"},
        "https://tfs.example.com/tfs/DefaultCollection/_details/security/tokens",
        "Security → Personal",
    ),
    (
        "codecommit",
        {"region": "eu-west-1"},
        "https://console.aws.amazon.com/iam/home#/security_credentials",
        "only two access keys per user",
    ),
]


@pytest.mark.parametrize("integration_id", [2**31, 2**63, 10**30])
def test_ids_past_the_integer_range_are_404(client, tenant, github, integration_id):
    """Is an integration id past the database's integer range a 404 on every PAT route (the
    database raises on it instead of finding nothing)?"""
    headers = hx(tenant)
    for method, path in [
        ("GET", f"/pats/setup/{integration_id}"),
        ("POST", f"/pats/{integration_id}"),
        ("GET", f"/pats/{integration_id}/delete-confirm"),
        ("POST", f"/pats/{integration_id}/delete"),
    ]:
        response = client.open(path, method=method, headers=headers, data={"token": TOKEN})
        assert response.status_code == 404, (method, path)


@pytest.mark.parametrize(("kind", "settings", "url", "advice"), KINDS)
@pytest.mark.parametrize("target", ["dialog", "page"])
def test_fragment_per_provider_kind(
    client, tenant, make_integration, kind, settings, url, advice, target
):
    """Does the fragment show the right fields, New token link and advice for every host kind?"""
    integration = make_integration(tenant, kind, name="Host", **settings)
    response = client.get(f"/pats/setup/{integration.id}?target={target}", headers=hx(tenant))
    html = response.text
    assert response.status_code == 200
    assert f'<a class="button" href="{url}" target="_blank" rel="noopener noreferrer"' in html
    assert ">New token</a>" in html and "How do I create one?" in html and advice in html
    assert ">Save token</button>" in html and ">Cancel</button>" in html
    assert f'name="target" value="{target}"' in html
    fields = inputs(html)
    if kind == "codecommit":
        assert set(fields) == {"access_key_id", "secret_access_key"}
        assert ">Access key ID</label>" in html and ">Secret access key</label>" in html
        assert "codecommit:CreateBranch" in html and "codecommit:CreatePullRequest" in html
    else:
        assert set(fields) == {"token"}
        assert ">Personal access token</label>" in html
    for tag in fields.values():
        assert 'type="password"' in tag and 'autocomplete="off"' in tag and "value=" not in tag


@pytest.mark.parametrize("version", ["2013", "2015"])
def test_fragment_says_tfs_without_pats_is_unsupported(client, tenant, make_integration, version):
    """Does the fragment for TFS 2013/2015 say PATs are unsupported and offer no fields?"""
    tfs = make_integration(
        tenant,
        "tfs",
        base_url="https://tfs.example.com/tfs/DefaultCollection",
        server_version=version,
        require_user_pat=True,
    )
    html = client.get(f"/pats/setup/{tfs.id}", headers=hx(tenant)).text
    assert "has no personal access" in html and "unavailable" in html
    assert inputs(html) == {} and "Save token" not in html and "New token" not in html


def test_fragment_asks_for_a_new_token_when_expired(client, tenant, github, make_credential):
    """Does the fragment tell a user their stored token expired and ask for a new one?"""
    make_credential(github, "user-1", secret="ghp_old00000000000007777", status="expired")
    html = client.get(f"/pats/setup/{github.id}", headers=hx(tenant)).text
    assert (
        'ending in <code class="suffix">…7777</code>' in html
        and "has expired or was revoked. Add a new one" in html
    )
    assert "ghp_old" not in html


# ---------------------------------------------------------------- saving


def test_save_from_dialog_signals_patsaved(client, tenant, github, host):
    """Does saving from a dialog answer "Token saved as @login" with the patSaved event?"""
    github_says(host, login="octocat", scopes=None)
    response = save(client, tenant, github, token=TOKEN)
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"]) == {"patSaved": {"integration": github.id}}
    assert "Token saved as @octocat" in response.text and "scopes are unknown" in response.text
    assert "pat-table" not in response.text
    [credential] = own_credentials(tenant)
    assert (credential.login, credential.last4, credential.status) == ("octocat", "0042", "valid")
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.result, event.acting_login) == ("pat_saved", "success", "octocat")


def test_save_from_page_refreshes_every_row_of_the_integration(
    client, tenant, github, make_integration, make_repo, host
):
    """Does a save on the PAT page send the table back with every row of that integration set?"""
    other = make_integration(tenant, "gitlab", name="GitLab")
    for name in ("acme/alpha", "acme/alpha-docs", "acme/beta"):
        make_repo(github, name)
    make_repo(other, "acme/alpha-gl")
    github_says(host)
    response = save(client, tenant, github, token=TOKEN, target="page", q="alpha")
    assert response.status_code == 200 and "patSaved" in response.headers["HX-Trigger"]
    html = response.text
    assert 'id="pat-table" class="pat-table" hx-swap-oob="true"' in html
    assert html.count('<span class="sr-only">Token set</span>') == 2  # both GitHub "alpha" rows
    assert "acme/beta" not in html and "acme/alpha-gl" in html  # the search is kept
    assert 'value="alpha"' in html


def test_failed_save_rerenders_fragment_with_reason(client, tenant, github, host):
    """Does a rejected token re-render the fragment (422) with one reason, storing nothing?"""
    github_says(host, status=401)
    response = save(client, tenant, github, token=TOKEN, target="page", q="x")
    assert response.status_code == 422 and "HX-Trigger" not in response.headers
    html = response.text
    assert 'role="alert">GitHub did not accept this token' in html
    assert 'aria-invalid="true"' in inputs(html)["token"] and "value=" not in inputs(html)["token"]
    assert 'name="q" value="x"' in html and 'name="target" value="page"' in html
    assert TOKEN not in html and own_credentials(tenant) == []


def test_missing_scope_names_it(client, tenant, github, host):
    """Is a token lacking `repo` refused with the scope's name?"""
    github_says(host, scopes="gist")
    response = save(client, tenant, github, token=TOKEN)
    assert response.status_code == 422 and "lacks the “repo” scope" in response.text


def test_eleventh_attempt_is_refused_without_host_call(client, tenant, github, host):
    """Is the 11th validation within 10 minutes refused (422, fragment) without a host call?"""
    github_says(host, status=401)
    for _ in range(10):
        assert save(client, tenant, github, token=TOKEN).status_code == 422
    response = save(client, tenant, github, token=TOKEN)
    assert response.status_code == 422
    assert "Too many attempts; try again in 10 minutes." in response.text
    assert 'id="pat-setup-' in response.text
    assert github_calls(host) == 10


# ---------------------------------------------------------------- deleting


def test_delete_asks_then_deletes(client, tenant, github, make_credential, make_repo):
    """Does Delete ask for confirmation, then remove the token and refresh the page's table?"""
    github.require_user_pat = True
    db.session.commit()
    make_repo(github, "acme/api")
    make_credential(github, "user-1", secret="ghp_gone0000000000003333")
    confirm = client.get(f"/pats/{github.id}/delete-confirm?target=page", headers=hx(tenant))
    assert confirm.status_code == 200
    assert (
        "Delete your token for GitHub.com?" in confirm.text
        and 'ending in <code class="suffix">…3333</code>' in confirm.text
    )
    assert ">Delete token</button>" in confirm.text and ">Cancel</button>" in confirm.text
    assert own_credentials(tenant)  # asking changes nothing
    response = client.post(f"/pats/{github.id}/delete", data={"target": "page"}, headers=hx(tenant))
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"]) == {"patDeleted": {"integration": github.id}}
    assert "was deleted" in response.text and 'hx-swap-oob="true"' in response.text
    assert "Setup required" in response.text
    # "requires one: add a new token" is a warning beside the success, not part of it
    assert (
        '<p class="notice warning">This integration requires one: add a new token' in response.text
    )
    assert own_credentials(tenant) == []
    assert db.session.scalars(select(AuditEvent.action)).all() == ["pat_deleted"]


# ---------------------------------------------------------------- security


def routes(integration_id):
    return [
        ("GET", f"/pats/setup/{integration_id}"),
        ("POST", f"/pats/{integration_id}"),
        ("GET", f"/pats/{integration_id}/delete-confirm"),
        ("POST", f"/pats/{integration_id}/delete"),
    ]


def snapshot():
    return sorted(
        (c.id, c.tenant_id, c.account_id, c.ciphertext, c.login, c.status)
        for c in db.session.scalars(select(Credential))
    )


def test_another_tenants_ids_are_404(client, make_tenant, make_integration, make_credential, host):
    """Does every route answer 404 for another tenant's integration, changing nothing?"""
    mine, theirs = make_tenant(), make_tenant()
    foreign = make_integration(theirs, "github", name="Theirs")
    make_credential(foreign, "user-1", secret="ghp_theirs00000000008888")  # same account id!
    before = snapshot()
    for method, path in routes(foreign.id):
        data = {"token": TOKEN, "target": "page"} if method == "POST" else None
        response = client.open(path, method=method, data=data, headers=hx(mine))
        assert response.status_code == 404, path
        assert "8888" not in response.text
    db.session.expire_all()
    assert snapshot() == before
    assert db.session.scalar(select(func.count(Attempt.id))) == 0 and len(host.calls) == 0
    assert "Theirs" not in client.get("/pats", headers=hx(mine, htmx=False)).text


def test_another_users_credential_is_invisible_and_untouchable(
    client, tenant, github, make_credential, host
):
    """Can a user see, delete or replace another user's credential? (No: 404, own row only.)"""
    make_credential(github, "user-2", secret="ghp_neighbour000000004444", login="neighbour")
    before = snapshot()
    for method, path in routes(github.id)[2:]:
        assert client.open(path, method=method, headers=hx(tenant)).status_code == 404, path
    for html in (
        client.get("/pats", headers=hx(tenant, htmx=False)).text,
        client.get(f"/pats/setup/{github.id}", headers=hx(tenant)).text,
    ):
        assert "neighbour" not in html and "4444" not in html
    db.session.expire_all()
    assert snapshot() == before
    github_says(host, login="me")
    assert save(client, tenant, github, token=TOKEN).status_code == 200
    db.session.expire_all()
    assert [c.login for c in own_credentials(tenant, "user-1")] == ["me"]
    assert snapshot()[0] == before[0]  # the neighbour's row is unchanged


@pytest.mark.parametrize("path", ["/pats/{id}", "/pats/{id}/delete"])
def test_get_on_state_changing_routes_is_405(client, tenant, github, path):
    """Are the save and delete routes closed to GET?"""
    response = client.get(path.format(id=github.id), headers=hx(tenant))
    assert response.status_code == 405


def test_no_context_header_is_401(client, tenant, github, make_credential):
    """Does every route refuse a call without the context header (401), changing nothing?"""
    make_credential(github, "user-1")
    before = snapshot()
    for method, path in [("GET", "/pats"), *routes(github.id)]:
        data = {"token": TOKEN} if method == "POST" else None
        response = client.open(path, method=method, data=data, headers={"HX-Request": "true"})
        assert response.status_code == 401, path
    db.session.expire_all()
    assert snapshot() == before
    assert db.session.scalar(select(func.count(Attempt.id))) == 0


def test_without_view_dev_tools_is_403(client, tenant, github):
    """Is a user without View Development Tools refused?"""
    headers = context_headers(tenant, permissions=())
    assert client.get("/pats", headers=headers).status_code == 403
    assert (
        client.post(f"/pats/{github.id}", data={"token": TOKEN}, headers=headers).status_code == 403
    )


def test_save_with_connection_error_says_host_unreachable(client, tenant, github, host):
    """Does an unreachable host become a sentence in the fragment, not an error page?"""
    import requests

    host.add(responses.GET, "https://api.github.com/user", body=requests.ConnectionError("x"))
    response = save(client, tenant, github, token=TOKEN)
    assert response.status_code == 422 and "could not be reached" in response.text


def test_fragment_can_be_included_bare(app, github):
    """Can a dialog template include the fragment with only integration, provider and target?"""
    from flask import render_template_string

    from gitint.hosts import provider_for

    with app.test_request_context():
        html = render_template_string(
            '{% include "pats/_setup.html" %}',
            integration=github,
            provider=provider_for(github, ""),
            target="dialog",
        )
    assert "settings/tokens/new?scopes=repo" in html and "github.com" in html
    assert ">Personal access token</label>" in html and 'role="alert"' not in html


def test_fragment_says_expired_when_the_expiry_date_passed(client, tenant, github, make_credential):
    """When the stored expiry date has passed, does the fragment say plainly it has expired?"""
    from datetime import timedelta

    from gitint.models import utcnow

    make_credential(
        github,
        "user-1",
        secret="ghp_old00000000000008888",
        status="expired",
        expires_at=utcnow() - timedelta(days=1),
    )
    html = client.get(f"/pats/setup/{github.id}", headers=hx(tenant)).text
    assert (
        'ending in <code class="suffix">…8888</code>' in html
        and "has expired. Add a new one" in html
    )


def test_oversized_form_is_a_short_413_page(client, tenant, github):
    """Is a form over MAX_CONTENT_LENGTH (1 MiB) a short 413 page, nothing read or stored?"""
    big = {"token": "x" * (1024 * 1024 + 1), "target": "dialog"}
    response = client.post(f"/pats/{github.id}", data=big, headers=hx(tenant))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "larger than 1024 kB" in page and len(page) < 5000
    assert own_credentials(tenant) == []


def test_host_column_says_the_kind_and_the_host(client, tenant, make_integration):
    """Does the Host column say "GitHub Enterprise Server · ghe.example.com", not "GitHub"?"""
    make_integration(tenant, "github_enterprise", name="GHE", base_url="https://ghe.example.com")
    make_integration(tenant, "gitlab", name="GL")
    page = client.get("/pats", headers=hx(tenant, htmx=False)).text
    assert 'GitHub Enterprise Server · <span class="ident">ghe.example.com</span>' in page
    assert 'GitLab · <span class="ident">gitlab.com</span>' in page
