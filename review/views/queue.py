"""The review queue: flagged cases sorted by score, filtered, a page at a time, keyboard-driven."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, abort, render_template, request
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from review.auth import allow, current_user
from review.context import db
from review.views.ids import page_arg
from review.workflow import DISMISS_REASONS
from storage.cases import CaseFilter, count_queue, queue_page
from storage.models import CASE_STATES, User
from storage.sources import source_names
from storage.substances import substance_classes
from storage.users import get_user, reviewers

bp = Blueprint("queue", __name__)

PAGE_SIZE = 25
ALL_STATES = "all"
# Where each role starts: analysts triage new cases, legal reviewers decide escalated ones.
DEFAULT_STATE = {"analyst": "new", "legal": "escalated"}
FILTER_KEYS = ("state", "class", "source", "since", "until", "assignee")


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """The filter of a queue request and the query arguments that reproduce it in links."""

    filters: CaseFilter
    args: dict[str, str]


def parse_filters(args: MultiDict[str, str], user: User, session: Session) -> QueueQuery:
    """Read the queue's filters from query arguments; a bad value is a 400."""
    state = args.get("state") or DEFAULT_STATE.get(user.role, ALL_STATES)
    if state != ALL_STATES and state not in CASE_STATES:
        abort(400, description=f"unknown case state {state!r}")
    since, until = _day(args, "since"), _day(args, "until")
    assignee = args.get("assignee", "")
    assignee_id: int | None = None
    if assignee == "me":
        assignee_id = user.id
    elif assignee and assignee != "none":
        found = get_user(session, assignee)
        if found is None:
            abort(400, description=f"unknown assignee {assignee!r}")
        assignee_id = found.id
    filters = CaseFilter(
        state=None if state == ALL_STATES else state,
        substance_class=args.get("class") or None,
        source_id=args.get("source") or None,
        since=datetime.combine(since, time(), UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), UTC) if until else None,
        assignee_id=assignee_id,
        unassigned=assignee == "none",
    )
    kept = {key: args.get(key, "") for key in FILTER_KEYS if args.get(key)}
    kept["state"] = state
    return QueueQuery(filters, kept)


def _day(args: MultiDict[str, str], key: str) -> date | None:
    text = args.get(key, "")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"{key} must be a date such as 2026-11-25, not {text!r}")


@bp.get("/")
@allow("analyst", "legal")
def index() -> str:
    """List the cases the filters select, highest score first, a page at a time."""
    page = page_arg(PAGE_SIZE)
    session = db()
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    query = parse_filters(request.args, user, session)
    total = count_queue(session, query.filters)
    cases = queue_page(session, query.filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "queue.html",
        cases=cases,
        query=query,
        args=query.args,
        state=query.args["state"],
        states=(*CASE_STATES, ALL_STATES),
        classes=substance_classes(session),
        sources=source_names(session),
        people=reviewers(session),
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        first_rank=(page - 1) * PAGE_SIZE + 1,
        dismiss_reasons=DISMISS_REASONS,
        here=request.full_path.rstrip("?"),
    )
