"""First-load bytes on the wire and asset requests on a second open, over HTTP from the running
server (SPEC §5: ≤ 30 KB first load, 0 asset requests on the second open).

Starts the app on 127.0.0.1 (SQLite in a temporary folder, one embedded tenant with an
integration), fetches the Create branch dialog with a browser's Accept-Encoding and then every
asset the page loads, and adds up the bytes as they arrive (headers and compressed bodies). The
second open is counted in Chromium (Debian's, through Playwright) when it is installed: a new
signed entry in the same browser profile, counting the asset requests that reach the server; without
Chromium the count comes from the assets' Cache-Control.

    python bench/page_weight.py
"""

import base64
import http.client
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends
CHROMIUM = os.environ.get("GITINT_CHROMIUM", "/usr/bin/chromium")
PARAMS = {"issueKey": "DEV-1", "projectKey": "DEV", "projectId": "10000"}
ASSET_REQUESTS: list[str] = []


def start(workdir: Path):
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from gitint import create_app
    from gitint.crypto import seal
    from gitint.extensions import db
    from gitint.models import Integration, Repository, Tenant

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'weight.sqlite'}",
            "GITINT_SECRET_KEYS": "w1:" + base64.b64encode(os.urandom(32)).decode(),
        }
    )

    def counting(environ, start_response):  # asset requests that reach the server
        if environ["PATH_INFO"].startswith("/static/"):
            ASSET_REQUESTS.append(environ["PATH_INFO"])
        return app.wsgi_app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    app.config["GITINT_BASE_URL"] = base_url
    with app.app_context():
        db.create_all()
        tenant = Tenant(kind="embedded", issuer="weight", base_url=base_url)
        seal(tenant, "weight-shared-secret-0123456789abcdef")
        db.session.add(tenant)
        db.session.flush()
        integration = Integration(tenant_id=tenant.id, kind="github", name="GitHub")
        db.session.add(integration)
        db.session.flush()
        seal(integration, "ghp_weight_integration_token")
        integration.credential_login, integration.credential_status = "bot", "valid"
        db.session.add(
            Repository(
                tenant_id=tenant.id,
                integration_id=integration.id,
                host_id="1",
                full_name="acme/web-app",
                search_name="acme/web-app",
                default_branch="main",
                web_url="https://github.com/acme/web-app",
            )
        )
        db.session.commit()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, base_url


def entry(path: str = "/dialogs/create-branch") -> str:
    from gitint.jira.jwt import query_hash, sign

    now = int(time.time())
    claims = {
        "iss": "weight",
        "sub": "user-1",
        "iat": now,
        "exp": now + 180,
        "qsh": query_hash("GET", path, list(PARAMS.items())),
        "context": {
            "user": {"displayName": "Weight"},
            "permissions": ["VIEW_DEV_TOOLS"],
            "issue": {"summary": "Measure the first load", "type": "Story"},
        },
    }
    token = sign(claims, "weight-shared-secret-0123456789abcdef")
    return f"{path}?{urlencode({**PARAMS, 'jwt': token})}"


def fetch(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes, dict, int]:
    """(status, body as sent, headers, bytes on the wire incl. status line and headers)."""
    connection.request("GET", path, headers={"Accept-Encoding": ACCEPT_ENCODING})
    response = connection.getresponse()
    body = response.read()  # http.client undoes chunking, never Content-Encoding
    head = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + 2
    head += sum(len(f"{name}: {value}\r\n") for name, value in response.getheaders())
    return response.status, body, {k.lower(): v for k, v in response.getheaders()}, head + len(body)


def assets_of(html: str) -> list[str]:
    return re.findall(r'<(?:link|script)\b[^>]*?(?:href|src)="(/[^"]+)"', html)


def decoded(body: bytes, encoding: str | None) -> str:
    import gzip

    import brotli

    if encoding == "br":
        return brotli.decompress(body).decode()
    if encoding == "gzip":
        return gzip.decompress(body).decode()
    return body.decode()


def second_open_in_chromium(base_url: str) -> int | None:
    """Asset requests Chromium makes when the dialog is opened a second time (None: no browser)."""
    if not Path(CHROMIUM).exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context().new_page()
        page.goto(base_url + entry(), wait_until="load")
        before = len(ASSET_REQUESTS)
        page.goto(base_url + entry(), wait_until="load")  # a new signed entry, same profile
        page.wait_for_timeout(300)
        browser.close()
    return len(ASSET_REQUESTS) - before


def second_open_from_headers(cache_controls: list[str]) -> int:
    """Assets a browser must ask for again: those not marked fresh for a long time."""
    return sum(
        1 for value in cache_controls if "immutable" not in value or "max-age=31536000" not in value
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gitint-bench-weight-") as scratch:
        server, base_url = start(Path(scratch))
        connection = http.client.HTTPConnection(*urlsplit(base_url).netloc.split(":"))
        status, body, headers, wire = fetch(connection, entry())
        assert status == 200, status
        html = decoded(body, headers.get("content-encoding"))
        rows = [("dialog HTML", headers.get("content-encoding", "none"), wire, len(html))]
        cache_controls = []
        for path in assets_of(html):
            status, body, asset_headers, asset_wire = fetch(connection, path)
            assert status == 200, (path, status)
            name = path.rsplit("/", 1)[-1]
            encoding = asset_headers.get("content-encoding", "none")
            rows.append((name, encoding, asset_wire, len(decoded(body, encoding))))
            cache_controls.append(asset_headers.get("cache-control", ""))
        connection.close()
        second = second_open_in_chromium(base_url)
        how = "counted in Chromium"
        if second is None:
            second, how = second_open_from_headers(cache_controls), "from Cache-Control"
        server.shutdown()
    total = sum(row[2] for row in rows)
    print(f"{'first load, over HTTP':40} {'encoding':>8} {'wire':>9} {'decoded':>9}")
    for name, encoding, wire, size in rows:
        print(f"{name:40} {encoding:>8} {wire / 1024:7.1f} KB {size / 1024:7.1f} KB")
    verdict = "ok" if total <= 30 * 1024 else "MISSED"
    print(f"{'total on the wire':40} {'':8} {total / 1024:7.1f} KB   target ≤ 30 KB: {verdict}")
    verdict = "ok" if second == 0 else "MISSED"
    print(f"{'asset requests on the second open':40} {second:>8} ({how})   target 0: {verdict}")


if __name__ == "__main__":
    main()
