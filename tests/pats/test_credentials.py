"""gitint.credentials without HTTP requests to the app: save, status, limits, 401 marking."""

from datetime import timedelta

import pytest
import requests
import responses
from sqlalchemy import func, select, text

from gitint.credentials import (
    ATTEMPT_LIMIT,
    MissingInput,
    TooManyAttempts,
    attempt_bucket,
    call_as,
    days_left,
    mark_from_error,
    save_credential,
    status_of,
)
from gitint.crypto import unseal
from gitint.extensions import db
from gitint.models import Attempt, Credential, utcnow
from gitint.providers.base import (
    AuthExpired,
    Identity,
    MissingScope,
    NotFound,
    ProviderError,
    Unavailable,
    Unsupported,
)

from .conftest import github_calls, github_says

TOKEN = "ghp_Valid0000000000000000000000000001"


def credentials():
    return db.session.scalars(select(Credential)).all()


# ---------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "valid"),
        ({"expires_at": timedelta(days=30)}, "valid"),
        ({"expires_at": timedelta(days=7, hours=1)}, "valid"),
        ({"expires_at": timedelta(days=7)}, "expiring"),
        ({"expires_at": timedelta(days=6, hours=23)}, "expiring"),
        ({"expires_at": timedelta(hours=1)}, "expiring"),
        ({"expires_at": -timedelta(minutes=1)}, "expired"),
        ({"status": "expired"}, "expired"),
        ({"status": "revoked"}, "revoked"),
        ({"status": "insufficient"}, "insufficient"),
    ],
)
def test_status_of(github, make_credential, fields, expected):
    """Is a credential valid, expiring (≤ 7 days), expired, revoked or insufficient?"""
    if "expires_at" in fields:
        fields["expires_at"] = utcnow() + fields["expires_at"]
    credential = make_credential(github, "user-1", **fields)
    assert status_of(credential) == expected


def test_status_of_missing():
    """Is no credential at all reported as missing?"""
    assert status_of(None) == "missing"


def test_days_left_rounds_up(github, make_credential):
    """Does a token ending in 6 days 1 hour read "7 days"?"""
    credential = make_credential(github, "user-1", expires_at=utcnow() + timedelta(days=6, hours=1))
    assert days_left(credential) == 7
    credential.expires_at = None
    assert days_left(credential) is None


# ---------------------------------------------------------------- saving


def test_save_stores_sealed_token_with_identity(github, host):
    """Does a valid token get stored encrypted with login, scopes, expiry, last 4 and status?"""
    github_says(host, login="octocat", scopes="repo, gist", expires="2030-01-02 03:04:05 UTC")
    credential = save_credential(github, "user-1", {"token": f"  {TOKEN} "})
    assert (credential.login, credential.scopes, credential.last4) == (
        "octocat",
        "repo, gist",
        "0001",
    )
    assert credential.expires_at.isoformat() == "2030-01-02T03:04:05"
    assert credential.status == "valid" and credential.checked_at is not None
    assert credential.kind == "pat"
    assert host.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    raw = db.session.execute(text("SELECT ciphertext FROM credentials")).scalar_one()
    assert TOKEN not in raw and "Valid0000" not in raw
    assert unseal(credential) == TOKEN


def test_fine_grained_token_saved_with_unknown_scopes(github, host):
    """Is a token whose scopes the host cannot tell saved, with scopes unknown (None)?"""
    github_says(host, scopes=None)
    credential = save_credential(github, "user-1", {"token": "github_pat_11AAAA"})
    assert credential.scopes is None and credential.status == "valid"


def test_missing_scope_is_refused_naming_it(github, host):
    """Is a token without `repo` refused, naming the scope, and nothing stored?"""
    github_says(host, scopes="read:user")
    with pytest.raises(MissingScope, match="“repo”"):
        save_credential(github, "user-1", {"token": TOKEN})
    assert credentials() == []


@pytest.mark.parametrize(
    ("mock", "error", "sentence"),
    [
        ({"status": 401, "json": {"message": "Bad credentials"}}, AuthExpired, "did not accept"),
        ({"body": requests.ConnectionError("down")}, Unavailable, "could not be reached"),
        ({"body": requests.Timeout("slow")}, Unavailable, "in time"),
    ],
)
def test_failed_validation_keeps_previous_credential(
    github, host, make_credential, mock, error, sentence
):
    """Does a failed save say why, store nothing and leave the stored token untouched?"""
    old = make_credential(github, "user-1", secret="ghp_old0000000000001111", login="old")
    before = (old.ciphertext, old.login, old.last4, old.status)
    host.add(responses.GET, "https://api.github.com/user", **mock)
    with pytest.raises(error, match=sentence):
        save_credential(github, "user-1", {"token": TOKEN})
    db.session.expire_all()
    [kept] = credentials()
    assert (kept.ciphertext, kept.login, kept.last4, kept.status) == before
    assert unseal(kept) == "ghp_old0000000000001111"


def test_replacing_updates_the_one_row(github, host, make_credential):
    """Does saving again replace the user's credential in place (one per user+integration)?"""
    old = make_credential(github, "user-1", status="expired")
    github_says(host, login="new-login")
    saved = save_credential(github, "user-1", {"token": TOKEN})
    assert saved.id == old.id
    assert [(c.login, c.status, c.last4) for c in credentials()] == [("new-login", "valid", "0001")]
    assert unseal(saved) == TOKEN


def test_empty_token_makes_no_host_call(github, host):
    """Is an empty field refused before any host call or counted attempt?"""
    with pytest.raises(MissingInput, match="Enter the personal access token"):
        save_credential(github, "user-1", {"token": "   "})
    assert len(host.calls) == 0
    assert db.session.scalar(select(func.count(Attempt.id))) == 0


def test_tfs_without_pats_is_unsupported(tenant, make_integration):
    """Does TFS 2015 refuse a token (no PATs there) without counting an attempt?"""
    tfs = make_integration(
        tenant,
        "tfs",
        base_url="https://tfs.example.com/tfs/DefaultCollection",
        server_version="2015",
    )
    with pytest.raises(Unsupported, match="TFS 2013 and 2015"):
        save_credential(tfs, "user-1", {"token": "abc"})
    assert db.session.scalar(select(func.count(Attempt.id))) == 0


def test_codecommit_keys_are_joined_and_show_key_id_last4(tenant, make_integration, fake_host):
    """Are IAM keys passed as KEY_ID:SECRET, stored as iam_key, with the key id's last 4?"""
    codecommit = make_integration(tenant, "codecommit", region="eu-west-1", secret="AKIA1:s")
    fields = {"access_key_id": "AKIAEXAMPLE0000WXYZ", "secret_access_key": "wJalrSecretKey/abcd"}
    credential = save_credential(codecommit, "user-1", fields)
    assert fake_host.secrets == ["AKIAEXAMPLE0000WXYZ:wJalrSecretKey/abcd"]
    assert (credential.kind, credential.last4) == ("iam_key", "WXYZ")
    assert unseal(credential) == "AKIAEXAMPLE0000WXYZ:wJalrSecretKey/abcd"
    with pytest.raises(MissingInput, match="both"):
        save_credential(codecommit, "user-1", {"access_key_id": "AKIA", "secret_access_key": ""})


def test_codecommit_rejected_keys_read_plural(tenant, make_integration, fake_host):
    """Does a rejected IAM key pair get a sentence about access keys?"""
    codecommit = make_integration(tenant, "codecommit", region="eu-west-1", secret="AKIA1:s")
    fake_host.answer = AuthExpired()
    with pytest.raises(AuthExpired, match="did not accept these access keys"):
        save_credential(codecommit, "u", {"access_key_id": "AKIA", "secret_access_key": "x"})


# ---------------------------------------------------------------- abuse limit


def test_eleventh_attempt_is_refused_without_host_call(github, host, make_integration, tenant):
    """Is the 11th validation in 10 minutes refused with a clear sentence and no host call?"""
    github_says(host, status=401)
    for _ in range(ATTEMPT_LIMIT):
        with pytest.raises(AuthExpired):
            save_credential(github, "user-1", {"token": TOKEN})
    assert github_calls(host) == ATTEMPT_LIMIT
    with pytest.raises(TooManyAttempts, match=r"^Too many attempts; try again in 10 minutes\.$"):
        save_credential(github, "user-1", {"token": TOKEN})
    assert github_calls(host) == ATTEMPT_LIMIT
    # another user, or the same user on another integration, has their own budget
    with pytest.raises(AuthExpired):
        save_credential(github, "user-2", {"token": TOKEN})
    other = make_integration(tenant, "github", name="Second GitHub")
    with pytest.raises(AuthExpired):
        save_credential(other, "user-1", {"token": TOKEN})


def test_old_attempts_expire(github, host):
    """Do attempts older than 10 minutes stop counting, and does the wait shrink with them?"""
    bucket = attempt_bucket(github, "user-1")
    now = utcnow()
    db.session.add(Attempt(bucket=bucket, created_at=now - timedelta(minutes=11)))
    for _ in range(ATTEMPT_LIMIT):
        db.session.add(Attempt(bucket=bucket, created_at=now - timedelta(minutes=8)))
    db.session.commit()
    with pytest.raises(TooManyAttempts, match="try again in 2 minutes"):
        save_credential(github, "user-1", {"token": TOKEN})
    assert len(host.calls) == 0
    for attempt in db.session.scalars(select(Attempt).limit(5)):  # five leave the window
        attempt.created_at -= timedelta(minutes=5)
    db.session.commit()
    github_says(host)
    assert save_credential(github, "user-1", {"token": TOKEN}).login == "octocat"


# ---------------------------------------------------------------- 401 in any flow


@pytest.mark.parametrize(
    ("error", "status"),
    [(AuthExpired(), "expired"), (AuthExpired(revoked=True), "revoked"), (NotFound(), "valid")],
)
def test_mark_from_error(github, make_credential, error, status):
    """Does a 401 mark the credential expired (revoked when said), and other errors not?"""
    credential = make_credential(github, "user-1")
    assert mark_from_error(credential, error) is (status != "valid")
    db.session.expire_all()
    assert db.session.get(Credential, credential.id).status == status


def test_call_as_marks_expired_on_github_401(github, host, make_credential):
    """Does a GitHub 401 during any call mark the user's credential expired and re-raise?"""
    credential = make_credential(github, "user-1")
    github_says(host, status=401)
    with pytest.raises(AuthExpired):
        call_as(credential, lambda provider: provider.validate())
    db.session.expire_all()
    credential = db.session.get(Credential, credential.id)
    assert credential.status == "expired" and credential.checked_at is not None


def test_call_as_marks_revoked_on_gitlab_revoked(tenant, make_integration, make_credential, host):
    """Does GitLab's "Token was revoked" 401 mark the credential revoked?"""
    gitlab = make_integration(tenant, "gitlab", secret="glpat-integration")
    credential = make_credential(gitlab, "user-1", secret="glpat-user0000")
    host.add(
        responses.GET,
        "https://gitlab.com/api/v4/personal_access_tokens/self",
        status=401,
        json={"error": "invalid_token", "error_description": "Token was revoked. You have to..."},
    )
    with pytest.raises(AuthExpired):
        call_as(credential, lambda provider: provider.validate())
    db.session.expire_all()
    assert status_of(db.session.get(Credential, credential.id)) == "revoked"


def test_call_as_passes_other_errors_and_results(github, make_credential, fake_host):
    """Does call_as return results, and leave the credential alone on non-401 errors?"""
    credential = make_credential(github, "user-1")
    assert call_as(credential, lambda provider: provider.secret) == "ghp_usertoken000000001"

    def fail(provider):
        raise ProviderError("boom")

    with pytest.raises(ProviderError):
        call_as(credential, fail)
    assert credential.status == "valid"


# ---------------------------------------------------------------- check-pats


def test_check_pats_updates_and_prints_no_secret(github, make_credential, runner, host):
    """Does check-pats re-validate each stored token, update it, and print no secret?"""
    good = make_credential(github, "user-1", secret="ghp_goodgoodgoodgood1111")
    bad = make_credential(github, "user-2", secret="ghp_badbadbadbadbadb2222")

    def answer(request):
        if request.headers["Authorization"].endswith("1111"):
            headers = {
                "X-OAuth-Scopes": "repo",
                "GitHub-Authentication-Token-Expiration": "2031-05-06 07:08:09 UTC",
            }
            return 200, headers, '{"login": "good-login"}'
        return 401, {}, '{"message": "Bad credentials"}'

    host.add_callback(responses.GET, "https://api.github.com/user", callback=answer)
    result = runner.invoke(args=["gitint", "check-pats", "--now", "--pause", "0"])
    assert result.exit_code == 0, result.output
    assert "Checked 2 credentials: 1 expired, 1 valid." in result.output
    assert "goodgood" not in result.output and "badbad" not in result.output
    db.session.expire_all()
    good, bad = db.session.get(Credential, good.id), db.session.get(Credential, bad.id)
    assert (good.status, good.login, good.expires_at.year) == ("valid", "good-login", 2031)
    assert bad.status == "expired"


def test_check_pats_marks_insufficient_and_keeps_status_when_host_down(
    github, make_credential, runner, fake_host
):
    """Is a token that lost its scope marked insufficient, and an unreachable host a no-change?"""
    credential = make_credential(github, "user-1")
    fake_host.answer = Identity(
        login="x", scopes=(), can_create_branch=False, missing_scopes=("repo",)
    )
    result = runner.invoke(args=["gitint", "check-pats", "--now", "--pause", "0"])
    assert "1 insufficient" in result.output
    fake_host.answer = Unavailable()
    credential.status = "valid"
    db.session.commit()
    result = runner.invoke(
        args=["gitint", "check-pats", "--now", "--pause", "0", "--integration", str(github.id)]
    )
    assert "1 unchanged" in result.output
    db.session.expire_all()
    assert db.session.get(Credential, credential.id).status == "valid"


def test_check_pats_pauses_between_calls_to_one_host(
    github, make_credential, runner, fake_host, monkeypatch
):
    """Does check-pats wait between two calls to the same host (bounded rate)?"""
    make_credential(github, "user-1")
    make_credential(github, "user-2")
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    result = runner.invoke(args=["gitint", "check-pats", "--now", "--pause", "2"])
    assert result.exit_code == 0
    assert len(waits) == 1 and 1.5 < waits[0] <= 2


def test_check_pats_filters_by_tenant(
    make_tenant, make_integration, make_credential, runner, fake_host
):
    """Does --tenant limit check-pats to that tenant's credentials?"""
    one, two = make_tenant(issuer="jira-one"), make_tenant(issuer="jira-two")
    make_credential(make_integration(one, "github"), "user-1")
    make_credential(make_integration(two, "github"), "user-1")
    result = runner.invoke(
        args=["gitint", "check-pats", "--now", "--pause", "0", "--tenant", "jira-two"]
    )
    assert "Checked 1 credentials: 1 valid." in result.output
    assert len(fake_host.secrets) == 1
