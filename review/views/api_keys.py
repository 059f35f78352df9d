"""My settings' API keys: make one (shown once), and revoke one's own (``storage.api_keys``).

A new key is shown on the page the form's POST answers, never kept in the session cookie (which
is signed, not encrypted) nor sent again: a reload of the settings page shows only its prefix.
Another user's key is a 404, as a missing one. Keys act with their owner's role, so only the
roles the API serves (``review.views.api_requests.API_ROLES``) make them.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from review.auth import allow, current_user
from review.context import db, now, request_id
from review.views.account import settings_page
from review.views.api_requests import API_ROLES
from storage.api_keys import ApiKeyError, create_api_key, own_api_key, revoke_api_key
from storage.models import User

bp = Blueprint("api_keys", __name__)


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


@bp.post("/settings/api-keys")
@allow(*API_ROLES)
def create() -> Response:
    """Make an API key with the name the form gives; the page shows it this once."""
    user = _user()
    session = db()
    name = request.form.get("name", "")
    try:
        key, token = create_api_key(
            session, user, name=name, now=now(), actor=user, request_id=request_id()
        )
    except ApiKeyError as error:
        session.rollback()
        flash(_sentence(str(error)) + ".", "error")
        return make_response(settings_page(key_name=name), 400)
    session.commit()
    flash(f"API key “{key.name}” made. Copy it now: it is not shown again.", "success")
    return make_response(settings_page(new_key=token, new_key_name=key.name), 201)


@bp.post("/settings/api-keys/<int:key_id>/revoke")
@allow(*API_ROLES)
def revoke(key_id: int) -> Response:
    """Revoke one of the user's API keys for good."""
    user = _user()
    session = db()
    key = own_api_key(session, user.id, key_id)
    if key is None:
        abort(404, description=f"you have no API key {key_id}")
    try:
        revoke_api_key(session, key, now=now(), actor=user, request_id=request_id())
    except ApiKeyError as error:
        session.rollback()
        flash(_sentence(str(error)) + ".", "error")
        return redirect(url_for("account.settings"))
    session.commit()
    flash(f"API key “{key.name}” ({key.prefix}) revoked.", "success")
    return redirect(url_for("account.settings"))


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]
