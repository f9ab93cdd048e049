"""The Custom UI resource forge/static/gitint: copies of the app's static files that match,
an index.html that the Custom UI CSP allows (no inline script or style) and that references only
its own files, and the bundle."""

from html.parser import HTMLParser

import pytest

from tests.forge._manifest import FORGE, REPO

RESOURCE = FORGE / "static" / "gitint"
COPIES = {
    "app.css": REPO / "static" / "app.css",
    "app.js": REPO / "static" / "app.js",
    "htmx-2.0.11.min.js": REPO / "static" / "vendor" / "htmx-2.0.11.min.js",
}


class Page(HTMLParser):
    """Tags, attributes and inline text of scripts and styles of one HTML page."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open and data.strip():
            self.inline.append(f"<{self._open}>{data.strip()[:40]}")


def index() -> Page:
    page = Page()
    page.feed((RESOURCE / "index.html").read_text(encoding="utf-8"))
    return page


@pytest.mark.parametrize("name", sorted(COPIES))
def test_copies_are_byte_identical_to_static(name):
    """Is the resource's copy identical to static/ (else run `npm run build --prefix forge`)?"""
    assert (RESOURCE / name).read_bytes() == COPIES[name].read_bytes(), name


def test_index_has_no_inline_script_style_or_handlers():
    """Does index.html carry no inline script, style element, style or on* attribute?"""
    page = index()
    assert page.inline == []
    for tag, attrs in page.tags:
        assert tag != "style"
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], tag
        if tag == "script":
            assert attrs.get("src"), "a script without src"
            assert "defer" in attrs, attrs["src"]
        for name in ("href", "src", "action", "formaction"):
            assert not (attrs.get(name) or "").lower().startswith("javascript:"), tag


def test_index_references_only_files_of_the_folder():
    """Are the stylesheet and scripts of index.html files in forge/static/gitint, in order?"""
    page = index()
    references = [a.get("src") or a.get("href") for t, a in page.tags if t in ("script", "link")]
    assert references == ["app.css", "htmx-2.0.11.min.js", "app.js", "gitint-forge.js"]
    for reference in references:
        assert "/" not in reference and ":" not in reference, reference
        assert (RESOURCE / reference).is_file(), reference


def test_index_shares_the_htmx_config_of_base_html():
    """Is the htmx-config meta of index.html the one of templates/base.html?"""
    base = Page()
    base.feed((REPO / "templates" / "base.html").read_text(encoding="utf-8"))

    def config(page):
        metas = [a for t, a in page.tags if t == "meta"]
        return [a["content"] for a in metas if a.get("name") == "htmx-config"]

    assert config(index()) == config(base)
    assert len(config(base)) == 1


def test_body_is_the_loading_shell():
    """Does the body hold #flash (a polite status) and #main, as base.html's does?"""
    attrs = {a.get("id"): a for t, a in index().tags if a.get("id")}
    assert attrs["flash"] == {"id": "flash", "role": "status", "aria-live": "polite"}
    assert "main" in attrs


def test_the_bundle_exists():
    """Is the built gitint-forge.js there, an IIFE that replaces XMLHttpRequest?"""
    bundle = (RESOURCE / "gitint-forge.js").read_text(encoding="utf-8")
    assert len(bundle) > 1000
    assert "window.XMLHttpRequest=" in bundle
    assert "/forge/ui" in bundle
