"""The Connect handshake through the dev host in Chromium: the frame loads the local stand-in
for all.js (static/dev/connect-all.js), the dev host (static/devhost.js) answers it, the frame
follows its content height, and Cancel / Escape close the dialog through AP.dialog.close()."""

import re

import pytest

from gitint import sync
from gitint.dev.devhost import ensure_demo_integrations, ensure_dev_tenant
from gitint.extensions import db
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.browser

IFRAME = "#devhost-dialog iframe"
# the iframe's height and the bottom of the frame's .ac-content (same origin: readable here)
HEIGHTS = """() => {
  const iframe = document.querySelector('#devhost-dialog iframe');
  const content = iframe && iframe.contentDocument.querySelector('.ac-content');
  if (!content) { return null; }
  const box = content.getBoundingClientRect();
  return [iframe.getBoundingClientRect().height,
          Math.ceil(box.top + Math.max(box.height, content.scrollHeight))];
}"""
FOLLOWS = f"() => {{ const h = ({HEIGHTS})(); return !!h && Math.abs(h[0] - h[1]) <= 1; }}"
GROW = """() => {
  const grown = document.createElement('div');
  grown.id = 'grown';
  grown.style.height = '120px';  // CSSOM, which the CSP allows (no style attribute in markup)
  document.getElementById('main').appendChild(grown);
}"""
SPY = """() => {
  window.gitintSeen = [];
  window.addEventListener('message', (event) => { window.gitintSeen.push(event.data); });
}"""


@pytest.fixture
def demo(live, githost):
    """The dev tenant with its demo integrations, synced from the fake git host."""
    with live.app.app_context():
        tenant = ensure_dev_tenant(live.base_url)
        db.session.commit()
        for integration in ensure_demo_integrations(tenant, githost.base_url):
            outcome = sync.run(integration.id, sync.claim(integration.id, force=True))
            assert outcome.state == "done", outcome


def open_dialog(page, live, what="create-branch"):
    from playwright.sync_api import expect

    page.goto(f"{live.base_url}/dev/jira?user=developer&open={what}")
    page.evaluate(SPY)
    frame = page.frame_locator(IFRAME)
    expect(page.locator(IFRAME)).to_have_attribute("data-ap-ready", "")  # the parent answered
    expect(frame.locator("html")).to_have_attribute("data-ap-ready", "")  # the frame heard it
    return frame


def seen(page) -> list:
    return page.evaluate("() => window.gitintSeen")


def test_handshake_resizes_the_frame_to_its_content(page, live, demo):
    """Does the frame load the stand-in first, complete the handshake, and is the iframe as tall
    as its content, growing when the content does (the repository list opens)?"""
    from playwright.sync_api import expect

    frame = open_dialog(page, live)
    expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
    first_script = frame.locator("head script").first
    assert re.fullmatch(
        r"/static/dev/connect-all\.[0-9a-f]{10}\.js", first_script.get_attribute("src")
    )
    assert frame.locator("body > .ac-content > #main").count() == 1
    assert frame.locator("html").evaluate("() => typeof window.AP.dialog.close") == "function"

    page.wait_for_function(FOLLOWS)
    before, _ = page.evaluate(HEIGHTS)
    assert before != 520 - 36  # not the dev host's fixed dialog height any more
    dialog = page.locator("#devhost-dialog").bounding_box()
    head = page.locator("#devhost-dialog .dh-frame-head").bounding_box()
    assert abs(dialog["height"] - (head["height"] + before)) <= 2  # the dialog follows its frame

    inner = page.frame(name="gitint-frame")
    inner.evaluate(GROW)  # the content grows by 120px: so does the frame
    page.wait_for_function(f"() => ({HEIGHTS})()[0] >= {before} + 119 && ({FOLLOWS})()")
    screenshot(page, "connect-stand-in-resized")
    inner.evaluate("() => document.getElementById('grown').remove()")  # and back
    page.wait_for_function(f"() => Math.abs(({HEIGHTS})()[0] - {before}) <= 1")

    field = frame.get_by_role("combobox", name="Repository", exact=True)
    field.press_sequentially("service")
    listbox = frame.get_by_role("listbox")
    expect(listbox).to_be_visible()
    page.wait_for_function(FOLLOWS)
    bottom = listbox.evaluate("list => list.getBoundingClientRect().bottom")
    assert bottom <= page.evaluate(HEIGHTS)[0] + 1  # an open list is not cut off by the frame

    resizes = [m for m in seen(page) if m.get("gitintAP") == "resize"]
    assert resizes and all(m["height"] > 0 for m in resizes)


def test_cancel_closes_through_ap_dialog_close(page, live, demo):
    """Does Cancel in the dialog close it through the stand-in's AP.dialog.close() (not the
    closeDialog fallback), restoring the dev host's URL?"""
    from playwright.sync_api import expect

    frame = open_dialog(page, live)
    frame.get_by_role("button", name="Cancel").click()
    expect(page.locator("#devhost-dialog")).to_have_count(0)
    messages = seen(page)
    assert {"gitintAP": "dialog.close"} in messages
    assert {"type": "closeDialog"} not in messages
    assert page.url.endswith("/dev/jira?user=developer")


def test_escape_closes_through_ap_dialog_close(page, live, demo):
    """Does Escape inside the frame close the dialog through AP.dialog.close() too?"""
    from playwright.sync_api import expect

    frame = open_dialog(page, live)
    expect(frame.get_by_role("combobox", name="Repository", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#devhost-dialog")).to_have_count(0)
    assert {"gitintAP": "dialog.close"} in seen(page)


def test_resize_theming_and_strangers(page, live, demo):
    """AP.resize(w, h) sets the frame's height, AP.theming.initializeTheming() is answered, and
    a message that does not come from the frame (here: the page itself) closes nothing."""
    from playwright.sync_api import expect

    frame = open_dialog(page, live)
    expect(frame.get_by_role("heading", name="Create branch")).to_be_visible()
    page.wait_for_function(FOLLOWS)
    inner = page.frame(name="gitint-frame")
    taller = page.evaluate(HEIGHTS)[0] + 40  # taller than the content: nothing re-wraps
    inner.evaluate(f"() => window.AP.resize('100%', '{taller}px')")
    page.wait_for_function(f"() => ({HEIGHTS})()[0] === {taller}")

    inner.evaluate(SPY)
    inner.evaluate("() => window.AP.theming.initializeTheming()")
    inner.wait_for_function("() => window.gitintSeen.some(m => m && m.gitintAP === 'answer')")
    calls = [m for m in seen(page) if m.get("gitintAP") == "theming.initializeTheming"]
    answers = inner.evaluate("() => window.gitintSeen.filter(m => m.gitintAP === 'answer')")
    assert len(calls) == 1 and [a["id"] for a in answers] == [calls[0]["id"]]

    page.evaluate("() => window.postMessage({gitintAP: 'dialog.close'}, location.origin)")
    page.wait_for_function("() => window.gitintSeen.some(m => m.gitintAP === 'dialog.close')")
    expect(page.locator("#devhost-dialog")).to_be_visible()  # not from the frame: ignored
    frame.get_by_role("button", name="Cancel").click()
    expect(page.locator("#devhost-dialog")).to_have_count(0)
