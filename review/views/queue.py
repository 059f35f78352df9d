"""The review queue: flagged cases of one state, highest score first."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from review.auth import allow
from review.context import db
from storage.models import CASE_STATES, ROLES
from storage.queries import case_summaries
from storage.repository import count_cases

bp = Blueprint("queue", __name__)

PAGE_SIZE = 25
ALL_STATES = "all"


@bp.get("/")
@allow(*ROLES)
def index() -> str:
    """List the cases of the chosen state (``new`` by default), a page at a time."""
    state = request.args.get("state", "new")
    if state != ALL_STATES and state not in CASE_STATES:
        abort(400, description=f"unknown case state {state!r}")
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(400, description="pages are numbered from 1")
    state_filter = None if state == ALL_STATES else state
    session = db()
    total = count_cases(session, state=state_filter)
    cases = case_summaries(
        session, state=state_filter, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "queue.html",
        cases=cases,
        state=state,
        states=(*CASE_STATES, ALL_STATES),
        page=page,
        pages=pages,
        total=total,
        first_rank=(page - 1) * PAGE_SIZE + 1,
    )
