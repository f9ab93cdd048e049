"""The Create branch and Create pull request dialogs in Chromium, through the dev host page and its
iframe, against the fake git host: PAT setup inline, the type-ahead, creating a branch and its
pull request, a token revoked mid-flow, the permission check, keyboard use and fit."""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitint import sync
from gitint.crypto import seal
from gitint.dev.devhost import ensure_demo_integrations, ensure_dev_tenant
from gitint.extensions import db
from gitint.models import Credential
from tests.e2e.conftest import SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
DEV_TOKEN = "ghp_demo_developer_token"  # noqa: S105 - the fake host's
SUMMARY = "Login page rejects passwords with spaces"
REFS = "POST /api/v3/repos/acme/web-app/git/refs"


@dataclass
class Demo:
    tenant_id: int
    integration_id: int  # "Demo GitHub (Require User PAT)", the tenant's only integration


@pytest.fixture
def demo(live, githost):
    """The dev tenant with the Require-User-PAT demo integration alone, synced from the host."""
    with live.app.app_context():
        tenant = ensure_dev_tenant(live.base_url)
        db.session.commit()
        bot, required = ensure_demo_integrations(tenant, githost.base_url)
        db.session.delete(bot)  # one integration: the dialog says who acts before a repository
        db.session.commit()
        outcome = sync.run(required.id, sync.claim(required.id, force=True))
        assert outcome.state == "done", outcome
        return Demo(tenant.id, required.id)


def save_pat_row(live, demo):
    """The developer's saved, valid PAT (as if set up earlier on the PAT page)."""
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


def open_dialog(page, live, what="create-branch", user="developer"):
    page.goto(f"{live.base_url}/dev/jira?user={user}&open={what}")
    return page.frame_locator("iframe")


def pick_repository(frame, typed, name):
    """Type into the Repository combobox and choose ``name`` with the keyboard."""
    from playwright.sync_api import expect

    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.press_sequentially(typed)
    expect(frame.get_by_role("option")).to_have_count(1)  # ``typed`` matches ``name`` only
    option = frame.get_by_role("option", name=name, exact=True)
    expect(option).to_be_visible()
    expect(field).to_have_attribute("aria-expanded", "true")
    field.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    expect(field).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
    field.press("Enter")
    expect(field).to_have_value(name)


def branch_form_ready(frame, base="main"):
    """The branch form after a repository is chosen: its branches listed, base pre-selected."""
    from playwright.sync_api import expect

    expect(frame.locator("#branch-list option")).to_have_count(3)  # main, develop, DEV-1-old…
    expect(frame.get_by_label("Base branch", exact=True)).to_have_value(base)


def test_developer_sets_up_pat_creates_branch_and_pull_request(page, live, githost, demo):
    """Can a developer with no PAT set one up inline, create a branch, then its pull request?"""
    from playwright.sync_api import expect

    frame = open_dialog(page, live)
    expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
    expect(frame.get_by_text("Setup required.")).to_be_visible()
    expect(frame.get_by_role("button", name="Create branch")).to_be_disabled()
    screenshot(page, "create-branch-setup-required")

    frame.get_by_role("link", name="Set up your personal access token").click()
    token = frame.get_by_label("Personal access token", exact=True)
    expect(token).to_be_visible()
    expect(frame.locator("#dialog-form")).to_be_hidden()
    new_token = frame.get_by_role("link", name="New token")
    expect(new_token).to_have_attribute(
        "href", f"{githost.base_url}/settings/tokens/new?scopes=repo&description=gitint"
    )
    expect(new_token).to_have_attribute("target", "_blank")
    screenshot(page, "create-branch-pat-setup")

    token.fill(DEV_TOKEN)
    frame.get_by_role("button", name="Save token").click()
    acting = frame.locator("#acting")
    expect(acting).to_contain_text("Acting as you (@dev-user) with your personal access token")
    expect(frame.locator("#dialog-form")).to_be_visible()
    expect(frame.get_by_text("Setup required.")).to_have_count(0)
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_be_focused()

    pick_repository(frame, "web", "acme/web-app")
    branch_form_ready(frame)
    name = frame.get_by_label("Branch name", exact=True)
    expect(name).to_have_value(re.compile(r"^DEV-1-"))
    branch = name.input_value()
    expect(acting).to_contain_text("@dev-user")
    screenshot(page, "create-branch-filled")
    DOCS.mkdir(exist_ok=True)
    shutil.copyfile(SCREENSHOTS / "create-branch-filled.png", DOCS / "create-branch.png")

    frame.get_by_role("button", name="Create branch").click()
    success = frame.get_by_role("status").filter(has_text="Branch created")
    expect(success).to_contain_text("in acme/web-app, as you (@dev-user)")
    link = success.get_by_role("link", name=branch)
    expect(link).to_have_attribute("href", f"{githost.base_url}/acme/web-app/tree/{branch}")
    assert branch in githost.state.repos["acme/web-app"].branches
    screenshot(page, "create-branch-success")

    # the success view's button opens the pull request dialog, pre-filled
    frame.get_by_role("button", name="Create pull request").click()
    expect(frame.get_by_role("heading", name="Create pull request")).to_be_visible()
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_have_value(
        "acme/web-app"
    )
    expect(frame.get_by_label("Source branch")).to_have_value(branch)
    expect(frame.get_by_label("Target branch")).to_have_value("main")
    expect(frame.get_by_label("Title")).to_have_value(f"DEV-1 {SUMMARY}")
    expect(frame.get_by_label("Description")).to_have_value(re.compile(r"/browse/DEV-1$"))
    expect(frame.get_by_label("Draft")).not_to_be_checked()
    expect(frame.locator("#branch-list option")).to_have_count(4)
    expect(frame.locator("#acting")).to_contain_text("Acting as you (@dev-user)")
    screenshot(page, "create-pull-request-filled")

    frame.get_by_role("button", name="Create pull request").click()
    success = frame.get_by_role("status").filter(has_text="Pull request created")
    expect(success.get_by_role("link", name=f"DEV-1 {SUMMARY}")).to_have_attribute(
        "href", f"{githost.base_url}/acme/web-app/pull/1"
    )
    pulls = githost.state.repos["acme/web-app"].pulls
    assert len(pulls) == 1
    assert (pulls[0]["head"]["ref"], pulls[0]["base"]["ref"]) == (branch, "main")
    screenshot(page, "create-pull-request-success")


def test_revoked_token_mid_flow_asks_again_and_keeps_input(page, live, githost, demo):
    """When the saved PAT is revoked before Create, is a new one asked inline with input kept?"""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    frame = open_dialog(page, live)
    expect(frame.locator("#acting")).to_contain_text("Acting as you (@dev-user)")
    pick_repository(frame, "web-app", "acme/web-app")
    branch_form_ready(frame)
    frame.get_by_label("Base branch", exact=True).fill("develop")
    frame.get_by_label("Branch name", exact=True).fill("DEV-1-custom-fix")

    githost.state.tokens[DEV_TOKEN]["valid"] = False
    frame.get_by_role("button", name="Create branch").click()
    token = frame.get_by_label("Personal access token", exact=True)
    expect(token).to_be_visible()
    expect(frame.locator("#dialog-form")).to_be_hidden()
    expect(frame.locator("#pat-area")).to_contain_text(re.compile(r"expired|revoked"))
    expect(frame.locator("#pat-area")).to_contain_text("Add a new one to continue.")
    assert "DEV-1-custom-fix" not in githost.state.repos["acme/web-app"].branches
    screenshot(page, "create-branch-token-revoked")

    githost.state.tokens[DEV_TOKEN]["valid"] = True
    token.fill(DEV_TOKEN)
    frame.get_by_role("button", name="Save token").click()
    expect(frame.locator("#dialog-form")).to_be_visible()
    expect(frame.locator("#acting")).to_contain_text("Acting as you (@dev-user)")
    expect(frame.get_by_label("Branch name", exact=True)).to_have_value("DEV-1-custom-fix")
    expect(frame.get_by_label("Base branch", exact=True)).to_have_value("develop")
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_have_value(
        "acme/web-app"
    )
    expect(frame.get_by_role("button", name="Create branch")).to_be_focused()  # all filled
    screenshot(page, "create-branch-token-replaced")

    frame.get_by_role("button", name="Create branch").click()
    expect(frame.get_by_role("status").filter(has_text="Branch created")).to_contain_text(
        "DEV-1-custom-fix"
    )
    repo = githost.state.repos["acme/web-app"]
    assert repo.branches["DEV-1-custom-fix"] == repo.branches["develop"]


def test_user_without_view_development_tools_is_refused(page, live, demo):
    """Does a user without View Development Tools get the 403 message naming it?"""
    from playwright.sync_api import expect

    frame = open_dialog(page, live, user="viewer")
    expect(frame.get_by_role("heading", name="Permission needed")).to_be_visible()
    expect(frame.locator("body")).to_contain_text("View Development Tools")
    expect(frame.get_by_label("Repository", exact=True)).to_have_count(0)
    screenshot(page, "create-branch-forbidden")


def test_dialog_fits_600_by_400_and_works_with_the_keyboard(browser, page, live, demo):
    """At 600×400, does the dialog fit without side scrolling, focus its first field, close on
    Escape?"""
    from playwright.sync_api import expect

    open_dialog(page, live)
    src = page.locator("#devhost-dialog iframe").get_attribute("src")
    small = browser.new_context(viewport={"width": 600, "height": 400}).new_page()
    try:
        small.goto(f"{live.base_url}{src}")
        expect(small.get_by_text("Setup required.")).to_be_visible()
        expect(small.get_by_role("combobox", name="Repository", exact=True)).to_be_focused()
        assert fits(small)
        screenshot(small, "create-branch-600x400")
        small.get_by_role("link", name="Set up your personal access token").click()
        expect(small.get_by_label("Personal access token", exact=True)).to_be_focused()
        small.get_by_text("How do I create one?").click()
        assert fits(small)
        screenshot(small, "create-branch-600x400-pat-setup")
        small.get_by_label("Personal access token", exact=True).fill(DEV_TOKEN)
        with small.expect_response("**/dialogs/create-branch/refresh"):
            small.get_by_role("button", name="Save token").click()
        # the refreshed form swapped in: keys typed into the one it replaces would be lost with it
        small.wait_for_function("() => !document.querySelector('.htmx-swapping, .htmx-settling')")
        expect(small.locator("#acting")).to_contain_text("Acting as you (@dev-user)")
        expect(small.get_by_role("combobox", name="Repository", exact=True)).to_be_focused()
        pick_repository(small, "web", "acme/web-app")
        branch_form_ready(small)
        assert fits(small)
        screenshot(small, "create-branch-600x400-filled")
        small.evaluate(
            "document.addEventListener('closeDialog', () => { window.gitintClosed = true; })"
        )
        small.keyboard.press("Escape")
        small.wait_for_function("window.gitintClosed === true")
    finally:
        small.context.close()

    # inside the dev host: Escape in the frame posts closeDialog and the host removes the frame
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#devhost-dialog")).to_have_count(0)
    assert page.url.endswith("/dev/jira?user=developer")


def test_escape_in_open_repository_list_closes_the_list_not_the_dialog(page, live, demo):
    """Does Escape in the open repository list close the list first, and the dialog next?"""
    from playwright.sync_api import expect

    frame = open_dialog(page, live)
    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.press_sequentially("service")
    expect(frame.get_by_role("option", name="acme/service-01")).to_be_visible()
    field.press("Escape")
    expect(field).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#devhost-dialog")).to_be_visible()
    field.press("Escape")
    expect(page.locator("#devhost-dialog")).to_have_count(0)


def test_double_click_on_create_branch_creates_one_branch(page, live, githost, demo):
    """Does a double click on Create branch create the branch exactly once?"""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    frame = open_dialog(page, live)
    pick_repository(frame, "web", "acme/web-app")
    branch_form_ready(frame)
    branch = frame.get_by_label("Branch name", exact=True).input_value()
    button = frame.get_by_role("button", name="Create branch")
    button.evaluate(
        """button => document.addEventListener('htmx:beforeSend', () => {
            window.submitDisabledInFlight = button.disabled;
        })"""
    )
    button.dblclick()
    expect(frame.get_by_role("status").filter(has_text="created")).to_contain_text(branch)
    assert frame.locator("body").evaluate("() => window.submitDisabledInFlight") is True
    assert githost.state.calls.count(REFS) == 1
    assert branch in githost.state.repos["acme/web-app"].branches


def fits(page) -> bool:
    """No horizontal scrollbar: the document is no wider than the viewport."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_two_submits_at_once_create_one_branch(page, live, githost, demo):
    """With the button's guard bypassed (two posts at once), is the branch still created once?"""
    save_pat_row(live, demo)
    frame = open_dialog(page, live)
    pick_repository(frame, "web", "acme/web-app")
    branch_form_ready(frame)
    statuses = frame.locator("#dialog-form").evaluate(
        """async form => {
            const post = () => fetch(form.action, {
                method: "POST",
                body: new FormData(form),
                headers: {
                    "HX-Request": "true",
                    "X-Gitint-Context": document.querySelector('meta[name="gitint-context"]')
                        .content,
                },
            }).then(async response => [response.status, await response.text()]);
            return Promise.all([post(), post()]);
        }"""
    )
    created = [body for status, body in statuses if status == 200 and "Branch created:" in body]
    others = [body for status, body in statuses if "Branch created:" not in body]
    assert len(created) == 1 and len(others) == 1
    assert re.search(r"still being processed|already created by your earlier request", others[0])
    assert githost.state.calls.count(REFS) == 1


def hold(page, pattern: str) -> list:
    """Requests to ``pattern`` wait (route.continue_() lets each go): a slow server, exactly."""
    held = []
    page.route(pattern, lambda route: held.append(route))
    return held


def release(page, held: list, count: int = 1) -> None:
    for _ in range(100):  # Playwright hands over intercepted requests while it waits
        if len(held) >= count:
            break
        page.wait_for_timeout(50)
    assert len(held) == count, held
    for route in held:
        route.continue_()
    page.unroute_all()


def test_keys_typed_while_the_form_refreshes_are_kept(page, live, githost, demo):
    """Choosing a repository re-renders the form: is a title typed before it arrives kept, and
    a repository typed right after a PAT is saved still searched for?"""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    frame = open_dialog(page, live, "create-pull-request")
    title = frame.get_by_label("Title", exact=True)
    expect(title).to_have_value(f"DEV-1 {SUMMARY}")
    held = hold(page, "**/dialogs/create-pull-request/refresh")
    pick_repository(frame, "web", "acme/web-app")
    title.click()
    title.press("End")
    title.press_sequentially(" (Safari)")
    release(page, held)
    expect(frame.get_by_label("Source branch", exact=True)).to_be_visible()  # the new form
    expect(title).to_have_value(f"DEV-1 {SUMMARY} (Safari)")
    expect(title).to_be_focused()
    title.press_sequentially("!")  # the caret is still at the end
    expect(title).to_have_value(f"DEV-1 {SUMMARY} (Safari)!")
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_have_value(
        "acme/web-app"
    )

    # a repository typed anew while the form for the chosen one is on its way
    held = hold(page, "**/dialogs/create-pull-request/refresh")
    repository = frame.get_by_role("combobox", name="Repository", exact=True)
    repository.fill("")
    pick_repository(frame, "mobile", "acme/mobile")
    repository.press("Control+a")
    repository.press_sequentially("acme/ap")
    release(page, held)
    expect(frame.locator("#acting")).to_contain_text("Acting as you (@dev-user)")
    expect(frame.get_by_label("Source branch", exact=True)).to_have_value("")  # mobile's form
    expect(repository).to_have_value("acme/ap")
    expect(frame.get_by_role("option", name="acme/api", exact=True)).to_be_visible()
    expect(repository).to_have_attribute("aria-expanded", "true")
    assert frame.locator("#repository-id").input_value() == ""  # typed, not chosen
    repository.press("ArrowDown")
    repository.press("Enter")
    expect(frame.locator("#branch-list option")).to_have_count(2)  # acme/api's: main, release/2.0
