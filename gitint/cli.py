"""The ``flask --app app gitint`` command group. Secrets come from stdin, never from arguments."""

import click
from flask import current_app
from flask.cli import with_appcontext

from .crypto import key_file, load_keyring, new_key_text, rotate_all
from .extensions import db


@click.group()
def gitint():
    """gitint administration commands."""


@gitint.command("rotate-keys")
@click.option(
    "--new-key",
    is_flag=True,
    help="Add a fresh key to instance/secret-keys first (only when GITINT_SECRET_KEYS is unset).",
)
@with_appcontext
def rotate_keys(new_key: bool):
    """Re-encrypt every stored secret under the newest key, in one transaction."""
    if new_key:
        if current_app.config["GITINT_SECRET_KEYS"].strip():
            raise click.UsageError(
                "GITINT_SECRET_KEYS is set: put the new key first in it instead of --new-key."
            )
        path = key_file(current_app.instance_path)
        ring = load_keyring("", current_app.instance_path)
        key_id = f"k{max(int(k[1:]) for k in ring.keys if k[1:].isdigit()) + 1}"
        path.write_text(new_key_text(key_id) + "," + ring.format() + "\n")
        current_app.extensions["gitint.keyring"] = load_keyring("", current_app.instance_path)
    changed, current = rotate_all(db.session)
    db.session.commit()
    primary = current_app.extensions["gitint.keyring"].primary_id
    click.echo(
        f"Re-encrypted {changed} secrets under key {primary}; {current} were already under it."
    )
