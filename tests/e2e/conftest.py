"""Browser tests: the real app served on 127.0.0.1, the fake git host beside it, and Debian's
Chromium driven by Playwright through the dev host page and its iframes.

They skip, saying why, when Chromium or Playwright is missing — unless GITINT_REQUIRE_BROWSER
is set (CI sets it), where a missing browser is a failure.
"""

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from gitint import create_app
from gitint.crypto import seal
from gitint.dev import forge as dev_forge
from gitint.dev.fakehost import FakeGitHost, demo_state
from gitint.extensions import db
from tests.conftest import TEST_KEY

CHROMIUM = os.environ.get("GITINT_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


def _browser_missing() -> str | None:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


# One Playwright (it allows one per thread) and one Chromium per run, shared by every module that
# uses `browser`: tests/admin/test_browser.py imports the fixture, which makes a second session
# fixture beside this conftest's own.
_shared: dict = {"users": 0}


@pytest.fixture(scope="session")
def browser():
    reason = _browser_missing()
    if reason:
        if os.environ.get("GITINT_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests are required here but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)  # a loaded 2-core CI machine answers type-ahead slowly
    if not _shared["users"]:
        playwright = sync_playwright().start()
        _shared["playwright"] = playwright
        _shared["chromium"] = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    _shared["users"] += 1
    yield _shared["chromium"]
    _shared["users"] -= 1
    if not _shared["users"]:
        _shared.pop("chromium").close()
        _shared.pop("playwright").stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def githost():
    with FakeGitHost(demo_state()) as host:
        yield host


@pytest.fixture
def live(tmp_path, githost):
    """The app on a free port with GITINT_DEV on, a dev tenant, and a database of its own."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'e2e.sqlite'}",
            "GITINT_SECRET_KEYS": TEST_KEY,
            "GITINT_DEV": True,
            "GITINT_ALLOW_PRIVATE_HOSTS": True,
        }
    )
    app.instance_path = str(tmp_path / "instance")  # e.g. the dev host's Forge signing key
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    app.config["GITINT_BASE_URL"] = base_url
    app.config.update(dev_forge.settings_for(base_url, {}))  # Forge calls from the dev host
    with app.app_context():
        db.create_all()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = Live(app, base_url, githost)
    yield live
    server.shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Live:
    """The running app plus helpers to put data in its database."""

    def __init__(self, app, base_url, githost):
        self.app, self.base_url, self.githost = app, base_url, githost

    def add(self, *rows):
        with self.app.app_context():
            for row in rows:
                db.session.add(row)
                db.session.flush()
                if getattr(row, "_plain_secret", None):
                    seal(row, row._plain_secret)
            db.session.commit()
            return [row.id for row in rows]


def screenshot(page, name: str) -> None:
    """Save a screenshot under tests/e2e/screenshots/ (a CI artifact, git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def settled(frame) -> None:
    """Wait until htmx has finished the swap under way: new content is in the page before htmx
    processes its attributes (the settle step, 20 ms later), so a control used in between — a
    select changed by Playwright at once — would have no htmx listener yet."""
    from playwright.sync_api import expect

    expect(frame.locator(".htmx-settling, .htmx-swapping, .htmx-added")).to_have_count(0)
