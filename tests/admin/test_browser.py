"""The admin page in Chromium through the dev host: add an integration against the fake git
host, switch provider fields, update feature settings with the live preview, sync with
progress, and read the audit log."""

import pytest

from tests.e2e.conftest import browser, githost, live, page, screenshot, settled  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_admin_adds_configures_and_syncs_an_integration(page, live, githost):  # noqa: F811
    """Can an administrator do the whole admin flow with only the page's own controls?"""
    from playwright.sync_api import expect

    page.goto(f"{live.base_url}/dev/jira?user=admin&open=admin")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="Manage Git repositories")).to_be_visible()
    frame.get_by_role("link", name="Add integration").click()
    expect(frame.get_by_role("heading", name="Add integration")).to_be_visible()
    settled(frame)

    provider = frame.get_by_label("Provider")
    expect(frame.get_by_label("Base URL")).to_have_count(0)
    provider.select_option("codecommit")
    expect(frame.get_by_label("Access key ID")).to_be_visible()
    expect(frame.get_by_label("Region")).to_be_visible()
    provider.select_option("github_enterprise")
    expect(frame.get_by_label("Base URL")).to_be_visible()
    expect(frame.get_by_label("Access key ID")).to_have_count(0)

    frame.get_by_label("Name").fill("Acme GHE")
    frame.get_by_label("Base URL").fill(githost.base_url)
    frame.get_by_label("Personal access token").fill("ghp_wrong_token")
    frame.get_by_role("button", name="Add integration").click()
    expect(frame.locator("#token-error")).to_contain_text("GitHub refused the access token")
    screenshot(page, "admin-add-refused")
    expect(frame.get_by_label("Name")).to_have_value("Acme GHE")
    frame.get_by_label("Personal access token").fill("ghp_demo_integration_token")
    frame.get_by_role("button", name="Add integration").click()
    expect(frame.locator("p.notice.success")).to_contain_text("its account is @gitint-bot")

    frame.get_by_label("Require User PAT").check()
    frame.get_by_label("Issue type prefixes").fill("Bug=bugfix")
    frame.get_by_label("Branch name template").fill("${issuetype}/${issuekey}-${summary}")
    expect(frame.locator("#preview code")).to_have_text(
        "bugfix/DEV-123-fix-the-login-redirect-on-safari"
    )
    frame.get_by_role("button", name="Update").click()
    expect(frame.get_by_text("Settings updated.")).to_be_visible()
    expect(frame.get_by_label("Require User PAT")).to_be_checked()

    frame.get_by_role("button", name="Sync repositories").click()
    expect(frame.locator("#sync")).to_contain_text("43 repositories", timeout=15_000)
    expect(frame.get_by_role("button", name="Sync repositories")).to_be_visible()
    screenshot(page, "admin-integration")

    frame.get_by_role("link", name="Audit log").click()
    expect(frame.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(frame.locator("#results")).to_contain_text("Added integration")  # actions in words
    expect(frame.locator("#results")).to_contain_text("Changed feature settings")
    frame.get_by_label("Action").select_option("settings.update")
    expect(frame.locator("#results")).to_contain_text("1 event.")
    screenshot(page, "admin-audit")
