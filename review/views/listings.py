"""Every listing, flagged or not: the listings page, one listing's page, and opening a case
for a listing the scorer did not flag (``review.workflow.open_case_by_hand``).

The listings page's search (``?search=``, ``storage.text_search``'s grammar) is full text over
each listing's latest version; each row shows a snippet of its matches, and every search that
runs writes its audit row (who, what, how many). ``?q=`` stays a substring of title or URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from review.auth import allow, current_user, record_denial
from review.context import db, now, request_id, writes, writes_when
from review.views.cases import ReasonLine, capture_page, describe_reason, version_view
from review.views.ids import number
from review.workflow import (
    MAX_OPEN_REASON_CHARS,
    CaseExists,
    NoteRequired,
    NotPermitted,
    WorkflowError,
    open_case_by_hand,
)
from storage.listing_search import ListingFilter, count_listings, listings_page
from storage.listings import get_listing
from storage.models import Listing, User
from storage.search_snippets import listing_hits
from storage.sources import source_names
from storage.text_search import SearchSyntaxError, parse_search, record_search

bp = Blueprint("listings", __name__)

PAGE_SIZE = 25
TOP_REASONS = 3
MAX_SEARCH_CHARS = 200
# A full-text search that can't be read is shown again in its box: at most this much of it.
MAX_SHOWN_SEARCH_CHARS = 1000
# The scorer's constant first term (nlp.scoring): on every listing alike, so it explains none.
BASELINE_REASON = "baseline"
FLAG_CHOICES: dict[str, bool | None] = {"": None, "flagged": True, "unflagged": False}
CASE_CHOICES: dict[str, bool | None] = {"": None, "with": True, "without": False}


@dataclass(frozen=True, slots=True)
class ListingsQuery:
    """The filter of a listings request, the arguments that reproduce it, and what was refused."""

    filters: ListingFilter
    args: dict[str, str]
    errors: list[str]
    search_text: str = ""  # the full-text search as typed, kept even when it can't be read


def parse_listing_filters(args: MultiDict[str, str], source_ids: set[str]) -> ListingsQuery:
    """Read the listings page's filters; a bad value is left out and named in ``errors``."""
    errors: list[str] = []
    kept: dict[str, str] = {}
    source = args.get("source", "")
    if source and source not in source_ids:
        errors.append(f"There is no source {source[:64]!r}: showing every source.")
        source = ""
    flag, case = args.get("flag", ""), args.get("case", "")
    if flag not in FLAG_CHOICES:
        errors.append(f"Flag must be flagged or unflagged, not {flag[:40]!r}.")
        flag = ""
    if case not in CASE_CHOICES:
        errors.append(f"Case must be with or without, not {case[:40]!r}.")
        case = ""
    text = " ".join(args.get("q", "").split())
    if len(text) > MAX_SEARCH_CHARS:
        errors.append(f"Search for at most {MAX_SEARCH_CHARS} characters, not {len(text)}.")
        text = ""
    typed = " ".join(args.get("search", "").split())[:MAX_SHOWN_SEARCH_CHARS]
    search = None
    if typed:
        try:
            search = parse_search(typed)
        except SearchSyntaxError as error:
            errors.append(f"Search {typed[:80]!r}: {error} It was left out.")
    searched = search.text if search else ""
    kept_values = (("source", source), ("flag", flag), ("case", case), ("q", text))
    for key, value in (*kept_values, ("search", searched)):
        if value:
            kept[key] = value
    filters = ListingFilter(
        source_id=source or None,
        flagged=FLAG_CHOICES[flag],
        has_case=CASE_CHOICES[case],
        text=text or None,
        search=search,
    )
    return ListingsQuery(filters, kept, errors, typed)


def _weight(reason: Any) -> float:
    weight = reason.get("weight") if isinstance(reason, dict) else None
    return abs(weight) if isinstance(weight, int | float) else 0.0


def top_reasons(reasons: Sequence[Any], limit: int = TOP_REASONS) -> list[ReasonLine]:
    """Return the stored reasons that moved a score most, strongest first."""
    kept = [r for r in reasons if not (isinstance(r, dict) and r.get("text") == BASELINE_REASON)]
    return [describe_reason(r) for r in sorted(kept, key=_weight, reverse=True)[:limit]]


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


def _searching() -> bool:
    return bool(request.args.get("search", "").strip())


@bp.get("/listings")
@allow("analyst", "legal")
@writes_when(_searching)
def index() -> Response:
    """List every listing the filters select, flagged or not, highest score first."""
    session = db()
    sources = source_names(session)
    query = parse_listing_filters(request.args, {source_id for source_id, _name in sources})
    errors = list(query.errors)
    text = request.args.get("page") or "1"
    page = number(text) or 0
    if page < 1:
        errors.append(f"Pages are numbered from 1, not {text[:40]!r}: showing page 1.")
        page = 1
    total = count_listings(session, query.filters)
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        errors.append(f"There is no page {page}: the last is page {pages}.")
        page = pages
    rows = listings_page(session, query.filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    search = query.filters.search
    hits = {}
    if search is not None:
        hits = listing_hits(session, [row.listing_id for row in rows], search)
        others = {key: value for key, value in query.args.items() if key != "search"}
        record_search(
            session,
            search,
            where="listings",
            results=total,
            now=now(),
            filters=others,
            actor=_user(),
            request_id=request_id(),
        )
        session.commit()
    for error in errors:
        flash(error, "error")
    page_html = render_template(
        "listings.html",
        rows=rows,
        reasons={row.listing_id: top_reasons(row.reasons) for row in rows},
        args=query.args,
        search_text=query.search_text,
        hits=hits,
        sources=sources,
        page=page,
        pages=pages,
        total=total,
    )
    return make_response(page_html, 400 if errors else 200)


def _listing(listing_id: int) -> Listing:
    listing = get_listing(db(), listing_id)
    if listing is None or not listing.versions:
        abort(404, description=f"there is no listing {listing_id}")
    return listing


def _listing_page(listing: Listing, reason: str = "") -> str:
    return render_template(
        "listing.html",
        **version_view(listing, f"listing {listing.id}"),
        case=listing.case,
        reason=reason,
        max_reason=MAX_OPEN_REASON_CHARS,
    )


@bp.get("/listings/<int:listing_id>")
@allow("analyst", "legal")
def detail(listing_id: int) -> str:
    """Show a listing as the case page does, with its case or the form to open one."""
    return _listing_page(_listing(listing_id))


@bp.get("/listings/<int:listing_id>/captures/<int:capture_id>")
@allow("analyst", "legal")
@writes
def capture(listing_id: int, capture_id: int) -> Response:
    """Serve a captured page of the listing as inert HTML for its page's sandboxed frame."""
    listing = _listing(listing_id)
    name = f"listing {listing_id}"
    return capture_page(listing.id, capture_id, name, {"listing_id": listing.id})


@bp.post("/listings/<int:listing_id>/case")
@allow("analyst")
def open_case(listing_id: int) -> Response:
    """Open a ``new`` case for a listing that has none, with the reason the form gives."""
    user = _user()
    reason = request.form.get("reason", "")
    session = db()
    try:
        case = open_case_by_hand(
            session, listing_id, actor=user, now=now(), reason=reason, request_id=request_id()
        )
    except NoteRequired as error:
        # A bad form value: the listing page again, with the message and the reason typed.
        session.rollback()
        flash(f"No case was opened: {error}.", "error")
        return make_response(_listing_page(_listing(listing_id), reason), 400)
    except CaseExists as error:
        # Someone opened one first: that case is where the analyst wanted to go.
        session.rollback()
        flash(f"No case was opened: {error}.", "error")
        existing = _listing(listing_id).case
        if existing is None:
            return redirect(url_for("listings.detail", listing_id=listing_id))
        return redirect(url_for("cases.detail", case_id=existing.id))
    except WorkflowError as error:
        session.rollback()
        if isinstance(error, NotPermitted):
            record_denial(user, str(error))
        abort(error.status, description=str(error))
    session.commit()
    flash(f"Case {case.id} opened for listing {listing_id}.", "success")
    return redirect(url_for("cases.detail", case_id=case.id))
