"""Configuration from the environment (SPEC §3)."""

import os
from pathlib import Path


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable: 1/true/yes/on."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_uri(url: str) -> str:
    """SQLAlchemy's URI for DATABASE_URL; PostgreSQL goes through psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def from_environment(instance_path: str) -> dict:
    """The app's settings, each read from the variable SPEC §3 names."""
    default_db = "sqlite:///" + str(Path(instance_path) / "gitint.sqlite")
    database = database_uri(os.environ.get("DATABASE_URL", default_db))
    return {
        "SQLALCHEMY_DATABASE_URI": database,
        # a server may drop a pooled connection (restart, idle timeout): ping it on checkout; a
        # SQLite file cannot, and the ping would be one more round trip on every request
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": not database.startswith("sqlite")},
        "GITINT_SECRET_KEYS": os.environ.get("GITINT_SECRET_KEYS", ""),
        "GITINT_BASE_URL": os.environ.get("GITINT_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "GITINT_DEV": env_flag("GITINT_DEV"),
        "GITINT_ALLOW_PRIVATE_HOSTS": env_flag("GITINT_ALLOW_PRIVATE_HOSTS"),
        "GITINT_INSTALL_KEYS_URL": os.environ.get(
            "GITINT_INSTALL_KEYS_URL", "https://connect-install-keys.atlassian.com"
        ),
        # Forge (SPEC §3): off unless the app's ARI is set
        "GITINT_FORGE_APP_ID": os.environ.get("GITINT_FORGE_APP_ID", "").strip() or None,
        "GITINT_FORGE_JWKS_URL": os.environ.get(
            "GITINT_FORGE_JWKS_URL",
            "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json",
        ),
        "GITINT_FORGE_ENVIRONMENT_ID": os.environ.get("GITINT_FORGE_ENVIRONMENT_ID", "").strip()
        or None,
        # the task queue (gitint/queue.py): SQLite in instance/ unless redis://…; immediate
        # (tasks run inline, no consumer) defaults to on under TESTING
        "GITINT_QUEUE_URL": os.environ.get("GITINT_QUEUE_URL", "").strip()
        or "sqlite:///" + str(Path(instance_path) / "queue.sqlite"),
        "GITINT_QUEUE_NAME": os.environ.get("GITINT_QUEUE_NAME", "gitint"),
        "GITINT_QUEUE_IMMEDIATE": None,
        "GITINT_SYNC_LEASE": float(os.environ.get("GITINT_SYNC_LEASE", "60")),  # seconds
        "MAX_CONTENT_LENGTH": 1024 * 1024,  # request bodies; larger ones are a 413 unread
        "MAX_FORM_MEMORY_SIZE": 1024 * 1024,  # one form field may use all of it (Flask: 500 kB)
        "WTF_CSRF_ENABLED": False,  # the context-token header is the CSRF defence (SPEC §4)
    }
