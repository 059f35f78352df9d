"""Downloads: the queue's cases as CSV, JSON or STIX 2.1, a confirmed case as a MISP event,
and a case's referral package.

Each download writes an audit row (who exported what, with which filters) before it is sent.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, request
from werkzeug.wrappers import Response

from review.auth import allow, current_user
from review.context import db, now, request_id, review_context, writes
from review.exports import cases_csv, cases_json
from review.misp import NotShareable, misp_event
from review.referral import ReferralError, build_package
from review.signing import load_signing_key
from review.stix import stix_bundle
from review.views.queue import parse_filters
from storage.audit import append_event
from storage.cases import cases_with_details, queue_case_ids
from storage.models import User

bp = Blueprint("exports", __name__)

# An export is a download, not a bulk copy of the database.
MAX_EXPORT_CASES = 5000
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "stix": ("application/stix+json;version=2.1", "stix.json"),
}


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


@bp.get("/exports/cases.<fmt>")
@allow("analyst", "legal")
@writes
def cases(fmt: str) -> Response:
    """Export the cases the queue's filters select (all pages) in one format."""
    if fmt not in FORMATS:
        abort(404, description=f"no export format {fmt!r}; use csv, json or stix")
    user = _user()
    session = db()
    query = parse_filters(request.args, user, session)
    moment = now()
    selected = cases_with_details(
        session, queue_case_ids(session, query.filters, limit=MAX_EXPORT_CASES)
    )
    if fmt == "csv":
        body = cases_csv(selected)
    elif fmt == "json":
        body = cases_json(selected, now=moment, filters=query.args)
    else:
        body = json.dumps(stix_bundle(selected, now=moment), ensure_ascii=False, indent=2)
    append_event(
        session,
        action="export.cases",
        object_type="export",
        object_id=fmt,
        actor=user,
        now=moment,
        request_id=request_id(),
        detail={"format": fmt, "filters": query.args, "cases": [c.id for c in selected]},
    )
    session.commit()
    mimetype, suffix = FORMATS[fmt]
    return _download(body.encode(), mimetype, f"synthwatch-cases-{moment:%Y%m%dT%H%M%SZ}.{suffix}")


@bp.get("/cases/<int:case_id>/misp.json")
@allow("analyst", "legal")
@writes
def misp(case_id: int) -> Response:
    """Export a confirmed case as a MISP event (JSON), with an audit row."""
    user = _user()
    session = db()
    found = cases_with_details(session, [case_id])
    if not found:
        abort(404, description=f"no case {case_id}")
    try:
        event = misp_event(found[0])
    except NotShareable as error:
        abort(409, description=str(error))
    moment = now()
    append_event(
        session,
        action="export.misp",
        object_type="case",
        object_id=str(case_id),
        actor=user,
        now=moment,
        request_id=request_id(),
        detail={"format": "misp", "event_uuid": event["Event"]["uuid"]},
    )
    session.commit()
    body = json.dumps(event, ensure_ascii=False, indent=2).encode()
    return _download(body, "application/json", f"synthwatch-case-{case_id}.misp.json")


@bp.get("/cases/<int:case_id>/referral.zip")
@allow("analyst", "legal")
@writes
def referral(case_id: int) -> Response:
    """Build, sign and send the referral package of an approved case."""
    user = _user()
    settings = review_context().settings
    if settings.signing_key is None:
        abort(503, description="referral packages need SYNTHWATCH_SIGNING_KEY; see the README")
    session = db()
    try:
        package = build_package(
            session,
            case_id,
            home=settings.evidence,
            signing_key=load_signing_key(settings.signing_key),
            actor=user,
            now=now(),
            request_id=request_id(),
        )
    except ReferralError as error:
        session.rollback()
        abort(409, description=str(error))
    session.commit()
    return _download(package.data, "application/zip", package.filename)


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
