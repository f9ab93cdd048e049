"""gitint: create git branches and pull requests from Jira issues."""

from flask import Flask

from . import config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; the body is the table of contents."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(config.from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)
    init_instance(app)
    init_logging(app)
    init_database(app)
    init_keyring(app)
    init_security(app)
    init_queue(app)
    init_delivery(app)
    init_views(app)
    init_cli(app)
    return app


def init_instance(app: Flask) -> None:
    from pathlib import Path

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)


def init_logging(app: Flask) -> None:
    from .logs import install

    install()


def init_database(app: Flask) -> None:
    from .extensions import db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))


def init_keyring(app: Flask) -> None:
    from .crypto import load_keyring

    app.extensions["gitint.keyring"] = load_keyring(
        app.config["GITINT_SECRET_KEYS"], app.instance_path
    )


def init_security(app: Flask) -> None:
    from .jira.context import init_app as init_context

    init_context(app)


def init_queue(app: Flask) -> None:
    from .queue import init_app

    init_app(app)  # Huey: SQLite in instance/, Redis with GITINT_QUEUE_URL, inline when testing


def init_delivery(app: Flask) -> None:
    from .assets import init_app as init_assets

    init_assets(app)


def init_views(app: Flask) -> None:
    from .hosts import web_link
    from .views import admin, dialogs, forge, health, lifecycle, pats, webhooks
    from .views.common import too_large

    app.jinja_env.globals["web_link"] = web_link  # host-supplied URLs: a link, or None for text
    app.register_error_handler(413, too_large)  # a body over MAX_CONTENT_LENGTH, unread
    app.register_blueprint(admin.bp)
    app.register_blueprint(dialogs.bp)
    app.register_blueprint(forge.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(lifecycle.bp)
    app.register_blueprint(pats.bp)
    app.register_blueprint(webhooks.bp)
    if app.config["GITINT_DEV"]:  # the development Jira host exists only in dev
        from .dev import devhost
        from .dev import forge as dev_forge

        app.register_blueprint(devhost.bp)
        app.register_blueprint(dev_forge.bp)  # its Forge mode (platform, bridge, fake Jira REST)


def init_cli(app: Flask) -> None:
    from .cli import gitint

    app.cli.add_command(gitint)
