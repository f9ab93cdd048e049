"""The look in Chromium (SPEC §7): every dialog state fits a 600×400 frame and the pages reflow
to 320 px, in Jira's light and dark themes — no horizontal scroll, the action buttons inside
the frame, no word broken mid-word, and no serious or critical axe-core violation (colour
contrast included; for representative states also in Jira's light and dark increased-contrast
themes); Jira's theme reaches the frame in both modes; the rough edges a new user met.

axe-core comes from forge/node_modules (pinned in forge/package-lock.json, `npm ci --prefix
forge`); without it these tests skip, unless GITINT_REQUIRE_NODE is set.
"""

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from gitint.dev.devhost import ensure_demo_integrations, ensure_dev_tenant
from gitint.extensions import db
from gitint.models import AuditEvent
from tests.e2e.conftest import SCREENSHOTS, screenshot
from tests.e2e.test_dialogs import DEV_TOKEN, demo, open_dialog, save_pat_row  # noqa: F401

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "forge" / "node_modules" / "axe-core" / "axe.min.js"
DOCS = ROOT / "docs"
THEMES = ("light", "dark")
MORE_CONTRAST = ("light-increased-contrast", "dark-increased-contrast")  # colour contrast only

# Words broken across lines (outside identifiers: code, .ident, URLs), the page's overflow, and
# the visible action buttons outside the viewport.
LAYOUT = """(dialog) => {
  const root = document.documentElement;
  const broken = [];
  const walker = document.createTreeWalker(document.getElementById("main"), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("code, .ident, .sr-only, [hidden], option, textarea")) continue;
    if (!parent.getClientRects().length) continue;
    const head = parent.closest("thead");  // out of sight when the table is stacked rows
    if (head && head.getBoundingClientRect().height <= 1) continue;
    for (const match of node.data.matchAll(/[A-Za-z]{2,}/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set(Array.from(range.getClientRects(), r => Math.round(r.top)));
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  const outside = Array.from(document.querySelectorAll(".actions button, .actions .button"))
    .filter(b => b.getClientRects().length && !b.closest("[hidden]"))
    .filter(b => { const r = b.getBoundingClientRect();
                   return (dialog && (r.top < 0 || r.bottom > innerHeight + 0.5)) ||
                          r.left < 0 || r.right > innerWidth + 0.5; })
    .map(b => b.textContent.trim());
  return {scroll: root.scrollWidth - root.clientWidth, broken, outside};
}"""
AXE_RUN = """async (rules) => {
  const options = {resultTypes: ["violations"], ...(rules ? {runOnly: rules} : {})};
  const result = await axe.run(document, options);
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => v.id + ": " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.exists():
        if os.environ.get("GITINT_REQUIRE_NODE"):
            pytest.fail(f"axe-core is required here but {AXE} is missing (npm ci --prefix forge)")
        pytest.skip(f"axe-core not installed at {AXE} (npm ci --prefix forge)")
    return AXE.read_text(encoding="utf-8")


def sized(browser, width, height):
    """A page of its own size; CSP bypassed only so that the test can inject axe-core."""
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def set_theme(page, live, theme):
    """Jira's theme on the page as the host gives it: data-color-mode, data-contrast-mode="more"
    for increased contrast, and the token values (light: app.css's fallbacks)."""
    mode, contrast = theme.split("-")[0], theme.endswith("-increased-contrast")
    page.evaluate(
        """([theme, mode, contrast, href]) => {
          const root = document.documentElement;
          if (theme !== "light" && !document.querySelector(`link[data-test-theme="${theme}"]`)) {
            const link = Object.assign(document.createElement("link"), {rel: "stylesheet", href});
            link.setAttribute("data-test-theme", theme);
            document.head.appendChild(link);
          }
          root.setAttribute("data-color-mode", mode);
          if (contrast) root.setAttribute("data-contrast-mode", "more");
          else root.removeAttribute("data-contrast-mode");
        }""",
        [theme, mode, contrast, f"{live.base_url}/static/dev/tokens-{theme}.css"],
    )
    page.wait_for_function(
        """theme => theme === "light" ||
          document.querySelector(`link[data-test-theme="${theme}"]`).sheet !== null""",
        arg=theme,
    )


def check(page, live, axe_source, state, dialog=True, more_contrast=False):
    """In both themes: no horizontal scroll, buttons in view (a page scrolls down to them), no
    broken word, no serious or critical axe violation; with ``more_contrast`` also axe's colour
    contrast in both increased-contrast themes (the layout is the same in every theme)."""
    if page.evaluate("() => typeof window.axe") == "undefined":
        page.add_script_tag(content=axe_source)
    for mode in THEMES:
        set_theme(page, live, mode)
        layout = page.evaluate(LAYOUT, dialog)
        assert layout["scroll"] <= 0, f"{state} ({mode}): scrolls sideways by {layout['scroll']}px"
        assert layout["outside"] == [], f"{state} ({mode}): buttons outside the frame"
        assert layout["broken"] == [], f"{state} ({mode}): broken mid-word {layout['broken']}"
        violations = page.evaluate(AXE_RUN, None)
        assert violations == [], f"{state} ({mode}): {violations}"
        screenshot(page, f"look-{state}-{mode}")
    for theme in MORE_CONTRAST if more_contrast else ():
        set_theme(page, live, theme)
        violations = page.evaluate(AXE_RUN, ["color-contrast"])
        if violations:
            screenshot(page, f"look-{state}-{theme}")
        assert violations == [], f"{state} ({theme}): {violations}"
    set_theme(page, live, "light")


def dialog_url(page, live, what, user="developer"):
    """The signed iframe URL the dev host opens (Connect style)."""
    page.goto(f"{live.base_url}/dev/jira?user={user}&open={what}")
    return live.base_url + page.locator("#devhost-dialog iframe").get_attribute("src")


def test_create_branch_states_fit_600_by_400(browser, page, live, githost, demo, axe_source):  # noqa: F811
    """Does every Create branch state fit 600×400 in light and dark, accessible (the error,
    listbox and success states' contrast in increased contrast too)?"""
    from playwright.sync_api import expect

    frame = sized(browser, 600, 400)
    frame.goto(dialog_url(page, live, "create-branch"))
    expect(frame.get_by_text("Setup required.")).to_be_visible()
    check(frame, live, axe_source, "branch-setup-required")

    frame.get_by_role("link", name="Set up your personal access token").click()
    token = frame.get_by_label("Personal access token", exact=True)
    check(frame, live, axe_source, "branch-pat-setup")
    token.fill("ghp_not_a_token_here")
    frame.get_by_role("button", name="Save token").click()
    expect(frame.locator(".pat-form .field-error")).to_be_visible()
    check(frame, live, axe_source, "branch-pat-error", more_contrast=True)

    frame.get_by_label("Personal access token", exact=True).fill(DEV_TOKEN)
    frame.get_by_role("button", name="Save token").click()
    field = frame.get_by_role("combobox", name="Repository", exact=True)
    expect(field).to_be_focused()
    expect(frame.get_by_role("listbox")).to_be_hidden()  # not opened by the form's own focus
    field.click()
    listbox = frame.get_by_role("listbox")
    expect(listbox.get_by_role("option")).to_have_count(21)  # 20 and "More repositories…"
    check(frame, live, axe_source, "branch-listbox-open", more_contrast=True)

    field.press_sequentially("web-app")
    expect(frame.get_by_role("option")).to_have_count(1)
    field.press("ArrowDown")
    field.press("Enter")
    expect(frame.get_by_label("Base branch", exact=True)).to_have_value("main")
    expect(frame.locator("#repository-hint")).to_have_text("In Demo GitHub (Require User PAT)")
    check(frame, live, axe_source, "branch-filled")

    name = frame.get_by_label("Branch name", exact=True)
    name.fill("")
    name.press_sequentially("bad..name")  # checked as the user types (keyup)
    expect(frame.locator("#name-messages .field-error")).to_be_visible()
    check(frame, live, axe_source, "branch-name-invalid")

    name.fill("DEV-1-look")
    frame.get_by_role("button", name="Create branch").click()
    expect(frame.get_by_role("status").filter(has_text="Branch created")).to_be_visible()
    check(frame, live, axe_source, "branch-success", more_contrast=True)

    frame.get_by_role("button", name="Create pull request").click()
    expect(frame.get_by_label("Title", exact=True)).to_be_visible()
    check(frame, live, axe_source, "pull-request-filled")
    frame.get_by_role("button", name="Create pull request").click()
    expect(frame.get_by_role("status").filter(has_text="Pull request created")).to_be_visible()
    check(frame, live, axe_source, "pull-request-success")
    frame.context.close()


@pytest.fixture
def one_integration(live, githost):
    """The dev tenant with the demo integration where the bot acts alone (synced): a dialog
    says who acts as soon as it opens."""
    from gitint import sync

    with live.app.app_context():
        tenant = ensure_dev_tenant(live.base_url)
        db.session.commit()
        bot, required = ensure_demo_integrations(tenant, githost.base_url)
        db.session.delete(required)
        db.session.commit()
        sync.run(bot.id, sync.claim(bot.id, force=True))
        return tenant.id, bot.id


@pytest.mark.parametrize("state", ["optional-pat", "expiring-pat", "unavailable"])
def test_more_dialog_states_fit_600_by_400(browser, page, live, one_integration, axe_source, state):
    """The acting states a dialog opens with — the bot acts and the user may add a token, the
    user's token expires within days, the server cannot act at all (TFS 2015 with Require User
    PAT) — in 600×400, light and dark, accessible (the expiring token's warning in increased
    contrast too)?"""
    from playwright.sync_api import expect

    from gitint.crypto import seal
    from gitint.models import Credential, Integration, utcnow

    tenant_id, integration_id = one_integration
    with live.app.app_context():
        integration = db.session.get(Integration, integration_id)
        if state == "expiring-pat":
            credential = Credential(
                tenant_id=tenant_id,
                account_id="dev-developer",
                integration_id=integration_id,
                kind="pat",
                last4=DEV_TOKEN[-4:],
                login="dev-user",
                status="valid",
                expires_at=utcnow() + timedelta(days=3),
            )
            seal(credential, DEV_TOKEN)
            db.session.add(credential)
        if state == "unavailable":
            integration.kind, integration.server_version = "tfs", "2015"
            integration.base_url = "https://tfs.example.com/tfs/DefaultCollection"
            integration.require_user_pat = True
        db.session.commit()
    frame = sized(browser, 600, 400)
    frame.goto(dialog_url(page, live, "create-branch"))
    expected = {
        "optional-pat": frame.get_by_role("link", name="Use my own personal access token"),
        "expiring-pat": frame.get_by_text("expires within 7 days"),
        "unavailable": frame.get_by_text("Unavailable."),
    }[state]
    expect(expected).to_be_visible()
    check(frame, live, axe_source, f"branch-{state}", more_contrast=state == "expiring-pat")
    frame.context.close()


def test_dialog_body_scrolls_and_buttons_stay(browser, page, live, demo, axe_source):  # noqa: F811
    """In a frame shorter than the form, does the body scroll while the buttons stay in view?"""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    frame = sized(browser, 600, 300)
    frame.goto(dialog_url(page, live, "create-pull-request"))
    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.press_sequentially("web-app")
    expect(frame.get_by_role("option")).to_have_count(1)
    field.press("Enter")
    expect(frame.get_by_label("Source branch", exact=True)).to_be_visible()
    assert frame.evaluate("() => document.documentElement.scrollHeight > innerHeight")
    submit = frame.get_by_role("button", name="Create pull request")
    box = submit.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 300
    frame.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    box = submit.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 300
    frame.context.close()


@pytest.fixture
def admin_data(live, githost):
    """Both demo integrations synced, the developer's token saved, and audit events."""
    from gitint import sync

    with live.app.app_context():
        tenant = ensure_dev_tenant(live.base_url)
        db.session.commit()
        integrations = ensure_demo_integrations(tenant, githost.base_url)
        for integration in integrations:
            sync.run(integration.id, sync.claim(integration.id, force=True))
        for n in range(3):
            db.session.add(
                AuditEvent(
                    tenant_id=tenant.id,
                    account_id="dev-developer",
                    display_name="Dev Developer",
                    integration_id=integrations[0].id,
                    integration_name=integrations[0].name,
                    repository="acme/web-app",
                    action="create_branch",
                    acting="integration",
                    acting_login="gitint-bot",
                    result="success",
                    detail=f"DEV-1-a-rather-long-branch-name-number-{n}",  # the name, linked
                    link=f"{githost.base_url}/acme/web-app/tree/DEV-1-{n}",
                )
            )
        db.session.commit()
        return [integration.name for integration in integrations]


@pytest.mark.parametrize("width", [320, 1280])
def test_pages_reflow(browser, page, live, admin_data, axe_source, width):
    """Do the PAT page, the admin pages and the audit log fit 320 and 1280 px wide (tables as
    stacked rows when narrow), in light and dark, accessible (the PAT page's and audit log's
    contrast in increased contrast too, at 1280)?"""
    from playwright.sync_api import expect

    names = admin_data
    narrow = sized(browser, width, 700)
    narrow.goto(dialog_url(page, live, "pats", user="admin"))
    expect(narrow.get_by_role("heading", name="Git: personal access tokens")).to_be_visible()
    check(narrow, live, axe_source, f"pats-{width}", dialog=False, more_contrast=width > 320)

    narrow.goto(dialog_url(page, live, "admin", user="admin"))
    expect(narrow.get_by_role("heading", name="Manage Git repositories")).to_be_visible()
    check(narrow, live, axe_source, f"admin-integrations-{width}", dialog=False)
    narrow.get_by_role("link", name=f"Edit {names[1]}").click()
    expect(narrow.get_by_role("heading", name="Feature settings")).to_be_visible()
    check(narrow, live, axe_source, f"admin-integration-{width}", dialog=False)
    narrow.get_by_role("link", name="Audit log").click()
    expect(narrow.get_by_role("heading", name="Audit log")).to_be_visible()
    check(narrow, live, axe_source, f"audit-{width}", dialog=False, more_contrast=width > 320)
    if width == 320:  # stacked rows: the header row is out of sight, each cell names its column
        assert narrow.locator("table.stack thead").first.bounding_box()["height"] <= 1
    narrow.context.close()


def test_jira_theme_reaches_the_frame_in_both_modes(page, live, demo):  # noqa: F811
    """With the dev host's Dark switch, do AP.theming.initializeTheming() (Connect) and
    view.theme.enable() (Forge) give the frame Jira's dark tokens, and with Dark, increased
    contrast, data-contrast-mode="more" and that theme's tokens?"""
    from playwright.sync_api import expect

    for mode in ("", "&mode=forge"):
        page.goto(f"{live.base_url}/dev/jira?user=developer&open=create-branch&theme=dark{mode}")
        frame = page.frame_locator("iframe")
        expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
        inner = frame.locator("html")
        expect(inner).to_have_attribute("data-color-mode", "dark")
        background = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
        assert background == "rgb(31, 31, 33)", (mode, background)  # --ds-surface, dark
        assert page.locator("html").get_attribute("data-color-mode") == "dark"
    screenshot(page, "create-branch-dark")
    for mode in ("", "&mode=forge"):  # increased contrast: data-contrast-mode="more", its tokens
        page.goto(
            f"{live.base_url}/dev/jira?user=developer&open=create-branch"
            f"&theme=dark-increased-contrast{mode}"
        )
        frame = page.frame_locator("iframe")
        expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
        inner = frame.locator("html")
        expect(inner).to_have_attribute("data-contrast-mode", "more")
        expect(inner).to_have_attribute("data-color-mode", "dark")
        text = frame.locator("body").evaluate("b => getComputedStyle(b).color")
        assert text == "rgb(226, 227, 228)", (mode, text)  # --ds-text, dark increased contrast
    page.goto(f"{live.base_url}/dev/jira?user=developer&open=create-branch")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
    background = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(255, 255, 255)"


def test_readme_screenshot_dark(page, live, demo):  # noqa: F811
    """The README's dark picture: the filled Create branch dialog in the dev host's dark theme
    (the light one is docs/create-branch.png, from test_dialogs.py)."""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    for theme, name in (("&theme=dark", "create-branch-dark"),):
        page.goto(f"{live.base_url}/dev/jira?user=developer&open=create-branch{theme}")
        frame = page.frame_locator("iframe")
        field = frame.get_by_role("combobox", name="Repository", exact=True)
        field.press_sequentially("web-app")
        expect(frame.get_by_role("option")).to_have_count(1)
        field.press("Enter")
        expect(frame.get_by_label("Base branch", exact=True)).to_have_value("main")
        expect(frame.get_by_label("Branch name", exact=True)).to_have_value(re.compile("^DEV-1-"))
        frame.locator("body").click(position={"x": 5, "y": 5})
        screenshot(page, f"readme-{name}")
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(SCREENSHOTS / f"readme-{name}.png", DOCS / f"{name}.png")


# ------------------------------------------------------------------ rough edges


def test_no_match_row_is_not_selectable(page, live, demo):  # noqa: F811
    """Is "No repository matches" shown but never chosen by arrow keys and Enter?"""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    frame = open_dialog(page, live)
    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.press_sequentially("zzz-nothing")
    none = frame.get_by_role("option", name=re.compile("No repository matches"))
    expect(none).to_be_visible()
    field.press("ArrowDown")
    expect(none).to_have_attribute("aria-selected", "false")
    field.press("Enter")
    expect(field).to_have_value("zzz-nothing")
    assert frame.locator("#repository-id").input_value() == ""
    assert field.get_attribute("aria-activedescendant") is None


def test_listbox_opens_on_focus_with_integration_names(page, live, demo, githost):  # noqa: F811
    """Does focusing Repository list the first 20 without typing, each with its integration's
    name under it when there are several (two acme/web-app told apart)?"""
    from playwright.sync_api import expect

    with live.app.app_context():
        tenant = ensure_dev_tenant(live.base_url)
        from gitint import sync

        for integration in ensure_demo_integrations(tenant, githost.base_url):
            sync.run(integration.id, sync.claim(integration.id, force=True))
    save_pat_row(live, demo)
    frame = open_dialog(page, live)
    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.click()
    options = frame.get_by_role("option")
    expect(options).to_have_count(21)
    field.press_sequentially("web-app")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("Demo GitHub")
    assert options.nth(0).inner_text() != options.nth(1).inner_text()
    field.press("ArrowDown")
    field.press("Enter")
    expect(frame.locator("#repository-hint")).to_contain_text("In Demo GitHub")


def test_focus_ring_does_not_cover_neighbouring_words(page, live, demo):  # noqa: F811
    """Does a focused link's ring stay in the space between it and the words beside it?"""
    from playwright.sync_api import expect

    frame = open_dialog(page, live)
    link = frame.get_by_role("link", name="Set up your personal access token")
    expect(link).to_be_visible()
    link.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    gap = link.evaluate(
        """a => {
          const style = getComputedStyle(a);
          const ring = parseFloat(style.outlineWidth) + parseFloat(style.outlineOffset);
          const text = a.previousSibling || a.parentNode.firstChild;
          const range = document.createRange();
          const words = text.data.replace(/\\s+$/, "");
          range.setStart(text, 0);
          range.setEnd(text, words.length);
          const before = Array.from(range.getClientRects()).pop();
          const box = a.getClientRects()[0];
          return {ring, room: box.left - before.right, same: Math.abs(box.top - before.top) < 4};
        }"""
    )
    assert gap["ring"] > 0
    if gap["same"]:
        assert gap["ring"] < gap["room"], gap


def test_pat_icons_line_up(browser, page, live, admin_data):
    """Are the ✎ buttons of all repository rows in one column?"""
    from playwright.sync_api import expect

    wide = sized(browser, 1280, 900)
    wide.goto(dialog_url(page, live, "pats", user="developer"))
    icons = wide.locator("#pat-repositories button.icon")
    expect(icons.first).to_be_visible()
    lefts = {round(icons.nth(n).bounding_box()["x"]) for n in range(min(icons.count(), 20))}
    assert len(lefts) == 1, lefts
    wide.context.close()


def test_branch_fields_are_select_like(page, live, demo):  # noqa: F811
    """Does Base branch open its list of branches on click without typing, filter as the user
    types, choose with the keyboard, and still take a name that is not listed?"""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    frame = open_dialog(page, live)
    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.press_sequentially("web-app")
    expect(frame.get_by_role("option")).to_have_count(1)
    field.press("Enter")
    base = frame.get_by_role("combobox", name="Base branch", exact=True)
    expect(base).to_have_value("main")
    base.click()
    options = frame.get_by_role("listbox", name="Branches").get_by_role("option")
    expect(options).to_have_count(3)  # all of them, though the field shows "main"
    expect(frame.get_by_role("option", name="main", exact=True)).to_have_attribute(
        "aria-selected", "true"
    )
    base.fill("devel")
    expect(options).to_have_count(1)
    base.press("ArrowDown")
    base.press("Enter")
    expect(base).to_have_value("develop")
    expect(base).to_have_attribute("aria-expanded", "false")
    base.fill("feature/not-listed")
    base.press("Tab")  # not in the list: kept as typed, and checked on the host
    expect(base).to_have_value("feature/not-listed")
    expect(frame.locator("#base-messages")).not_to_be_empty()


def test_buttons_spin_while_their_request_is_in_flight(browser, page, live, demo):  # noqa: F811
    """Does the pressed button show a spinner (and stay disabled) while its request runs, the
    field messages sit under their field (error and warning), and Cancel look subtle?"""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    frame = sized(browser, 600, 400)
    frame.goto(dialog_url(page, live, "create-branch"))
    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.press_sequentially("web-app")
    expect(frame.get_by_role("option")).to_have_count(1)
    with frame.expect_response("**/dialogs/create-branch/refresh"):
        field.press("Enter")
    # the refreshed form swapped in: keys typed into the one it replaces would be lost with it
    frame.wait_for_function("() => !document.querySelector('.htmx-swapping, .htmx-settling')")
    name = frame.get_by_label("Branch name", exact=True)
    expect(name).to_have_value(re.compile("^DEV-1-"))
    name.fill("")
    name.press_sequentially("no-key")
    warning = frame.locator("#name-messages .field-warning")
    expect(warning).to_contain_text("does not contain DEV-1")
    below = warning.bounding_box()["y"] >= name.bounding_box()["y"] + name.bounding_box()["height"]
    assert below
    frame.route(
        "**/dialogs/create-branch", lambda route: frame.wait_for_timeout(1500) or route.continue_()
    )
    submit = frame.get_by_role("button", name="Create branch")
    submit.click()
    expect(submit).to_be_disabled()
    spinner = submit.evaluate("b => getComputedStyle(b, '::before').animationName")
    assert spinner == "spin"
    cancel = frame.get_by_role("button", name="Cancel")
    assert cancel.evaluate("b => getComputedStyle(b).backgroundColor") == "rgba(0, 0, 0, 0)"
    frame.context.close()


def test_forge_dialog_frame_fits_its_content(page, live, demo):  # noqa: F811
    """In Forge mode too, is the dialog 600 px wide and its frame as tall as its content (up to
    the window), growing with it?"""
    from playwright.sync_api import expect

    page.goto(f"{live.base_url}/dev/jira?user=developer&open=create-branch&mode=forge")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
    fits = """() => { const f = document.querySelector('#devhost-dialog iframe');
      const b = f.contentDocument.body;
      return Math.abs(f.getBoundingClientRect().height - b.scrollHeight) <= 2; }"""
    page.wait_for_function(fits)
    assert page.locator("#devhost-dialog").bounding_box()["width"] == 600
    before = page.locator("#devhost-dialog iframe").bounding_box()["height"]
    page.evaluate(  # the content grows by 120 px: so does the frame
        """() => { const d = document.querySelector('#devhost-dialog iframe').contentDocument;
          const grown = d.createElement('div'); grown.style.height = '120px';
          d.getElementById('main').appendChild(grown); }"""
    )
    page.wait_for_function(
        f"() => ({fits})() && document.querySelector('#devhost-dialog iframe')"
        f".getBoundingClientRect().height >= {before} + 119"
    )


def test_error_states_fit_600_by_400(browser, page, live, demo, axe_source):  # noqa: F811
    """Do the host-error state (the branch exists, with its link) and the permission page fit
    600×400 in light and dark, accessible (the error message's contrast in increased contrast
    too)?"""
    from playwright.sync_api import expect

    save_pat_row(live, demo)
    frame = sized(browser, 600, 400)
    frame.goto(dialog_url(page, live, "create-branch"))
    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.press_sequentially("web-app")
    expect(frame.get_by_role("option")).to_have_count(1)
    field.press("Enter")
    expect(frame.get_by_label("Base branch", exact=True)).to_have_value("main")
    frame.get_by_label("Branch name", exact=True).fill("DEV-1-old-attempt")
    frame.get_by_role("button", name="Create branch").click()
    expect(frame.get_by_role("link", name="Open the existing branch")).to_be_visible()
    check(frame, live, axe_source, "branch-exists", more_contrast=True)

    frame.goto(dialog_url(page, live, "create-branch", user="viewer"))
    expect(frame.get_by_role("heading", name="Permission needed")).to_be_visible()
    check(frame, live, axe_source, "branch-forbidden")
    frame.context.close()
