"""gitint as a Forge app in Chromium, through the dev host's Forge mode (gitint/dev/forge.py): the
real Custom UI resource (forge/static/gitint) in a sandboxed iframe under the Custom UI CSP, the
injected bridge, every call through invokeRemote with a Forge Invocation Token, permissions from
the fake Jira REST API with the user's token. The dialogs, the PAT page and the admin page."""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitint import sync
from gitint.crypto import seal
from gitint.dev import forge as dev_forge
from gitint.dev.devhost import ensure_demo_integrations
from gitint.extensions import db
from gitint.jira import forge, rest
from gitint.models import Credential
from tests.e2e.conftest import screenshot
from tests.e2e.test_dialogs import DEV_TOKEN, REFS, SUMMARY, branch_form_ready, pick_repository

pytestmark = pytest.mark.browser

RESOURCE = Path(__file__).resolve().parents[2] / "forge" / "static" / "gitint"
IFRAME = "#devhost-dialog iframe"
SANDBOX = "allow-scripts allow-same-origin allow-forms allow-downloads allow-modals"
REQUIRED = "Demo GitHub (Require User PAT)"


@dataclass
class ForgeDemo:
    tenant_id: int
    integration_id: int  # REQUIRED, the Forge tenant's only integration


@pytest.fixture
def forge_demo(live, githost):
    """The Forge dev tenant with the Require-User-PAT demo integration alone, synced."""
    if not (RESOURCE / "gitint-forge.js").is_file():
        pytest.skip("the Forge resource is not built (forge/: npm run build)")
    forge.clear_key_cache()  # each run has its own dev key (and maybe a port used before)
    rest.clear_cache()
    with live.app.app_context():
        tenant = dev_forge.ensure_tenant(live.base_url)
        db.session.commit()
        bot, required = ensure_demo_integrations(tenant, githost.base_url)
        db.session.delete(bot)
        db.session.commit()
        outcome = sync.run(required.id, sync.claim(required.id, force=True))
        assert outcome.state == "done", outcome
        demo = ForgeDemo(tenant.id, required.id)
    yield demo
    forge.clear_key_cache()
    rest.clear_cache()


def save_pat_row(live, demo):
    """The developer's saved, valid PAT on the Forge tenant."""
    with live.app.app_context():
        credential = Credential(
            tenant_id=demo.tenant_id,
            account_id="dev-developer",
            integration_id=demo.integration_id,
            kind="pat",
            last4=DEV_TOKEN[-4:],
            login="dev-user",
            scopes="repo",
            status="valid",
        )
        seal(credential, DEV_TOKEN)
        db.session.add(credential)
        db.session.commit()


def open_module(page, live, what="create-branch", user="developer"):
    from playwright.sync_api import expect

    page.goto(f"{live.base_url}/dev/jira?mode=forge&user={user}&open={what}")
    expect(page.locator(IFRAME)).to_have_attribute("sandbox", SANDBOX)
    return page.frame_locator(IFRAME)


def bridge_calls(page) -> list[str]:
    return page.evaluate("() => window.gitintForgeHost.calls.map(call => call.op)")


def jira_calls(live) -> list[dict]:
    return live.app.extensions.setdefault("gitint.devforge.jira_calls", [])


def test_developer_sets_up_pat_creates_branch_and_pull_request(page, live, githost, forge_demo):
    """Through Forge: Create branch says Setup required, the PAT is saved inline, a repository
    and base are picked, the branch is created and its link shown; Create pull request opens
    pre-filled and creates the pull request."""
    from playwright.sync_api import expect

    frame = open_module(page, live)
    expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
    expect(frame.get_by_text("Setup required.")).to_be_visible()
    expect(frame.get_by_role("button", name="Create branch")).to_be_disabled()
    calls = bridge_calls(page)
    assert calls[:1] == ["enableTheming"] and "getContext" in calls and "invoke" in calls
    assert {c["kind"] for c in jira_calls(live)} == {"user"}  # permissions with the user token
    screenshot(page, "forge-create-branch-setup-required")

    frame.get_by_role("link", name="Set up your personal access token").click()
    token = frame.get_by_label("Personal access token", exact=True)
    expect(token).to_be_visible()
    new_token = frame.get_by_role("link", name="New token")
    expect(new_token).to_have_attribute(
        "href", f"{githost.base_url}/settings/tokens/new?scopes=repo&description=gitint"
    )
    with page.context.expect_page() as opened:  # router.open → the host opens a new tab
        new_token.click()
    assert opened.value.url.startswith(f"{githost.base_url}/settings/tokens/new")
    opened.value.close()
    assert "navigate" in bridge_calls(page)

    token.fill(DEV_TOKEN)
    frame.get_by_role("button", name="Save token").click()
    acting = frame.locator("#acting")
    expect(acting).to_contain_text("Acting as you (@dev-user) with your personal access token")
    expect(frame.get_by_text("Setup required.")).to_have_count(0)
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_be_focused()

    pick_repository(frame, "web", "acme/web-app")
    branch_form_ready(frame)
    name = frame.get_by_label("Branch name", exact=True)
    expect(name).to_have_value(re.compile(r"^DEV-1-"))
    branch = name.input_value()
    screenshot(page, "forge-create-branch-filled")

    frame.get_by_role("button", name="Create branch").click()
    success = frame.get_by_role("status").filter(has_text="Branch created")
    expect(success).to_contain_text("in acme/web-app, as you (@dev-user)")
    expect(success.get_by_role("link", name=branch)).to_have_attribute(
        "href", f"{githost.base_url}/acme/web-app/tree/{branch}"
    )
    assert branch in githost.state.repos["acme/web-app"].branches
    screenshot(page, "forge-create-branch-success")

    frame.get_by_role("button", name="Create pull request").click()
    expect(frame.get_by_role("heading", name="Create pull request")).to_be_visible()
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_have_value(
        "acme/web-app"
    )
    expect(frame.get_by_label("Source branch")).to_have_value(branch)
    expect(frame.get_by_label("Target branch")).to_have_value("main")
    expect(frame.get_by_label("Title")).to_have_value(f"DEV-1 {SUMMARY}")
    frame.get_by_role("button", name="Create pull request").click()
    success = frame.get_by_role("status").filter(has_text="Pull request created")
    expect(success.get_by_role("link", name=f"DEV-1 {SUMMARY}")).to_have_attribute(
        "href", f"{githost.base_url}/acme/web-app/pull/1"
    )
    pulls = githost.state.repos["acme/web-app"].pulls
    assert [(p["head"]["ref"], p["base"]["ref"]) for p in pulls] == [(branch, "main")]
    screenshot(page, "forge-create-pull-request-success")


def test_pull_request_dialog_opens_pre_filled_and_creates(page, live, githost, forge_demo):
    """Does the Create pull request module open with the issue's title and create the pull
    request from an existing branch?"""
    from playwright.sync_api import expect

    save_pat_row(live, forge_demo)
    frame = open_module(page, live, "create-pull-request")
    expect(frame.get_by_role("heading", name="Create pull request")).to_be_visible()
    expect(frame.locator("#acting")).to_contain_text("Acting as you (@dev-user)")
    expect(frame.get_by_label("Title")).to_have_value(f"DEV-1 {SUMMARY}")
    pick_repository(frame, "web", "acme/web-app")
    frame.get_by_label("Source branch").fill("develop")
    expect(frame.get_by_label("Target branch")).to_have_value("main")
    frame.get_by_role("button", name="Create pull request").click()
    success = frame.get_by_role("status").filter(has_text="Pull request created")
    expect(success.get_by_role("link", name=f"DEV-1 {SUMMARY}")).to_be_visible()
    pulls = githost.state.repos["acme/web-app"].pulls
    assert [(p["head"]["ref"], p["base"]["ref"]) for p in pulls] == [("develop", "main")]


def test_a_422_keeps_the_input(page, live, githost, forge_demo):
    """Is a branch name git refuses answered 422 inside the envelope, re-rendered with the rule
    and the input kept, and nothing sent to the git host?"""
    from playwright.sync_api import expect

    save_pat_row(live, forge_demo)
    frame = open_module(page, live)
    pick_repository(frame, "web", "acme/web-app")
    branch_form_ready(frame)
    frame.get_by_label("Base branch", exact=True).fill("develop")
    frame.get_by_label("Branch name", exact=True).fill("bad..name")
    frame.get_by_role("button", name="Create branch").click()
    expect(frame.get_by_text("cannot contain “..”")).to_be_visible()
    expect(frame.get_by_label("Branch name", exact=True)).to_have_value("bad..name")
    expect(frame.get_by_label("Branch name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(frame.get_by_label("Base branch", exact=True)).to_have_value("develop")
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_have_value(
        "acme/web-app"
    )
    assert githost.state.calls.count(REFS) == 0
    screenshot(page, "forge-create-branch-422")


def test_escape_and_cancel_close_through_view_close(page, live, forge_demo):
    """Do Escape and Cancel inside the frame close the dialog through the bridge's close (the
    Forge page has no other way to hear the frame)?"""
    from playwright.sync_api import expect

    save_pat_row(live, forge_demo)
    frame = open_module(page, live)
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_be_focused()
    frame.get_by_role("combobox", name="Repository", exact=True).press("Escape")
    expect(page.locator("#devhost-dialog")).to_have_count(0)
    assert bridge_calls(page)[-1] == "close"
    assert page.url.endswith("/dev/jira?mode=forge&user=developer")

    frame = open_module(page, live, "create-pull-request")
    frame.get_by_role("button", name="Cancel").click()
    expect(page.locator("#devhost-dialog")).to_have_count(0)
    assert bridge_calls(page)[-1] == "close"


def test_the_frame_is_held_to_the_custom_ui_csp(page, live, forge_demo):
    """Inside the frame: is gitint unreachable except through the bridge (connect-src), and
    are inline scripts refused?"""
    from playwright.sync_api import expect

    frame = open_module(page, live)
    expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
    inner = page.frame(name="gitint-frame")
    reached = inner.evaluate("() => fetch('/healthz').then(() => 'reached', () => 'blocked')")
    assert reached == "blocked"
    ran = inner.evaluate(
        """() => new Promise(resolve => {
            window.inlineRan = false;
            const script = document.createElement('script');
            script.textContent = 'window.inlineRan = true';
            document.head.appendChild(script);
            setTimeout(() => resolve(window.inlineRan), 100);
        })"""
    )
    assert ran is False
    assert inner.evaluate("() => typeof window.__bridge.callBridge") == "function"


def test_user_without_view_development_tools_is_refused(page, live, forge_demo):
    """Is the 403 from the fake Jira's mypermissions (user token) shown in the frame?"""
    from playwright.sync_api import expect

    frame = open_module(page, live, user="viewer")
    expect(frame.get_by_role("heading", name="Permission needed")).to_be_visible()
    expect(frame.locator("body")).to_contain_text("View Development Tools")
    expect(frame.get_by_label("Repository", exact=True)).to_have_count(0)


def test_pat_page_saves_a_token_through_the_bridge(page, live, forge_demo):
    """Can a developer add their token on the PAT page (a Forge personal settings page)?"""
    from playwright.sync_api import expect

    frame = open_module(page, live, "pats")
    expect(frame.get_by_role("heading", name="Git: personal access tokens")).to_be_visible()
    row = frame.locator(f"#pat-integration-{forge_demo.integration_id}")
    expect(row).to_contain_text("Setup required")
    frame.get_by_role("button", name=f"Add token for {REQUIRED}").click()
    frame.get_by_label("Personal access token", exact=True).fill("ghp_not_a_real_token")
    frame.get_by_role("button", name="Save token").click()
    expect(frame.locator("#pat-editor")).to_contain_text("GitHub did not accept this token")
    frame.get_by_label("Personal access token", exact=True).fill(DEV_TOKEN)
    frame.get_by_role("button", name="Save token").click()
    expect(frame.get_by_role("status").filter(has_text="Token saved")).to_contain_text("@dev-user")
    expect(row).to_contain_text("@dev-user")
    expect(row).to_contain_text("ending in …" + DEV_TOKEN[-4:])
    screenshot(page, "forge-pats")


def test_admin_syncs_with_progress_through_the_bridge(page, live, forge_demo):
    """Can a Jira administrator open the admin page (a Forge admin page), open the integration
    and sync it, the progress polling through invokeRemote?"""
    from playwright.sync_api import expect

    frame = open_module(page, live, "admin", user="admin")
    expect(frame.get_by_role("heading", name="Manage Git repositories")).to_be_visible()
    frame.get_by_role("link", name=f"Edit {REQUIRED}").click()
    expect(frame.get_by_role("heading", name=REQUIRED)).to_be_visible()
    before = bridge_calls(page).count("invoke")
    frame.get_by_role("button", name="Sync repositories").click()
    expect(frame.locator("#sync")).to_contain_text("43 repositories", timeout=15_000)
    expect(frame.get_by_role("button", name="Sync repositories")).to_be_visible()
    assert bridge_calls(page).count("invoke") >= before + 1
    assert any("ADMINISTER" in c["query"] for c in jira_calls(live))
    screenshot(page, "forge-admin-sync")

    developer = open_module(page, live, "admin", user="developer")
    expect(developer.get_by_role("heading", name="Permission needed")).to_be_visible()
