"""Sources: approval state, legal basis and how the last crawls went; approve and suspend.

Approving and suspending go through ``review.sources``, as ``synthwatch sources
approve|suspend`` do: only an active legal user approves (with a legal basis, confirmed with
their password), a legal or admin user suspends (with a reason); each is an audit row. The page
shows each source's whole scope (``review.sources.approval_rows``) and its fingerprint, and the
approve form sends that fingerprint back, so an approval covers the scope the reviewer read or
is refused. A refused form is shown again with the reason, the text typed kept.
"""

from __future__ import annotations

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
from review.sources import (
    approval_rows,
    approve_source,
    check_approval,
    confirm_approver,
    suspend_source,
)
from storage import crawl_stats
from storage.models import User
from storage.sources import source_overviews

bp = Blueprint("sources", __name__)

MAX_TEXT = 2000
WRONG_PASSWORD = (
    "that is not your password, or the account is locked for a while after failed attempts: "
    "nothing was approved"
)
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


@bp.get("/sources")
@allow("analyst", "legal", "admin")
def index() -> str:
    """List the sources with approval state, legal basis, last crawl and recent errors."""
    return _page({})


def _page(kept: dict[str, str]) -> str:
    # ``kept``: the refused form's source id, form name and text, to fill that form again.
    user = _user()
    return render_template(
        "sources.html",
        overviews=source_overviews(db()),
        run_numbers=run_numbers,
        approval_rows=approval_rows,
        can_approve=user.role == "legal",
        can_suspend=user.role in ("legal", "admin"),
        kept=kept,
    )


def _text(name: str, what: str) -> str:
    text = request.form.get(name, "").strip()
    if len(text) > MAX_TEXT:
        raise ApprovalError(f"{what} is longer than {MAX_TEXT} characters; shorten it")
    return text


@bp.post("/sources/<source_id>/approve")
@allow("legal")
def approve(source_id: str) -> Response:
    """Approve a source's current scope with a legal basis, confirmed by the password."""
    user = _user()
    session = db()
    basis = request.form.get("basis", "")
    kept = {"source_id": source_id, "form": "approve", "text": basis}
    try:
        legal_basis = _text("basis", "the legal basis")
        fingerprint = _text("fingerprint", "the fingerprint")
        check_approval(
            session,
            source_id=source_id,
            approver=user,
            legal_basis=legal_basis,
            fingerprint=fingerprint,
        )
        password = request.form.get("password", "")
        if not password:
            raise ApprovalError("type your password to approve this scope")
        confirmed = confirm_approver(
            session,
            username=user.username,
            password=password,
            now=now(),
            request_id=request_id(),
        )
        if confirmed is None:
            session.commit()  # a wrong password counts towards the lockout, as at login
            raise ApprovalError(WRONG_PASSWORD)
        approve_source(
            session,
            source_id=source_id,
            approver=user,
            legal_basis=legal_basis,
            fingerprint=fingerprint,
            now=now(),
            request_id=request_id(),
        )
    except NotFoundError as error:
        abort(404, description=str(error))
    except ApprovalError as error:
        return _again(str(error), kept)
    session.commit()
    flash(f"Source {source_id} approved for the scope shown.", "success")
    return redirect(url_for("sources.index"))


@bp.post("/sources/<source_id>/suspend")
@allow("legal", "admin")
def suspend(source_id: str) -> Response:
    """Stop a source from being crawled until it is approved again."""
    user = _user()
    session = db()
    reason = request.form.get("reason", "")
    try:
        suspend_source(
            session,
            source_id=source_id,
            actor=user,
            reason=_text("reason", "the reason"),
            now=now(),
            request_id=request_id(),
        )
    except NotFoundError as error:
        abort(404, description=str(error))
    except ApprovalError as error:
        return _again(str(error), {"source_id": source_id, "form": "suspend", "text": reason})
    session.commit()
    flash(f"Source {source_id} suspended.", "success")
    return redirect(url_for("sources.index"))


def _again(message: str, kept: dict[str, str]) -> Response:
    """Show the sources page again with the message and the text typed: nothing changed."""
    db().rollback()
    flash(message[:1].upper() + message[1:], "error")
    return make_response(_page(kept), 400)
