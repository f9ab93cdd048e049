"""Health check, migrations on an empty database, and the rotate-keys command."""

import os
import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from gitint.crypto import KeyRing, load_keyring, unseal
from gitint.extensions import db
from tests.conftest import _reset_schema


def test_healthz_checks_the_database(client):
    """Does /healthz answer ok when the database answers?"""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_broken_database(app, client, monkeypatch):
    """Does /healthz answer 503 when the database fails?"""

    def broken(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(db.session, "execute", broken)
    assert client.get("/healthz").status_code == 503


def test_migrations_upgrade_an_empty_database(app):
    """Does `flask db upgrade` create every table on an empty database (this run's engine)?"""
    _reset_schema()
    assert "tenants" not in inspect(db.engine).get_table_names()
    upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _compared(thing, name, kind, reflected, compare_to) -> bool:
    """What alembic can compare: not SQLite's FTS5 table and its shadow tables (outside the
    models' metadata), not PostgreSQL's expression indexes (it skips them in the models but
    reflects them); the test checks the FTS5 objects by name, the indexes by their definitions."""
    if kind == "table":
        return not name.startswith("repositories_search")
    if name in SQLITE_ONLY_INDEXES:  # the models create it on SQLite only (ddl_if)
        return db.engine.dialect.name == "sqlite"
    return name not in EXPRESSION_INDEXES


EXPRESSION_INDEXES = (  # gitint/search.py's (the two after_slash ones on SQLite too)
    "ix_repositories_tenant_search_c",
    "ix_repositories_search_trgm",
    "ix_repositories_after_slash",
    "ix_repositories_after_slash_2",
    "ix_repositories_deep_search_trgm",
)
SQLITE_ONLY_INDEXES = ("ix_repositories_deep",)
SQLITE_SEGMENT_INDEXES = ("ix_repositories_after_slash", "ix_repositories_after_slash_2")


def _expression_indexes() -> dict[str, str]:
    """The search's expression indexes of this run's database, each as the database states it
    (SQLite: the statement that made it)."""
    if db.engine.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        wanted = (*SQLITE_SEGMENT_INDEXES, *SQLITE_ONLY_INDEXES)
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'repositories'"
        wanted = EXPRESSION_INDEXES
    with db.engine.connect() as connection:
        rows = connection.execute(text(query))
        return {name: definition for name, definition in rows if name in wanted}


def test_migrations_make_the_schema_the_models_describe(app):
    """Do the migrations end where the models are — no column, index or constraint missing or
    left over (alembic's own comparison) — and with the search index's database objects?"""
    _reset_schema()
    upgrade()
    with db.engine.connect() as connection, warnings.catch_warnings():
        # alembic cannot compare expression indexes (PostgreSQL's search indexes) and says so
        warnings.filterwarnings("ignore", "autogenerate skipping", UserWarning)
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", Warning)
        context = MigrationContext.configure(connection, opts={"include_object": _compared})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
    inspector = inspect(db.engine)
    if db.engine.dialect.name == "sqlite":
        assert "repositories_search" in inspector.get_table_names()
        with db.engine.connect() as connection:
            triggers = connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars()
            assert {"repositories_search_insert", "repositories_search_delete"} <= set(triggers)
    # each expression index as the models create it, as the database states it
    migrated = _expression_indexes()
    _reset_schema()
    db.create_all()
    assert migrated == _expression_indexes()
    if db.engine.dialect.name == "sqlite":
        assert set(migrated) == {*SQLITE_SEGMENT_INDEXES, *SQLITE_ONLY_INDEXES}
    else:
        assert set(migrated) == set(EXPRESSION_INDEXES)


def test_rotate_keys_command(app, runner, make_tenant, make_integration, make_credential):
    """Does `gitint rotate-keys` re-encrypt under the newest key and no-op when re-run?"""
    credential = make_credential(make_integration(make_tenant()), "alice", secret="ghp_alice1")
    old = app.extensions["gitint.keyring"]
    app.extensions["gitint.keyring"] = KeyRing([("t9", os.urandom(32)), *old.keys.items()])
    result = runner.invoke(args=["gitint", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 3 secrets under key t9" in result.output
    db.session.expire_all()
    assert credential.ciphertext.startswith("t9:") and unseal(credential) == "ghp_alice1"
    again = runner.invoke(args=["gitint", "rotate-keys"])
    assert "Re-encrypted 0 secrets" in again.output


def test_rotate_keys_new_key_in_instance_file(app, runner, make_tenant, tmp_path):
    """With the instance key file, does --new-key add a key and re-encrypt under it?"""
    app.config["GITINT_SECRET_KEYS"] = ""
    app.instance_path = str(tmp_path)
    app.extensions["gitint.keyring"] = load_keyring("", str(tmp_path))  # creates k1
    tenant = make_tenant()
    assert tenant.shared_secret_ct.startswith("k1:")
    result = runner.invoke(args=["gitint", "rotate-keys", "--new-key"])
    assert result.exit_code == 0, result.output
    assert "under key k2" in result.output
    assert (tmp_path / "secret-keys").read_text().startswith("k2:")
    db.session.expire_all()
    assert tenant.shared_secret_ct.startswith("k2:")


def test_log_records_are_redacted_whatever_the_logger(app, caplog):
    """Is a token in any logger's message (werkzeug request line, library) redacted?"""
    import logging

    with caplog.at_level(logging.INFO):
        logging.getLogger("werkzeug").info(
            '"GET /dialogs/create-branch?issueKey=DEV-1&jwt=eyJhbGciOi.abc.def HTTP/1.1"'
        )
        logging.getLogger("urllib3").info("Authorization: Bearer ghp_canary1234567890abcdef")
    assert "eyJhbGciOi" not in caplog.text and "ghp_canary" not in caplog.text
    assert "[REDACTED]" in caplog.text


def test_tracebacks_and_bare_bearer_values_are_redacted(app, caplog):
    """Is a token inside an exception's traceback, or after a bare "Bearer", redacted?"""
    import logging

    with caplog.at_level(logging.ERROR):
        try:
            raise ValueError("Invalid header value b'Bearer ghp_tracebackcanary0001\\n'")
        except ValueError:
            logging.getLogger("gitint").exception("request failed")
    assert "tracebackcanary" not in caplog.text and "[REDACTED]" in caplog.text
