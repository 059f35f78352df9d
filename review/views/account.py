"""My settings: the time zone times are shown in, and the queue filters a user saved.

The rules are ``review.account``'s. A saved filter is the queue's query string as the queue read
it (``review.views.queue.read_filters``), so it holds only known filter and sort keys with
values the queue accepts; it is opened through its id, and only by the user who saved it.
A refused form (an unknown zone, a name empty, too long or taken) is shown again with the
reason and a 400; nothing changed.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from review.account import (
    AccountError,
    delete_filter,
    local_time,
    own_filter,
    query_terms,
    save_filter,
    set_time_zone,
    user_zone,
    zone_names,
)
from review.auth import allow, current_user, safe_next
from review.context import db, now, request_id
from review.errors import NotFoundError
from review.views.api_requests import API_ROLES
from review.views.queue import query_string, read_filters, render_queue
from storage.api_keys import api_keys_of
from storage.models import User
from storage.saved_filters import saved_filters

bp = Blueprint("account", __name__)

# Who works the queue, and so has filters to save.
QUEUE_ROLES = ("analyst", "legal")


def shown_time(moment: datetime) -> str:
    """Show a stored UTC time in the signed-in user's zone (the ``local_time`` filter)."""
    return local_time(moment, user_zone(g.get("user")))


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


@bp.get("/settings")
@allow("analyst", "legal", "admin")
def settings() -> str:
    """Show the user's time zone, to change it, and their saved filters, to delete them."""
    return settings_page()


def settings_page(**shown: object) -> str:
    """Render the settings page; ``shown``: a new API key and its name, or the name refused."""
    user = _user()
    can_save = user.role in QUEUE_ROLES
    can_use_api = user.role in API_ROLES
    keys = {
        "api_keys": api_keys_of(db(), user.id) if can_use_api else [],
        "new_key": "",
        "new_key_name": "",
        "key_name": "",
    }
    return render_template(
        "account.html",
        zones=zone_names(),
        chosen=user_zone(user).key,
        moment=now(),
        can_save=can_save,
        filters=saved_filters(db(), user.id) if can_save else [],
        query_terms=query_terms,
        can_use_api=can_use_api,
        **(keys | shown),
    )


@bp.post("/settings/time-zone")
@allow("analyst", "legal", "admin")
def set_zone() -> Response:
    """Show the user's times in the zone they picked from now on."""
    user = _user()
    session = db()
    name = request.form.get("time_zone", "")
    try:
        set_time_zone(session, user, name, now=now(), request_id=request_id())
    except AccountError as error:
        return _again(str(error))
    session.commit()
    flash(f"Times are shown in {name} now.", "success")
    return redirect(url_for("account.settings"))


@bp.post("/filters")
@allow(*QUEUE_ROLES)
def save() -> Response:
    """Save the queue's current filter and order under a name, then show the queue with it."""
    user = _user()
    session = db()
    name = request.form.get("name", "")
    args = MultiDict(parse_qsl(request.form.get("query", ""), keep_blank_values=True))
    query = read_filters(args, user, session)
    here = f"{url_for('queue.index')}?{query_string(query)}"
    try:
        if query.problems:
            raise AccountError("this filter has values the queue can't use; nothing was saved")
        saved = save_filter(
            session,
            user,
            name=name,
            query=query_string(query),
            now=now(),
            request_id=request_id(),
        )
    except AccountError as error:
        session.rollback()
        flash(_sentence(str(error)), "error")
        return render_queue(args, here, status=400, filter_name=name)
    session.commit()
    flash(f"Filter “{saved.name}” saved.", "success")
    return redirect(here)


@bp.get("/filters/<int:filter_id>")
@allow(*QUEUE_ROLES)
def open_filter(filter_id: int) -> Response:
    """Show the queue with one of the user's saved filters."""
    try:
        saved = own_filter(db(), _user(), filter_id)
    except NotFoundError as error:
        abort(404, description=_sentence(str(error)) + ".")
    return redirect(f"{url_for('queue.index')}?{saved.query}")


@bp.post("/filters/<int:filter_id>/delete")
@allow(*QUEUE_ROLES)
def delete(filter_id: int) -> Response:
    """Delete one of the user's saved filters."""
    session = db()
    try:
        name = delete_filter(session, _user(), filter_id, now=now(), request_id=request_id())
    except NotFoundError as error:
        abort(404, description=_sentence(str(error)) + ".")
    session.commit()
    flash(f"Saved filter “{name}” deleted.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("account.settings"))


def _again(message: str) -> Response:
    """Show the settings page again with the message: nothing changed."""
    db().rollback()
    flash(_sentence(message), "error")
    return make_response(settings_page(), 400)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]
