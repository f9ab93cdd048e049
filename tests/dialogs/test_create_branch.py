"""The Create branch dialog: opening, choosing a repository, creating, every policy state and
every host error, idempotency, host-call counts and the audit log."""

from datetime import timedelta

import requests
from sqlalchemy import select

from gitint.extensions import db
from gitint.models import AuditEvent, Credential, Idempotency, Integration, utcnow

from .conftest import (
    API,
    branch_form,
    get,
    github_branches,
    github_create_ref,
    github_ref,
    open_dialog,
    post,
)

CREATE = "/dialogs/create-branch"
REFRESH = "/dialogs/create-branch/refresh"


def html(response) -> str:
    return response.get_data(as_text=True)


def audit_rows():
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def assert_input_kept(body, name="DEV-1-fix-the-login-page", base="main"):
    assert f'name="name" type="text" value="{name}"' in body
    assert f'name="base" type="text" value="{base}"' in body
    assert 'name="repository" value="' in body


# ---------------------------------------------------------------- opening


def test_opening_makes_no_host_call(client, setup, host):
    """Does opening the dialog render the form from the database with 0 host calls?"""
    tenant, _, _ = setup
    response = open_dialog(client, tenant)
    body = html(response)
    assert response.status_code == 200 and len(host.calls) == 0
    assert '<body class="dialog">' in body
    assert '<label for="repository-input">Repository</label>' in body
    assert 'role="combobox"' in body and 'role="listbox"' in body and "autofocus" in body
    assert ">Create branch</button>" in body and ">Cancel</button>" in body
    assert "Acting as the integration account (@integration-bot)." in body
    assert "Use my own personal access token" in body
    assert 'hx-get="/pats/setup/' in body


def test_opening_with_a_repository_prefills_without_calling_the_host(client, setup, host):
    """With ?repository=, are base branch and name pre-filled, and branches loaded afterwards?"""
    tenant, _, repo = setup
    response = open_dialog(client, tenant, params={"repository": str(repo.id)})
    body = html(response)
    assert len(host.calls) == 0
    assert '<label for="base">Base branch</label>' in body
    assert '<label for="name">Branch name</label>' in body
    assert_input_kept(body)
    assert 'hx-trigger="load"' in body  # the branch list loads in a second request


def test_several_integrations_wait_for_the_repository(client, setup, make_integration, host):
    """With several integrations, does the dialog ask for a repository before naming the actor?"""
    tenant, _, _ = setup
    make_integration(tenant, kind="gitlab", name="GitLab")
    body = html(open_dialog(client, tenant))
    assert "Choose a repository to see who will act." in body


def test_choosing_a_repository_lists_branches_once(client, setup, host):
    """Does choosing a repository list its branches (1 call) and keep a typed name?"""
    tenant, _, repo = setup
    github_branches(host, ["main", "develop", "DEV-1-old"])
    data = {"repository": repo.id, "repository_name": "acme/api", "name": "DEV-1-mine"}
    body = html(post(client, tenant, REFRESH, data))
    assert len(host.calls) == 1
    assert '<option value="develop"></option>' in body
    assert 'value="DEV-1-mine"' in body and 'name="base" type="text" value="main"' in body


def test_switching_repository_replaces_untouched_defaults(client, setup, make_repo, host):
    """Do untouched defaults follow the new repository while typed values stay?"""
    tenant, integration, _ = setup
    other = make_repo(integration, "acme/web", default_branch="trunk")
    github_branches(host, ["trunk"], full_name="acme/web")
    body = html(post(client, tenant, REFRESH, branch_form(other, repository=str(other.id))))
    assert 'name="base" type="text" value="trunk"' in body
    typed = branch_form(other, repository=str(other.id), base="release")
    assert 'name="base" type="text" value="release"' in html(post(client, tenant, REFRESH, typed))


# ---------------------------------------------------------------- creating


def test_create_branch_as_integration(client, setup, host):
    """Does Create branch make exactly 2 GitHub calls, link the branch and audit the actor?"""
    tenant, integration, repo = setup
    github_ref(host)
    github_create_ref(host)
    response = post(client, tenant, CREATE, branch_form(repo))
    body = html(response)
    assert response.status_code == 200
    assert len(host.calls) == 2
    assert "https://github.com/acme/api/tree/DEV-1-fix-the-login-page" in body
    assert ">Create pull request</button>" in body
    assert "/dialogs/create-pull-request?repository=" in body and "source=DEV-1" in body
    assert host.calls[1].request.headers["Authorization"] == "Bearer ghp_integrationtoken0000"
    (event,) = audit_rows()
    assert (event.action, event.result, event.acting, event.acting_login) == (
        "create_branch",
        "success",
        "integration",
        "integration-bot",
    )
    assert event.repository == "acme/api" and event.link.endswith("DEV-1-fix-the-login-page")
    assert event.detail == "DEV-1-fix-the-login-page"  # the audit log links the branch by name


def test_create_branch_with_the_users_pat(client, setup, make_credential, host):
    """With a valid PAT, does the branch get created with the user's token and audited so?"""
    tenant, integration, repo = setup
    make_credential(integration, "user-1", secret="ghp_alicetoken0001", login="alice")
    github_ref(host)
    github_create_ref(host)
    body = html(post(client, tenant, CREATE, branch_form(repo)))
    assert "as you (@alice) with your personal access token" in body
    assert all(
        c.request.headers["Authorization"] == "Bearer ghp_alicetoken0001" for c in host.calls
    )
    (event,) = audit_rows()
    assert (event.acting, event.acting_login) == ("user_pat", "alice")


def test_double_submit_creates_once(client, setup, host):
    """Do two identical POSTs call the host once and show the same branch twice?"""
    tenant, _, repo = setup
    github_ref(host)
    github_create_ref(host)
    first = post(client, tenant, CREATE, branch_form(repo))
    second = post(client, tenant, CREATE, branch_form(repo))
    assert first.status_code == second.status_code == 200
    assert len(host.calls) == 2
    assert "already created by your earlier request" in html(second)
    assert "tree/DEV-1-fix-the-login-page" in html(second)
    assert [e.result for e in audit_rows()] == ["success", "success"]


def test_request_in_flight_is_not_repeated(client, setup, host):
    """While the same create is pending, does a retry wait instead of calling the host?"""
    tenant, integration, repo = setup
    from gitint.creating import idempotency_key

    key = idempotency_key(
        tenant.id, "user-1", integration.id, repo.id, "branch", "DEV-1-fix-the-login-page"
    )
    db.session.add(Idempotency(tenant_id=tenant.id, key=key, state="pending"))
    db.session.commit()
    response = post(client, tenant, CREATE, branch_form(repo))
    assert response.status_code == 422 and len(host.calls) == 0
    assert "still being processed" in html(response)
    assert_input_kept(html(response))


def test_stale_idempotency_row_is_ignored(client, setup, host):
    """After the window, does the same request reach the host again?"""
    tenant, integration, repo = setup
    from gitint.creating import idempotency_key

    key = idempotency_key(
        tenant.id, "user-1", integration.id, repo.id, "branch", "DEV-1-fix-the-login-page"
    )
    old = utcnow() - timedelta(minutes=11)
    db.session.add(Idempotency(tenant_id=tenant.id, key=key, state="done", created_at=old))
    db.session.commit()
    github_ref(host)
    github_create_ref(host)
    assert post(client, tenant, CREATE, branch_form(repo)).status_code == 200
    assert len(host.calls) == 2


def test_failed_attempt_can_be_retried(client, setup, host):
    """After a host error, does a retry call the host again (the error is not replayed)?"""
    tenant, _, repo = setup
    host.get(f"{API}/repos/acme/api/git/ref/heads/main", body=requests.ConnectionError("down"))
    assert post(client, tenant, CREATE, branch_form(repo)).status_code == 422
    host.replace("GET", f"{API}/repos/acme/api/git/ref/heads/main", json={"object": {"sha": "a"}})
    github_create_ref(host)
    assert post(client, tenant, CREATE, branch_form(repo)).status_code == 200
    assert len(host.calls) == 3


def test_invalid_name_is_refused_before_the_host(client, setup, host):
    """Does a name git refuses come back with the rule, input kept, and no host call?"""
    tenant, _, repo = setup
    response = post(client, tenant, CREATE, branch_form(repo, name="bad..name"))
    body = html(response)
    assert response.status_code == 422 and len(host.calls) == 0
    assert "cannot contain “..”" in body and 'aria-invalid="true"' in body
    assert_input_kept(body, name="bad..name")


def test_missing_repository_is_a_form_error(client, setup, host):
    """Does a submit without a repository ask for one?"""
    tenant, _, _ = setup
    response = post(client, tenant, CREATE, {"repository": "", "name": "x"})
    assert response.status_code == 422 and "Choose a repository." in html(response)
    assert "Choose a repository to see who will act." not in html(response)  # one, not both


# ---------------------------------------------------------------- policy states


def test_setup_required_shows_the_pat_link(client, setup, host):
    """With Require User PAT and no PAT, does the dialog say Setup required and refuse to act?"""
    tenant, integration, repo = setup
    integration.require_user_pat = True
    db.session.commit()
    body = html(open_dialog(client, tenant))
    assert "Setup required." in body and "Set up your personal access token" in body
    assert f'hx-get="/pats/setup/{integration.id}?target=dialog"' in body
    assert "Acting as" not in body
    response = post(client, tenant, CREATE, branch_form(repo))
    assert response.status_code == 422 and len(host.calls) == 0
    assert_input_kept(html(response))
    assert "disabled>Create branch</button>" in html(response)


def test_expired_pat_with_require_asks_for_a_new_one(client, setup, make_credential, host):
    """With Require User PAT and an expired PAT, is the reason "expired"?"""
    tenant, integration, _ = setup
    integration.require_user_pat = True
    db.session.commit()
    make_credential(integration, "user-1", expires_at=utcnow() - timedelta(days=1))
    body = html(open_dialog(client, tenant))
    assert "Setup required." in body and "has expired" in body


def test_pat_expiring_soon_is_warned(client, setup, make_credential, host):
    """Is a PAT that expires within 7 days used, with a warning and a Replace link?"""
    tenant, integration, _ = setup
    make_credential(integration, "user-1", login="alice", expires_at=utcnow() + timedelta(days=2))
    body = html(open_dialog(client, tenant))
    assert "Acting as you (@alice) with your personal access token." in body
    assert "expires within 7 days" in body and "Replace it" in body


def test_tfs_2015_with_require_is_unavailable(client, make_tenant, make_integration, make_repo):
    """On TFS 2015 with Require User PAT, does the dialog say why creation is unavailable?"""
    tenant = make_tenant()
    tfs = make_integration(
        tenant,
        kind="tfs",
        base_url="https://tfs.example.com/tfs/DefaultCollection",
        server_version="2015",
        require_user_pat=True,
    )
    make_repo(tfs, "Project/repo")
    body = html(open_dialog(client, tenant))
    assert "Unavailable." in body and "TFS 2013 and 2015" in body
    assert "disabled>Create branch</button>" in body


def test_branch_creation_switched_off(client, setup, host):
    """When the admin switched branch creation off, is it unavailable with that reason?"""
    tenant, integration, repo = setup
    integration.allow_branch = False
    db.session.commit()
    response = post(client, tenant, CREATE, branch_form(repo))
    assert response.status_code == 422 and len(host.calls) == 0
    assert "Branch creation is switched off for this integration." in html(response)


def test_pat_saved_refresh_returns_the_form_with_input(client, setup, make_credential, host):
    """After the PAT is saved, does the refresh bring the form back as the user, input intact?"""
    tenant, integration, repo = setup
    integration.require_user_pat = True
    db.session.commit()
    make_credential(integration, "user-1", login="alice")
    github_branches(host, ["main"])
    body = html(post(client, tenant, REFRESH, branch_form(repo, name="DEV-1-typed")))
    assert "Acting as you (@alice)" in body
    assert 'value="DEV-1-typed"' in body
    assert 'id="dialog-form"' in body and 'id="dialog-form" hidden' not in body


# ---------------------------------------------------------------- host errors


def test_branch_exists_links_to_it(client, setup, host):
    """Does "already exists" become one sentence with a link, input kept?"""
    tenant, _, repo = setup
    github_ref(host)
    github_create_ref(host, status=422, json={"message": "Reference already exists"})
    response = post(client, tenant, CREATE, branch_form(repo))
    body = html(response)
    assert response.status_code == 422
    assert "already exists" in body and "Open the existing branch" in body
    assert 'href="https://github.com/acme/api/tree/DEV-1-fix-the-login-page"' in body
    assert_input_kept(body)
    assert audit_rows()[-1].result == "error"
    # the branch list loaded earlier stays: no loader, no replacement list in an error answer
    assert "Loading branches" not in body and "<datalist" not in body


def test_user_token_refused_marks_it_and_asks_inline(client, setup, make_credential, host):
    """On a 401 with the user's PAT: is it marked, and the PAT fragment shown with input kept?"""
    tenant, integration, repo = setup
    credential = make_credential(integration, "user-1", login="alice")
    github_ref(host, status=401)
    response = post(client, tenant, CREATE, branch_form(repo, name="DEV-1-keep"))
    body = html(response)
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Credential, credential.id).status in ("expired", "revoked")
    assert 'id="dialog-form" method="post"' in body and "hidden>" in body
    assert 'id="pat-area"' in body and "Personal access token" in body  # the fragment, inline
    assert_input_kept(body, name="DEV-1-keep")
    event = audit_rows()[-1]
    assert (event.result, event.acting, event.acting_login) == ("error", "user_pat", "alice")


def test_integration_token_refused_offers_the_users_pat(client, setup, host):
    """When the integration account's token is refused, is it marked and the user's PAT asked?"""
    tenant, integration, repo = setup
    github_ref(host, status=401)
    body = html(post(client, tenant, CREATE, branch_form(repo)))
    db.session.expire_all()
    assert db.session.get(Integration, integration.id).credential_status in ("expired", "revoked")
    assert "Setup required." in body and "Personal access token" in body
    assert_input_kept(body)


def test_missing_scope_is_named(client, setup, host):
    """Does a 403 for a missing scope name the scope?"""
    tenant, _, repo = setup
    github_ref(host)
    github_create_ref(
        host,
        status=404,
        json={"message": "Not Found"},
        headers={"X-OAuth-Scopes": "read:user", "X-Accepted-OAuth-Scopes": "repo"},
    )
    response = post(client, tenant, CREATE, branch_form(repo))
    assert response.status_code == 422 and "“repo”" in html(response)
    assert_input_kept(html(response))


def test_no_access(client, setup, host):
    """Does a 404 on create say the account has no access?"""
    tenant, _, repo = setup
    github_ref(host)
    github_create_ref(host, status=404, json={"message": "Not Found"})
    body = html(post(client, tenant, CREATE, branch_form(repo)))
    assert "has no access to the repository" in body
    assert_input_kept(body)


def test_base_branch_missing(client, setup, host):
    """Does a missing base branch say so, naming it?"""
    tenant, _, repo = setup
    github_ref(host, branch="gone", status=404)
    body = html(post(client, tenant, CREATE, branch_form(repo, base="gone")))
    assert "The base branch gone does not exist." in body
    assert_input_kept(body, base="gone")


def test_rate_limited_says_when_to_retry(client, setup, host):
    """Does a 429 say when to try again?"""
    tenant, _, repo = setup
    host.get(
        f"{API}/repos/acme/api/git/ref/heads/main",
        status=429,
        json={"message": "API rate limit exceeded"},
        headers={"Retry-After": "30"},
    )
    body = html(post(client, tenant, CREATE, branch_form(repo)))
    assert "try again in 30 s" in body
    assert_input_kept(body)


def test_host_unreachable(client, setup, host):
    """Does a connection failure become "could not be reached"?"""
    tenant, _, repo = setup
    host.get(f"{API}/repos/acme/api/git/ref/heads/main", body=requests.ConnectTimeout("slow"))
    body = html(post(client, tenant, CREATE, branch_form(repo)))
    assert "did not answer in time" in body
    assert_input_kept(body)


def test_host_error(client, setup, host):
    """Does an unexpected host answer become one sentence, not a stack trace?"""
    tenant, _, repo = setup
    github_ref(host)
    github_create_ref(host, status=422, json={"message": "Something odd happened"})
    response = post(client, tenant, CREATE, branch_form(repo))
    assert response.status_code == 422
    assert "GitHub refused the request: Something odd happened" in html(response)
    host.replace("POST", f"{API}/repos/acme/api/git/refs", status=502, body="bad gateway")
    assert "internal error (HTTP 502)" in html(post(client, tenant, CREATE, branch_form(repo)))


# ---------------------------------------------------------------- as-you-type checks


def test_branch_name_check_as_you_type(client, setup):
    """Does the name check list broken rules and warn when the issue key is missing?"""
    tenant, _, repo = setup
    bad = html(get(client, tenant, f"/dialogs/branch-name?repository={repo.id}&name=a..b"))
    assert "cannot contain “..”" in bad and "does not contain DEV-1" in bad
    good = html(get(client, tenant, f"/dialogs/branch-name?repository={repo.id}&name=DEV-1-x"))
    assert "field-error" not in good and "DEV-1" not in good


def test_typed_base_branch_is_checked_on_the_host(client, setup, host):
    """Is a base branch typed by hand checked with one get_branch call?"""
    tenant, _, repo = setup
    github_ref(host, branch="nope", status=404)
    missing = html(get(client, tenant, f"/dialogs/branch-check?repository={repo.id}&base=nope"))
    assert missing == "The branch nope does not exist in acme/api."
    github_ref(host, branch="main")
    assert html(get(client, tenant, f"/dialogs/branch-check?repository={repo.id}&base=main")) == ""
    assert len(host.calls) == 2
