"""Delivery: responses compressed (br or gzip, by flask-compress) and static files served under
content-hashed names that browsers keep for a year without asking again (SPEC §5).

``url_for("static", filename="app.css")`` gives ``/static/app.3f2a9c1e07.css``: the hash of
the file's bytes, computed once when the app starts. That name is served with
``Cache-Control: public, max-age=31536000, immutable``; a changed file gets a new name, so a
page never meets a stale asset. The plain name still works (revalidated with an ETag).

Why not Flask-Static-Digest: it writes digested copies into ``static/`` in a separate compile
step, which the README's two commands would have to grow; hashing at start-up needs none.
"""

import hashlib
from pathlib import Path

from flask import Flask, current_app, send_from_directory
from flask_compress import Compress

IMMUTABLE = "public, max-age=31536000, immutable"
YEAR = 31536000
COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
]

compress = Compress()


def hashed_name(name: str, content: bytes) -> str:
    """``dir/app.css`` → ``dir/app.<10 hex digits of sha256>.css``."""
    digest = hashlib.sha256(content).hexdigest()[:10]
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot and "/" not in suffix else f"{name}.{digest}"


def manifest(folder: str) -> dict[str, str]:
    """Every file under ``folder`` (relative, '/'-separated) → its content-hashed name."""
    root = Path(folder)
    return {
        path.relative_to(root).as_posix(): hashed_name(
            path.relative_to(root).as_posix(), path.read_bytes()
        )
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


def _serve_static(filename: str):
    """The static route: a hashed name is served as immutable; any other name as Flask does."""
    real = current_app.extensions["gitint.assets"]["by_hash"].get(filename)
    if real is None:
        response = current_app.send_static_file(filename)
    else:
        response = send_from_directory(current_app.static_folder, real, max_age=YEAR)
        response.headers["Cache-Control"] = IMMUTABLE
    response.direct_passthrough = False
    response.make_sequence()  # small files, read whole: compressed like any answer
    return response


def init_app(app: Flask) -> None:
    names = manifest(app.static_folder)
    app.extensions["gitint.assets"] = {
        "names": names,
        "by_hash": {hashed: name for name, hashed in names.items()},
    }

    @app.url_defaults
    def hashed_static_urls(endpoint, values):
        if endpoint == "static" and values.get("filename") in names:
            values["filename"] = names[values["filename"]]

    app.view_functions["static"] = _serve_static
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)
    compress.init_app(app)
