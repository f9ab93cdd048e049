"""Who acts for an action: the pure rule over every combination of its inputs, and the rows."""

import itertools
from datetime import datetime, timedelta

import pytest

from gitint.acting import (
    BRANCH,
    EXPIRED,
    INSUFFICIENT,
    INTEGRATION,
    NONE,
    PULL_REQUEST,
    REVOKED,
    SETUP_REQUIRED,
    UNAVAILABLE,
    USER,
    VALID,
    Acting,
    acting_for,
    decide,
    pat_state,
)

PAT_STATES = (NONE, VALID, EXPIRED, REVOKED, INSUFFICIENT)
BOOL = (False, True)
NOW = datetime(2025, 6, 1, 12, 0)


def expected_state(allowed, require, supports, pat, integration_ok):
    """The rule as the brief states it, written independently of the implementation."""
    if not allowed:
        return UNAVAILABLE
    if require and not supports:
        return UNAVAILABLE
    if supports and pat == VALID:
        return USER
    if require:
        return SETUP_REQUIRED
    if integration_ok:
        return INTEGRATION
    return SETUP_REQUIRED if supports else UNAVAILABLE


COMBINATIONS = list(
    itertools.product((BRANCH, PULL_REQUEST), BOOL, BOOL, BOOL, PAT_STATES, BOOL, BOOL)
)


@pytest.mark.parametrize("combination", COMBINATIONS, ids=str)
def test_every_combination(combination):
    """For every combination of inputs, does decide() pick the expected actor and explain itself?"""
    action, allowed, require, supports, pat, soon, integration_ok = combination
    acting = decide(
        action=action,
        action_allowed=allowed,
        require_user_pat=require,
        host_supports_pats=supports,
        pat=pat,
        pat_expires_soon=soon,
        integration_ok=integration_ok,
        pat_login="alice",
        integration_login="bot",
    )
    assert acting.state == expected_state(allowed, require, supports, pat, integration_ok)
    assert acting.can_act == (acting.state in (USER, INTEGRATION))
    # whoever cannot act says why; whoever acts is named
    assert bool(acting.reason) == (not acting.can_act)
    assert acting.login == {USER: "alice", INTEGRATION: "bot"}.get(acting.state)
    assert acting.audit_name == {USER: "user_pat", INTEGRATION: "integration"}.get(acting.state)
    # never the integration account when the admin requires the user's own token
    assert not (require and acting.state == INTEGRATION)
    # the "Use my own personal access token" link only where a PAT could be used
    assert acting.offer_pat == (acting.state == INTEGRATION and supports)
    if acting.state == USER:
        assert (acting.warning is not None) == soon
    if acting.state == INTEGRATION:
        assert (acting.warning is not None) == (pat in (EXPIRED, REVOKED, INSUFFICIENT))
    if not allowed:
        assert "switched off" in acting.reason
    elif require and not supports:
        assert "TFS 2013 and 2015" in acting.reason


def test_combinations_cover_every_state():
    """Does the product of inputs reach all four outcomes (so the test above means something)?"""
    states = {expected_state(*c[1:4], c[4], c[6]) for c in COMBINATIONS}
    assert states == {USER, INTEGRATION, SETUP_REQUIRED, UNAVAILABLE}


def test_acting_line_wording():
    """Is the "Acting as" sentence the one the spec gives, for both actors?"""
    assert Acting(USER, login="alice").line == "you (@alice) with your personal access token"
    assert Acting(INTEGRATION, login="bot").line == "the integration account (@bot)"
    assert Acting(INTEGRATION).line == "the integration account"


def test_pull_request_wording_uses_the_host_noun():
    """Does a switched-off merge request say "merge request"?"""
    acting = decide(
        action=PULL_REQUEST,
        action_allowed=False,
        require_user_pat=False,
        host_supports_pats=True,
        pat=NONE,
        pr_noun="merge request",
    )
    assert acting.reason == "Creating a merge request is switched off for this integration."


class Row:
    """A stand-in for Credential / Integration rows (acting_for reads attributes only)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def integration_row(**fields):
    values = dict(
        kind="github",
        server_version=None,
        allow_branch=True,
        allow_pull_request=True,
        require_user_pat=False,
        credential_ct="sealed",
        credential_status="valid",
        credential_expires_at=None,
        credential_login="bot",
    )
    values.update(fields)
    return Row(**values)


def credential_row(**fields):
    values = dict(status="valid", expires_at=None, login="alice")
    values.update(fields)
    return Row(**values)


def test_pat_past_its_expiry_date_counts_as_expired():
    """Is a PAT marked valid but past its expiry date treated as expired?"""
    assert pat_state(credential_row(expires_at=NOW - timedelta(minutes=1)), NOW) == EXPIRED
    assert pat_state(credential_row(expires_at=NOW + timedelta(days=30)), NOW) == VALID
    assert pat_state(None, NOW) == NONE


def test_acting_for_reads_the_rows():
    """Does acting_for turn rows into the right decision (TFS 2015, expiry warning, refused bot)?"""
    tfs = integration_row(kind="tfs", server_version="2015", require_user_pat=True)
    assert acting_for(tfs, None, BRANCH, now=NOW).state == UNAVAILABLE
    soon = credential_row(expires_at=NOW + timedelta(days=3))
    acting = acting_for(integration_row(), soon, BRANCH, now=NOW)
    assert (acting.state, acting.login) == (USER, "alice") and "7 days" in acting.warning
    refused = integration_row(credential_status="revoked")
    assert acting_for(refused, None, PULL_REQUEST, now=NOW).state == SETUP_REQUIRED
    switched_off = integration_row(allow_pull_request=False)
    assert acting_for(switched_off, soon, PULL_REQUEST, now=NOW).state == UNAVAILABLE
    assert acting_for(integration_row(), None, BRANCH, now=NOW).state == INTEGRATION
