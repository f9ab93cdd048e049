"""Git host webhooks: ``POST /webhooks/<public id>`` (no Jira token: the host signs instead).

The handler only verifies, records and enqueues (gitint/webhooks.py); the queue applies.
"""

from flask import Blueprint, jsonify, request

from .. import webhooks

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/<public_id>")
def deliver(public_id: str):
    """One delivery from a git host: 202 queued, 200 nothing to do, 401 not verified."""
    receipt = webhooks.receive(
        public_id, request.headers, request.get_data(cache=False), request.content_type or ""
    )
    response = jsonify(message=receipt.message)
    if receipt.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="gitint webhooks"'
    return response, receipt.status
