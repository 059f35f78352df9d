"""Changes to cases, all through ``review.workflow``: transitions, bulk changes, assigning, undo,
and comments (``review.comments``).

Every view here answers a POST (with its CSRF token) and sends the browser back to the page it
came from. A quick decision made from the queue is offered for undo there ("Case 12 confirmed
· Undo"); elsewhere it is a flashed message. A bulk change is confirmed first; a bulk form
that can't be carried out shows the queue again with the reason and the selection kept. Any
other refusal is an error page with the workflow's reason; one for lack of rights is also an
audit row.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NoReturn
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from review.auth import allow, current_user, record_denial, safe_next
from review.comments import BadComment, comment_on_case
from review.context import db, now, request_id
from review.triage import (
    ASSIGN_MOVE,
    UNDOABLE,
    check_move,
    last_changes,
    take_many,
    transition_many,
    undo,
)
from review.views import cases
from review.views.cases import Typed
from review.views.ids import bounded
from review.views.queue import BulkRequest, clear_undo, offer_undo, queue_args, render_queue
from review.workflow import (
    NoteRequired,
    NotPermitted,
    Unassignable,
    WorkflowError,
    assign,
    transition,
)
from storage.models import CASE_STATES, User
from storage.users import get_user

bp = Blueprint("actions", __name__)

MAX_BULK = 200
# What each bulk button does: the move it makes and how the message says it.
BULK_MOVES = {"confirm": "confirmed", "dismiss": "dismissed", "assign": ASSIGN_MOVE}
BULK_DONE = {"confirm": "confirmed", "dismiss": "dismissed", "assign": "assigned to you"}


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


def _note() -> str:
    """Return the note of a form: a reason picked from the list, free text, or both."""
    picked = request.form.get("reason", "").strip()
    # A textarea posts its line breaks as CRLF; counted and kept as one character each.
    written = request.form.get("note", "").replace("\r\n", "\n").strip()
    return " — ".join(part for part in (picked, written) if part)


def _target(default: str) -> str:
    return safe_next(request.form.get("next")) or default


def _refuse(error: WorkflowError, user: User) -> NoReturn:
    db().rollback()
    if isinstance(error, NotPermitted):
        record_denial(user, str(error))
    abort(error.status, description=str(error))


def _done(message: str, event_ids: list[int], target: str) -> Response:
    """Send the browser back; offer the undo of the change, which the queue shows."""
    if event_ids:
        offer_undo(message, event_ids)
    if not event_ids or urlsplit(target).path != url_for("queue.index"):
        flash(f"{message}.", "success")
    return redirect(target)


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
        decision = transition(
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
        flash(str(error), "error")
        typed = Typed(note_for=to_state, note=request.form.get("note", ""))
        return make_response(cases.case_page(case_id, typed), 400)
    except WorkflowError as error:
        _refuse(error, user)
    undoable = (decision.from_state, decision.to_state) in UNDOABLE
    events = last_changes(session, [case_id]) if undoable else []
    session.commit()
    target = _target(url_for("cases.detail", case_id=case_id))
    return _done(f"Case {case_id} {to_state}", events, target)


@bp.post("/cases/bulk")
@allow("analyst", "legal")
def bulk() -> Response:
    """Confirm, dismiss (with one reason) or take the selected cases: all of them or none.

    The first post shows the queue asking to confirm; the confirmation posts ``confirmed=1``.
    """
    user = _user()
    ids = tuple(dict.fromkeys(bounded(v, "a case id") for v in request.form.getlist("case_ids")))
    if len(ids) > MAX_BULK:
        abort(400, description=f"at most {MAX_BULK} cases at a time")
    action = request.form.get("action", "")
    if action not in BULK_MOVES:
        abort(400, description=f"unknown bulk action {action[:40]!r}")
    target = _target(url_for("queue.index"))
    form = request.form
    asked = BulkRequest(action, ids, form.get("reason", ""), form.get("note", "")[:4000])
    if not ids:
        flash("Select at least one case first (the boxes in the first column).", "error")
        return render_queue(queue_args(target), target, status=400, bulk=asked)
    session = db()
    note = _note() if action == "dismiss" else ""
    try:
        for case_id in ids:
            check_move(session, case_id, BULK_MOVES[action], actor=user, note=note)
    except NoteRequired:
        flash("Dismissing needs a reason: pick one from the list or write one.", "error")
        return render_queue(queue_args(target), target, status=400, bulk=asked)
    except NotPermitted as error:
        _refuse(error, user)
    except WorkflowError as error:
        flash(f"Nothing was changed: {error}.", "error")
        return render_queue(queue_args(target), target, status=error.status, bulk=asked)
    if form.get("confirmed") != "1":
        return render_queue(queue_args(target), target, bulk=replace(asked, confirm=True))
    try:
        if action == "assign":
            take_many(session, ids, actor=user, now=now(), request_id=request_id())
        else:
            transition_many(
                session,
                ids,
                BULK_MOVES[action],
                actor=user,
                now=now(),
                note=note,
                request_id=request_id(),
            )
    except WorkflowError as error:  # another user acted between the check and now
        session.rollback()
        flash(f"Nothing was changed: {error}.", "error")
        return render_queue(queue_args(target), target, status=error.status, bulk=asked)
    events = last_changes(session, ids)
    session.commit()
    count = f"Case {ids[0]}" if len(ids) == 1 else f"{len(ids)} cases"
    return _done(f"{count} {BULK_DONE[action]}", events, target)


@bp.post("/cases/<int:case_id>/assign")
@allow("analyst", "legal")
def take(case_id: int) -> Response:
    """Assign a case: to the user the form names (``assignee``; empty: nobody), else to the
    signed-in user, or give it back (``release=1``)."""
    user = _user()
    session = db()
    named = "assignee" in request.form
    name = request.form.get("assignee", "").strip()
    if named:
        assignee = get_user(session, name) if name else None
    else:
        assignee = None if request.form.get("release") == "1" else user
    try:
        if named and name and assignee is None:
            raise Unassignable(f"there is no user {name[:64]!r}")
        assign(session, case_id, assignee=assignee, actor=user, now=now(), request_id=request_id())
    except Unassignable as error:
        # A bad form value (a name not in the list, a user disabled since): the page again.
        session.rollback()
        flash(f"Case {case_id} was not assigned: {error}.", "error")
        return make_response(cases.case_page(case_id), 400)
    except WorkflowError as error:
        _refuse(error, user)
    events = last_changes(session, [case_id])
    session.commit()
    target = _target(url_for("cases.detail", case_id=case_id))
    if assignee is None:
        return _done(f"Case {case_id} {'unassigned' if named else 'released'}", events, target)
    if assignee.id == user.id:
        return _done(f"Case {case_id} assigned to you", events, target)
    return _done(f"Case {case_id} assigned to {assignee.username}", events, target)


@bp.post("/cases/<int:case_id>/comments")
@allow("analyst", "legal")
def comment(case_id: int) -> Response:
    """Add the form's comment (``body``) to a case's thread."""
    user = _user()
    body = request.form.get("body", "")
    session = db()
    try:
        added = comment_on_case(
            session, case_id, body, actor=user, now=now(), request_id=request_id()
        )
    except BadComment as error:
        # A bad form value: the case page again, with the message and the text typed.
        session.rollback()
        flash(f"The comment was not added: {error}.", "error")
        return make_response(cases.case_page(case_id, Typed(comment=body)), 400)
    except WorkflowError as error:
        _refuse(error, user)
    session.commit()
    flash("Comment added.", "success")
    return redirect(url_for("cases.detail", case_id=case_id, _anchor=f"comment-{added.id}"))


@bp.post("/cases/undo")
@allow("analyst", "legal")
def undo_change() -> Response:
    """Undo the changes the form names, if the workflow still lets their maker undo them."""
    user = _user()
    event_ids = [bounded(v, "a change id") for v in request.form.getlist("event_ids")[:MAX_BULK]]
    session = db()
    target = _target(url_for("queue.index"))
    try:
        undone = undo(session, event_ids, actor=user, now=now(), request_id=request_id())
    except WorkflowError as error:
        session.rollback()
        if isinstance(error, NotPermitted):
            record_denial(user, str(error))
        clear_undo()
        flash(f"Not undone: {error}.", "error")
        return redirect(target)
    session.commit()
    clear_undo()
    count = f"case {undone[0]} is" if len(undone) == 1 else f"{len(undone)} cases are"
    flash(f"Undone: {count} as before.", "success")
    return redirect(target)
