"""The review queue: flagged cases sorted by score (or any column), filtered, keyboard-driven.

A query value the queue can't use (an unknown state, class or source, a bad date or page,
"from" after "to", a search that can't be read) is left out and named in an error message
above the queue, never silently accepted; the queue is shown without it, with a 400 status.

A search (``?search=``, ``storage.text_search``'s grammar) narrows the cases to those whose
listing's latest version matches, shows each row's matches in a snippet, and writes the
audit row of the search (who, what, how many) every time it runs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, abort, flash, make_response, render_template, request, url_for
from flask import session as cookie
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from review.account import day_start, user_zone
from review.auth import allow, current_user
from review.context import db, now, request_id, writes_when
from review.triage import (
    UNDO_WINDOW,
    check_undo,
    queue_moves,
)
from review.views.ids import number
from review.workflow import (
    DISMISS_REASONS,
    WorkflowError,
)
from storage.cases import SORT_KEYS, CaseFilter, cases_by_id, count_queue
from storage.cluster_queue import count_folded_queue, folded_queue_page
from storage.models import CASE_STATES, User
from storage.notices import rejected_escalations
from storage.saved_filters import saved_filters
from storage.search_snippets import SearchHit, listing_hits
from storage.sources import source_names
from storage.substances import substance_classes
from storage.text_search import SearchSyntaxError, parse_search, record_search
from storage.users import get_user, reviewers

bp = Blueprint("queue", __name__)

PAGE_SIZE = 25
ALL_STATES = "all"
# Where each role starts: analysts triage new cases, legal reviewers decide escalated ones.
DEFAULT_STATE = {"analyst": "new", "legal": "escalated"}
FILTER_KEYS = ("state", "class", "source", "since", "until", "assignee", "search", "sort", "dir")
DIRECTIONS = {"asc": False, "desc": True}
# The direction a column sorts in when its header is first clicked: biggest and newest first.
FIRST_DIRECTION = {"score": "desc", "first_seen": "desc"}
# Where the undo a change offers is kept until the queue shows it (the signed session cookie).
UNDO_KEY = "undo"
# A search that can't be read is shown again in its box: at most this much of it.
MAX_SHOWN_SEARCH_CHARS = 1000


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """The filter of a queue request, the query arguments that reproduce it, what was wrong."""

    filters: CaseFilter
    args: dict[str, str]
    problems: tuple[str, ...] = ()
    search_text: str = ""  # the search as typed, kept in its box even when it can't be read


@dataclass(frozen=True, slots=True)
class BulkRequest:
    """A bulk change the queue asks to confirm, or shows again after a refusal."""

    action: str
    case_ids: tuple[int, ...]
    reason: str = ""
    note: str = ""
    confirm: bool = False


@dataclass(frozen=True, slots=True)
class UndoOffer:
    """The change the queue offers to undo, and for how many more seconds."""

    label: str
    event_ids: tuple[int, ...]
    seconds: int


@dataclass
class _Reader:
    args: MultiDict[str, str]
    problems: list[str] = field(default_factory=list)

    def choice(self, key: str, allowed: Collection[str], what: str, fallback: str) -> str | None:
        text = self.args.get(key, "")
        if not text:
            return None
        if text not in allowed:
            self.problems.append(f"There is no {what} {text[:60]!r}; showing {fallback}.")
            return None
        return text

    def day(self, key: str, label: str) -> date | None:
        text = self.args.get(key, "")
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.problems.append(
                f"“{label}” must be a date such as 2026-11-25, not {text[:40]!r}; it was left out."
            )
            return None


def read_filters(args: MultiDict[str, str], user: User, session: Session) -> QueueQuery:
    """Read the queue's filters and order from query arguments, listing what can't be used."""
    reader = _Reader(args)
    default = DEFAULT_STATE.get(user.role, ALL_STATES)
    state = reader.choice("state", (*CASE_STATES, ALL_STATES), "case state", default) or default
    classes = reader.choice("class", substance_classes(session), "substance class", "any class")
    sources = {source_id for source_id, _name in source_names(session)}
    source_id = reader.choice("source", sources, "source", "every source")
    since, until = reader.day("since", "Flagged from"), reader.day("until", "to")
    if since and until and since > until:
        reader.problems.append(
            f"“Flagged from” ({since}) is after “to” ({until}); the dates were left out."
        )
        since = until = None
    assignee = args.get("assignee", "")
    assignee_id: int | None = None
    if assignee == "me":
        assignee_id = user.id
    elif assignee and assignee != "none":
        found = get_user(session, assignee)
        if found is None:
            reader.problems.append(f"There is no user {assignee[:60]!r}; showing anyone's cases.")
            assignee = ""
        else:
            assignee_id = found.id
    typed = " ".join(args.get("search", "").split())[:MAX_SHOWN_SEARCH_CHARS]
    search = None
    if typed:
        try:
            search = parse_search(typed)
        except SearchSyntaxError as error:
            reader.problems.append(f"Search {typed[:80]!r}: {error} It was left out.")
    sort = reader.choice("sort", SORT_KEYS, "column to sort by", "by score") or ""
    direction = reader.choice("dir", DIRECTIONS, "sort direction", "the usual one") or ""
    zone = user_zone(user)
    filters = CaseFilter(
        state=None if state == ALL_STATES else state,
        substance_class=classes,
        source_id=source_id,
        # Days in the user's zone: "from" its 00:00, "to" until 24:00 of the last day.
        since=day_start(since, zone) if since else None,
        until=day_start(until + timedelta(days=1), zone) if until else None,
        assignee_id=assignee_id,
        unassigned=assignee == "none",
        search=search,
        sort=sort or "score",
        descending=DIRECTIONS[direction or FIRST_DIRECTION.get(sort or "score", "asc")],
    )
    values = {
        "state": state,
        "class": classes or "",
        "source": source_id or "",
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
        "assignee": assignee,
        "search": search.text if search else "",
        "sort": sort,
        "dir": direction,
    }
    kept = {key: values[key] for key in FILTER_KEYS if values[key] and key != "state"}
    kept["state"] = state
    return QueueQuery(filters, kept, tuple(reader.problems), typed)


def query_string(query: QueueQuery) -> str:
    """Return the query string of the filters and order the queue read (a saved filter's)."""
    return urlencode(query.args)


def parse_filters(args: MultiDict[str, str], user: User, session: Session) -> QueueQuery:
    """Read the queue's filters from query arguments; a value that can't be used is a 400."""
    query = read_filters(args, user, session)
    if query.problems:
        abort(400, description=query.problems[0])
    return query


def _page(text: str) -> tuple[int | None, str]:
    """Return the page asked for (None: past any page) and what was wrong with it."""
    if not text:
        return 1, ""
    if not text.isascii() or not text.isdigit() or not text.strip("0"):
        return 1, f"Pages are numbered from 1, not {text[:40]!r}; showing the first page."
    return number(text), ""


def _sort_headers(query: QueueQuery) -> dict[str, tuple[str, str]]:
    """Return each sortable column's link and its ``aria-sort`` value ("" when not sorted)."""
    filters = query.filters
    headers = {}
    for key in SORT_KEYS:
        if key == filters.sort:
            state = "descending" if filters.descending else "ascending"
            direction = "asc" if filters.descending else "desc"
        else:
            state, direction = "", FIRST_DIRECTION.get(key, "asc")
        args: dict[str, Any] = {**query.args, "sort": key, "dir": direction}
        headers[key] = (url_for("queue.index", **args), state)
    return headers


def offer_undo(label: str, event_ids: list[int]) -> None:
    """Keep a change's undo for the queue to show (the next page of the queue shows it)."""
    cookie[UNDO_KEY] = {"label": label, "events": event_ids}


def clear_undo() -> None:
    """Offer no undo any more (it was used, or refused)."""
    cookie.pop(UNDO_KEY, None)


def _undo_offer(session: Session, user: User) -> UndoOffer | None:
    kept = cookie.get(UNDO_KEY)
    if not isinstance(kept, dict):
        return None
    ids = tuple(i for i in kept.get("events", ()) if isinstance(i, int))
    moment = now()
    try:
        events = check_undo(session, ids, actor=user, now=moment)
    except WorkflowError:
        cookie.pop(UNDO_KEY, None)
        return None
    left = min(event.at + UNDO_WINDOW - moment for event in events)
    return UndoOffer(str(kept.get("label", "")), ids, max(1, int(left.total_seconds())))


def render_queue(
    args: MultiDict[str, str],
    here: str,
    *,
    status: int = 200,
    bulk: BulkRequest | None = None,
    filter_name: str = "",
) -> Response:
    """Render the queue ``args`` select, with the bulk change to confirm or show again.

    ``filter_name``: the name typed into "Save this filter as…", when saving it was refused.
    """
    session = db()
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    query = read_filters(args, user, session)
    problems = list(query.problems)
    page, problem = _page(args.get("page", ""))
    if problem:
        problems.append(problem)
    total = count_queue(session, query.filters)
    # One row per cluster of near-duplicates (storage.cluster_queue): pages count rows.
    rows_total = count_folded_queue(session, query.filters)
    pages = max(1, -(-rows_total // PAGE_SIZE))
    if page is None or page > pages:
        asked = args.get("page", "")[:40]
        problems.append(f"There is no page {asked}; this is the last one, page {pages}.")
        page = pages
    for message in problems:
        flash(message, "error")
    rows = folded_queue_page(session, query.filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    cases = [row.summary for row in rows]
    by_id = cases_by_id(session, [c.case_id for c in cases])
    moves = queue_moves(session, list(by_id.values()), user)
    hits: dict[int, SearchHit] = {}
    search = query.filters.search
    if search is not None:
        found = listing_hits(session, [case.listing_id for case in by_id.values()], search)
        hits = {i: found[case.listing_id] for i, case in by_id.items() if case.listing_id in found}
        others = {key: value for key, value in query.args.items() if key != "search"}
        record_search(
            session,
            search,
            where="queue",
            results=total,
            now=now(),
            filters=others,
            actor=user,
            request_id=request_id(),
        )
        # Only the search's audit row is pending: the callers that re-show the queue after a
        # refused change rolled it back or had changed nothing.
        session.commit()
    page_html = render_template(
        "queue.html",
        cases=cases,
        moves=moves,
        query=query,
        args=query.args,
        state=query.args["state"],
        states=(*CASE_STATES, ALL_STATES),
        classes=substance_classes(session),
        sources=source_names(session),
        people=reviewers(session),
        page=page,
        pages=pages,
        total=total,
        rows_total=rows_total,
        clusters={row.summary.case_id: row for row in rows if row.folded},
        first_rank=(page - 1) * PAGE_SIZE + 1,
        dismiss_reasons=DISMISS_REASONS,
        sort_headers=_sort_headers(query),
        bulk=bulk,
        selected=set(bulk.case_ids) if bulk else set(),
        titles={c.case_id: c.title for c in cases},
        hits=hits,
        undo=_undo_offer(session, user),
        rejected=rejected_escalations(session, user.id),
        undo_seconds=int(UNDO_WINDOW.total_seconds()),
        here=here,
        saved_filters=saved_filters(session, user.id),
        saved_query=query_string(query),
        filter_name=filter_name,
    )
    bad_value = bool(query.problems) or bool(problem)
    return make_response(page_html, 400 if bad_value and status == 200 else status)


def queue_args(target: str) -> MultiDict[str, str]:
    """Return the query arguments of a queue URL (the ``next`` of a form posted from it)."""
    return MultiDict(parse_qsl(urlsplit(target).query, keep_blank_values=True))


def _searching() -> bool:
    return bool(request.args.get("search", "").strip())


@bp.get("/")
@allow("analyst", "legal")
@writes_when(_searching)
def index() -> Response:
    """List the cases the filters select, highest score first, a page at a time."""
    return render_queue(request.args, request.full_path.rstrip("?"))
