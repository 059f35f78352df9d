"""Clusters of near-duplicate listings (``storage.clusters``): a cluster's page, deciding all
its cases at once, and splitting a listing out of it.

Deciding a cluster (confirm, dismiss with one reason) moves each of its cases that the
workflow lets move there, through ``review.triage.transition_many``: one decision and one
audit row per case, and the queue offers to undo them together. Cases in other states are
left as they are and named. Splitting (analysts only) takes a listing out for good: a recrawl
never puts it back (``cluster.split`` audit row).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from review.auth import allow, current_user, record_denial, safe_next
from review.context import db, now, request_id
from review.triage import check_move, last_changes, transition_many
from review.views.ids import bounded
from review.views.queue import offer_undo
from review.workflow import (
    DISMISS_REASONS,
    TRANSITIONS,
    NoteRequired,
    NotPermitted,
    WorkflowError,
)
from storage.cases import cases_by_id
from storage.cluster_queue import cluster_view
from storage.clusters import ClusterError, member_cases, split_member
from storage.models import User

bp = Blueprint("clusters", __name__)

# What a whole cluster can be told from the queue or its page: the quick triage decisions.
CLUSTER_MOVES = ("confirmed", "dismissed")
MAX_SPLIT_REASON_CHARS = 500


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


@bp.get("/clusters/<int:cluster_id>")
@allow("analyst", "legal")
def detail(cluster_id: int) -> str:
    """Show a cluster's listings, their cases, and what can be done to them together."""
    session = db()
    view = cluster_view(session, cluster_id)
    if view is None:
        abort(404, description=f"there is no cluster {cluster_id}")
    states = [listing.state for listing in view.listings if listing.state]
    movable = {
        move: sum(1 for state in states if (state, move) in TRANSITIONS) for move in CLUSTER_MOVES
    }
    return render_template(
        "cluster.html",
        view=view,
        movable=movable,
        dismiss_reasons=DISMISS_REASONS,
        here=url_for("clusters.detail", cluster_id=cluster_id),
    )


def _note() -> str:
    picked = request.form.get("reason", "").strip()
    written = request.form.get("note", "").replace("\r\n", "\n").strip()
    return " — ".join(part for part in (picked, written) if part)


@bp.post("/clusters/<int:cluster_id>/transition")
@allow("analyst", "legal")
def change_state(cluster_id: int) -> Response:
    """Move every case of a cluster that can move to the state the form names (``to``)."""
    user = _user()
    to_state = request.form.get("to", "")
    if to_state not in CLUSTER_MOVES:
        abort(400, description=f"a cluster can be {' or '.join(CLUSTER_MOVES)}, not {to_state!r}")
    session = db()
    here = url_for("clusters.detail", cluster_id=cluster_id)
    target = safe_next(request.form.get("next")) or here
    if cluster_view(session, cluster_id) is None:
        abort(404, description=f"there is no cluster {cluster_id}")
    cases = cases_by_id(session, member_cases(session, cluster_id))
    movable = [i for i, case in cases.items() if (case.state, to_state) in TRANSITIONS]
    left = sorted(set(cases) - set(movable))
    note = _note()
    try:
        if not movable:
            flash(f"No case of cluster {cluster_id} can be {to_state} now.", "error")
            return redirect(target)
        for case_id in movable:
            check_move(session, case_id, to_state, actor=user, note=note)
        transition_many(
            session,
            movable,
            to_state,
            actor=user,
            now=now(),
            note=note,
            request_id=request_id(),
        )
    except NoteRequired:
        session.rollback()
        flash("Dismissing needs a reason: pick one from the list or write one.", "error")
        return redirect(target)
    except NotPermitted as error:
        session.rollback()
        record_denial(user, str(error))
        abort(error.status, description=str(error))
    except WorkflowError as error:  # another user acted meanwhile
        session.rollback()
        flash(f"Nothing was changed: {error}.", "error")
        return redirect(target)
    events = last_changes(session, movable)
    session.commit()
    count = f"case {movable[0]}" if len(movable) == 1 else f"{len(movable)} cases"
    message = f"Cluster {cluster_id}: {count} {to_state}"
    if left:
        message += f" (left as they were: {', '.join(f'case {i}' for i in left)})"
    if target.split("?", 1)[0] == url_for("queue.index"):
        offer_undo(message, events)
    else:
        flash(f"{message}.", "success")
    return redirect(target)


@bp.post("/clusters/<int:cluster_id>/split")
@allow("analyst")
def split(cluster_id: int) -> Response:
    """Take the form's listing (``listing_id``) out of a cluster for good."""
    user = _user()
    listing_id = bounded(request.form.get("listing_id", ""), "listing_id")
    reason = request.form.get("reason", "").strip()
    if len(reason) > MAX_SPLIT_REASON_CHARS:
        abort(400, description=f"the reason has at most {MAX_SPLIT_REASON_CHARS} characters")
    session = db()
    try:
        split_member(
            session,
            cluster_id,
            listing_id,
            actor=user,
            now=now(),
            reason=reason,
            request_id=request_id(),
        )
    except ClusterError as error:
        session.rollback()
        abort(404, description=str(error))
    session.commit()
    flash(f"Listing {listing_id} split from cluster {cluster_id}; it won't rejoin it.", "success")
    return redirect(url_for("clusters.detail", cluster_id=cluster_id))
