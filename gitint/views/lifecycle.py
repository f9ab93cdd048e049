"""The Connect side: the app descriptor and the signed installed/uninstalled callbacks."""

from flask import Blueprint, current_app, jsonify, request

from ..extensions import db
from ..jira import lifecycle
from ..jira.descriptor import descriptor
from ..jira.jwt import JWTRejected
from .common import json_body

bp = Blueprint("lifecycle", __name__)


@bp.get("/atlassian-connect.json")
def app_descriptor():
    """The Connect descriptor Jira Cloud installs the app from."""
    return jsonify(descriptor(current_app.config["GITINT_BASE_URL"]))


def _verified_payload() -> dict:
    """The callback's JSON body, once its signature, audience, issuer and qsh are verified.

    An unsigned callback is refused before its body is read; a body that is not a JSON object
    is a 400 (InvalidInstall), one over MAX_CONTENT_LENGTH a 413.
    """
    lifecycle.callback_token(request.headers.get("Authorization"))
    payload = json_body()
    if not isinstance(payload, dict):
        raise lifecycle.InvalidInstall("the body must be a JSON object")
    client_key = payload.get("clientKey")
    lifecycle.verify_callback(
        request.headers.get("Authorization"),
        client_key if isinstance(client_key, str) else "",
        method=request.method,
        path=request.path,
        query=list(request.args.items(multi=True)),
        base_url=current_app.config["GITINT_BASE_URL"],
        keys_url=current_app.config["GITINT_INSTALL_KEYS_URL"],
    )
    return payload


def _refused(error: Exception):
    if isinstance(error, JWTRejected):
        return jsonify(error=f"Unauthorized: {error}"), 401
    if isinstance(error, lifecycle.KeyServiceUnavailable):
        return jsonify(error=f"Try again later: {error}"), 503
    return jsonify(error=str(error)), 400


@bp.post("/lifecycle/installed")
def installed():
    """Register (or re-register, with a new shared secret) a Jira Cloud site."""
    try:
        payload = _verified_payload()
        lifecycle.install(payload, allow_private=current_app.config["GITINT_ALLOW_PRIVATE_HOSTS"])
    except (JWTRejected, lifecycle.KeyServiceUnavailable, lifecycle.InvalidInstall) as error:
        db.session.rollback()
        return _refused(error)
    db.session.commit()
    return "", 204


@bp.post("/lifecycle/uninstalled")
def uninstalled():
    """Mark a Jira Cloud site as uninstalled (its tokens stop working; its data is kept)."""
    try:
        payload = _verified_payload()
    except (JWTRejected, lifecycle.KeyServiceUnavailable, lifecycle.InvalidInstall) as error:
        return _refused(error)
    lifecycle.uninstall(payload["clientKey"])
    db.session.commit()
    return "", 204
