"""Delivery: compressed answers, content-hashed static names that are immutable, HTML no-store."""

import gzip
import re

import brotli

from gitint.assets import hashed_name
from tests.conftest import entry_url

BROWSER_ENCODING = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def test_hashed_name_keeps_the_extension_and_changes_with_the_content():
    """Is the hash in the name, before the extension, and different for other bytes?"""
    one = hashed_name("vendor/htmx-2.0.11.min.js", b"a")
    assert re.fullmatch(r"vendor/htmx-2\.0\.11\.min\.[0-9a-f]{10}\.js", one)
    assert hashed_name("vendor/htmx-2.0.11.min.js", b"b") != one
    assert re.fullmatch(r"LICENSE\.[0-9a-f]{10}", hashed_name("LICENSE", b"x"))


def fresh_get(app, client, url, **kwargs):
    """A request in an app context of its own (the test's context would keep the page's `g`)."""
    with app.app_context():
        return client.get(url, **kwargs)


def test_pages_link_hashed_assets_served_immutable(app, client, make_tenant):
    """Does a dialog link every asset by a hashed name served with a year's immutable cache?"""
    tenant = make_tenant()
    page = client.get(entry_url(tenant, "/dialogs/create-branch", {"issueKey": "DEV-1"}))
    assert page.headers["Cache-Control"] == "no-store"
    urls = asset_urls(page.text)
    assert len(urls) == 3 and all(re.search(r"\.[0-9a-f]{10}\.(css|js)$", u) for u in urls)
    for url in urls:
        asset = fresh_get(app, client, url)
        asset.close()
        assert asset.status_code == 200
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_plain_static_names_still_work_and_revalidate(client):
    """Is /static/app.css (no hash) still served, without the immutable promise?"""
    response = client.get("/static/app.css")
    response.close()
    assert response.status_code == 200 and "immutable" not in response.headers["Cache-Control"]
    assert client.get("/static/app.0000000000.css").status_code == 404


def test_answers_are_compressed_for_browsers(app, client, make_tenant):
    """Are HTML and assets sent with br (or gzip) when the browser accepts it, and plain if not?"""
    tenant = make_tenant()
    url = entry_url(tenant, "/dialogs/create-branch", {"issueKey": "DEV-1"})
    page = client.get(url, headers=BROWSER_ENCODING)
    assert page.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in page.headers["Vary"]
    html = brotli.decompress(page.data).decode()
    assert "<h1>Create branch</h1>" in html
    css_url = next(u for u in asset_urls(html) if u.endswith(".css"))
    css = fresh_get(app, client, css_url, headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Encoding"] == "gzip"
    with open(f"{app.static_folder}/app.css", "rb") as source:
        assert gzip.decompress(css.data) == source.read()
    plain = fresh_get(app, client, css_url)
    css.close(), plain.close()
    assert "Content-Encoding" not in plain.headers
