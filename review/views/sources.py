"""Sources: approval state, legal basis and how the last crawls went; approve and suspend.

Approving and suspending go through ``review.sources``, as ``synthwatch sources
approve|suspend`` do: only an active legal user approves (with a legal basis),
a legal or admin user suspends (with a reason); each is an audit row. The page shows each
source's whole scope and its fingerprint, and the approve form sends that fingerprint back,
so an approval covers the scope the reviewer read or is refused.
"""

from __future__ import annotations

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
from werkzeug.wrappers import Response

from review.auth import allow, current_user
from review.context import db, now, request_id
from review.errors import ApprovalError, NotFoundError
from review.sources import approve_source, source_scope, suspend_source
from storage import crawl_stats
from storage.models import User
from storage.sources import source_overviews

bp = Blueprint("sources", __name__)

MAX_TEXT = 2000
# The scope as the page lists it, in this order, with these labels.
SCOPE_LABELS = {
    "seeds": "Seeds",
    "sitemaps": "Sitemaps",
    "search_templates": "Search templates",
    "allowed_domains": "Domains",
}
# The crawl stats worth a column; every refusal reason is summed as "refused".
SHOWN_STATS = {
    "pages": crawl_stats.PAGES_FETCHED,
    "new": crawl_stats.LISTINGS_NEW,
    "changed": crawl_stats.LISTINGS_CHANGED,
    "flagged": crawl_stats.FLAGGED,
    "blocked": crawl_stats.BLOCKED,
    "errors": crawl_stats.ERRORS,
}


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


def run_numbers(stats: dict[str, object]) -> dict[str, int]:
    """Return the numbers of a crawl run's stats that the sources page shows."""
    numbers = {name: _int(stats.get(key)) for name, key in SHOWN_STATS.items()}
    numbers["refused"] = sum(
        _int(value) for key, value in stats.items() if key.startswith(crawl_stats.REFUSED_PREFIX)
    )
    return numbers


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def scope_rows(config: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """Return a source's scope as (key, label, values) rows, every part present."""
    scope = source_scope(config)
    return [(key, label, scope[key]) for key, label in SCOPE_LABELS.items()]


@bp.get("/sources")
@allow("analyst", "legal", "admin")
def index() -> str:
    """List the sources with approval state, legal basis, last crawl and recent errors."""
    user = _user()
    return render_template(
        "sources.html",
        overviews=source_overviews(db()),
        run_numbers=run_numbers,
        scope_rows=scope_rows,
        can_approve=user.role == "legal",
        can_suspend=user.role in ("legal", "admin"),
    )


def _text(name: str) -> str:
    text = request.form.get(name, "").strip()
    if len(text) > MAX_TEXT:
        abort(400, description=f"{name} is longer than {MAX_TEXT} characters")
    return text


@bp.post("/sources/<source_id>/approve")
@allow("legal")
def approve(source_id: str) -> Response:
    """Approve a source's current scope with a legal basis."""
    user = _user()
    session = db()
    try:
        approve_source(
            session,
            source_id=source_id,
            approver=user,
            legal_basis=_text("basis"),
            fingerprint=_text("fingerprint"),
            now=now(),
            request_id=request_id(),
        )
    except NotFoundError as error:
        abort(404, description=str(error))
    except ApprovalError as error:
        return _again(str(error))
    session.commit()
    flash(f"Source {source_id} approved for the scope shown.")
    return redirect(url_for("sources.index"))


@bp.post("/sources/<source_id>/suspend")
@allow("legal", "admin")
def suspend(source_id: str) -> Response:
    """Stop a source from being crawled until it is approved again."""
    user = _user()
    session = db()
    try:
        suspend_source(
            session,
            source_id=source_id,
            actor=user,
            reason=_text("reason"),
            now=now(),
            request_id=request_id(),
        )
    except NotFoundError as error:
        abort(404, description=str(error))
    except ApprovalError as error:
        return _again(str(error))
    session.commit()
    flash(f"Source {source_id} suspended.")
    return redirect(url_for("sources.index"))


def _again(message: str) -> Response:
    """Show the sources page again with the message: a bad form value changes nothing."""
    db().rollback()
    flash(message)
    return make_response(index(), 400)
