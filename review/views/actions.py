"""Changes to cases, all through ``review.workflow``: transitions, bulk dismiss, taking a case.

Every view here answers a POST (with its CSRF token) and sends the browser back to the page it
came from. A refusal is an error page with the workflow's reason; one for lack of rights is
also an audit row.
"""

from __future__ import annotations

from typing import NoReturn

from flask import Blueprint, abort, flash, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from review.auth import allow, current_user, record_denial, safe_next
from review.context import db, now, request_id
from review.views import cases
from review.views.ids import bounded
from review.workflow import (
    NoteRequired,
    NotPermitted,
    WorkflowError,
    assign,
    dismiss_many,
    transition,
)
from storage.models import CASE_STATES, User

bp = Blueprint("actions", __name__)

MAX_BULK = 200


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


def _note() -> str:
    """Return the note of a form: a reason picked from the list, free text, or both."""
    picked = request.form.get("reason", "").strip()
    written = request.form.get("note", "").strip()
    return " — ".join(part for part in (picked, written) if part)


def _back(default: str) -> Response:
    return redirect(safe_next(request.form.get("next")) or default)


def _refuse(error: WorkflowError, user: User) -> NoReturn:
    db().rollback()
    if isinstance(error, NotPermitted):
        record_denial(user, str(error))
    abort(error.status, description=str(error))


@bp.post("/cases/<int:case_id>/transition")
@allow("analyst", "legal")
def change_state(case_id: int) -> Response:
    """Move a case to the state the form names."""
    user = _user()
    to_state = request.form.get("to", "")
    if to_state not in CASE_STATES:
        abort(400, description=f"unknown case state {to_state!r}")
    session = db()
    try:
        transition(
            session,
            case_id,
            to_state,
            actor=user,
            now=now(),
            note=_note(),
            request_id=request_id(),
        )
    except NoteRequired as error:
        # A bad form value: the case page again, with the message, its forms ready to retry.
        session.rollback()
        flash(str(error))
        return make_response(cases.detail(case_id), 400)
    except WorkflowError as error:
        _refuse(error, user)
    session.commit()
    flash(f"Case {case_id} is {to_state}.")
    return _back(url_for("cases.detail", case_id=case_id))


@bp.post("/cases/bulk-dismiss")
@allow("analyst")
def bulk_dismiss() -> Response:
    """Dismiss the selected cases with one reason: all of them or none."""
    user = _user()
    ids = [bounded(value, "a case id") for value in request.form.getlist("case_ids")]
    if len(ids) > MAX_BULK:
        abort(400, description=f"at most {MAX_BULK} cases at a time")
    session = db()
    try:
        dismiss_many(session, ids, actor=user, now=now(), note=_note(), request_id=request_id())
    except WorkflowError as error:
        _refuse(error, user)
    session.commit()
    flash(f"{len(set(ids))} cases dismissed.")
    return _back(url_for("queue.index"))


@bp.post("/cases/<int:case_id>/assign")
@allow("analyst", "legal")
def take(case_id: int) -> Response:
    """Assign a case to the signed-in user, or give it back (``release=1``)."""
    user = _user()
    release = request.form.get("release") == "1"
    session = db()
    try:
        assign(
            session,
            case_id,
            assignee=None if release else user,
            actor=user,
            now=now(),
            request_id=request_id(),
        )
    except WorkflowError as error:
        _refuse(error, user)
    session.commit()
    flash(f"Case {case_id} {'released' if release else 'is yours'}.")
    return _back(url_for("cases.detail", case_id=case_id))
