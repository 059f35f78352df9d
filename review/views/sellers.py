"""Sellers (``storage.sellers``): the list, one seller's page, the common values left out of
linking, a seller as a MISP event, and an analyst's merge, split and their undo.

Analysts and legal reviewers read; only analysts change sellers, each change a POST (with its
CSRF token) that writes a ``SellerChange`` and an audit row and can be undone from the seller
page. A seller merged into another answers with the other's page.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from nlp import key_kind
from review.auth import allow, current_user
from review.context import db, now, request_id, writes
from review.misp import SHAREABLE_STATES, NotShareable, seller_event
from review.views.ids import bounded, page_arg
from storage.audit import append_event
from storage.cases import cases_with_details
from storage.models import Seller, User
from storage.seller_changes import (
    SellerChangeRefused,
    merge_sellers,
    split_identifier,
    undo_change,
)
from storage.seller_pages import (
    common_identifiers,
    seller_profile,
    seller_summaries,
    sellers_of_listing,
)
from storage.sellers import active_seller

bp = Blueprint("sellers", __name__)

READ_ROLES = ("analyst", "legal")
PAGE_SIZE = 50
MAX_SEARCH_CHARS = 200
MAX_NOTE_CHARS = 2000
KIND_LABELS = {"handle": "handle", "phone": "phone", "email": "e-mail", "wallet": "wallet"}


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


def identifier_label(key: str) -> str:
    """Return how a page names an identifier key: "phone +447700900482", "telegram bluecedar"."""
    prefix, _, value = key.partition(":")
    kind = key_kind(key)
    return f"{KIND_LABELS[kind] if kind in ('phone', 'email') else prefix} {value}"


@bp.app_template_global("sellers_of_listing")
def listing_sellers(listing_id: int) -> list[Seller]:
    """Return the sellers of a listing, for the links of the case and listing pages."""
    return sellers_of_listing(db(), listing_id)


@bp.get("/sellers")
@allow(*READ_ROLES)
def index() -> str:
    """List the sellers, newest first; ``?q=`` finds those with an identifier containing it."""
    search = request.args.get("q", "").strip()[:MAX_SEARCH_CHARS]
    page = page_arg(PAGE_SIZE)
    summaries, total = seller_summaries(db(), search=search, page=page, page_size=PAGE_SIZE)
    return render_template(
        "sellers.html",
        summaries=summaries,
        total=total,
        search=search,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        label=identifier_label,
    )


@bp.get("/sellers/common")
@allow(*READ_ROLES)
def common() -> str:
    """List the values shared by too many unrelated listings to link any."""
    return render_template(
        "sellers_common.html", rows=common_identifiers(db()), label=identifier_label
    )


def _seller(seller_id: int) -> Seller:
    seller = db().get(Seller, seller_id)
    if seller is None:
        abort(404, description=f"there is no seller {seller_id}")
    return seller


@bp.get("/sellers/<int:seller_id>")
@allow(*READ_ROLES)
def detail(seller_id: int) -> Response | str:
    """Show a seller: identifiers, sites, listings and cases, substances, timeline, changes."""
    seller = _seller(seller_id)
    if seller.merged_into_id is not None:
        current = active_seller(db(), seller_id)
        if current is None:
            abort(404, description=f"seller {seller_id} was merged into a seller that is gone")
        flash(f"Seller {seller_id} was merged into seller {current.id}.", "info")
        return redirect(url_for("sellers.detail", seller_id=current.id))
    profile = seller_profile(db(), seller)
    return render_template(
        "seller.html",
        profile=profile,
        seller=seller,
        label=identifier_label,
        max_note=MAX_NOTE_CHARS,
        shareable=any(item.case_state in SHAREABLE_STATES for item in profile.listings),
    )


@bp.get("/sellers/<int:seller_id>/misp.json")
@allow(*READ_ROLES)
@writes
def misp(seller_id: int) -> Response:
    """Export a seller with a confirmed case as a MISP event (JSON), with an audit row."""
    user = _user()
    session = db()
    seller = _seller(seller_id)
    if seller.merged_into_id is not None:
        abort(404, description=f"seller {seller_id} was merged into seller {seller.merged_into_id}")
    profile = seller_profile(session, seller)
    case_ids = [item.case_id for item in profile.listings if item.case_id is not None]
    keys = [i.key for i in profile.identifiers]
    try:
        event = seller_event(
            seller_id,
            keys,
            cases_with_details(session, case_ids),
            date=profile.first_seen or seller.created_at,
        )
    except NotShareable as error:
        abort(409, description=str(error))
    append_event(
        session,
        action="export.misp",
        object_type="seller",
        object_id=str(seller_id),
        actor=user,
        now=now(),
        request_id=request_id(),
        detail={"format": "misp", "event_uuid": event["Event"]["uuid"]},
    )
    session.commit()
    response = Response(
        json.dumps(event, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    filename = f"synthwatch-seller-{seller_id}.misp.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _note() -> str:
    return request.form.get("note", "").replace("\r\n", "\n").strip()[:MAX_NOTE_CHARS]


def _refused(error: SellerChangeRefused) -> Response:
    db().rollback()
    abort(409, description=str(error))


@bp.post("/sellers/<int:seller_id>/merge")
@allow("analyst")
def merge(seller_id: int) -> Response:
    """Merge the seller the form names (``other``) into this one."""
    other = bounded(request.form.get("other", "").strip(), "the seller to merge")
    session = db()
    try:
        change = merge_sellers(
            session,
            seller_id,
            other,
            actor=_user(),
            now=now(),
            note=_note(),
            request_id=request_id(),
        )
    except SellerChangeRefused as error:
        return _refused(error)
    session.commit()
    flash(f"Seller {other} merged into seller {seller_id}.", "success")
    return redirect(url_for("sellers.detail", seller_id=seller_id, _anchor=f"change-{change.id}"))


@bp.post("/sellers/<int:seller_id>/split")
@allow("analyst")
def split(seller_id: int) -> Response:
    """Take the identifier the form names (``key``) off this seller onto a seller of its own."""
    key = request.form.get("key", "")
    if not key or len(key) > 320:
        abort(400, description="name the identifier to split off (an identifier key)")
    session = db()
    try:
        change = split_identifier(
            session,
            seller_id,
            key,
            actor=_user(),
            now=now(),
            note=_note(),
            request_id=request_id(),
        )
    except SellerChangeRefused as error:
        return _refused(error)
    session.commit()
    flash(f"{key} split off onto seller {change.other_seller_id}.", "success")
    return redirect(url_for("sellers.detail", seller_id=seller_id, _anchor=f"change-{change.id}"))


@bp.post("/sellers/changes/<int:change_id>/undo")
@allow("analyst")
def undo(change_id: int) -> Response:
    """Take back a merge or a split."""
    session = db()
    try:
        change = undo_change(session, change_id, actor=_user(), now=now(), request_id=request_id())
    except SellerChangeRefused as error:
        return _refused(error)
    session.commit()
    flash(f"The {change.kind} of seller change {change_id} was undone.", "success")
    return redirect(url_for("sellers.detail", seller_id=change.seller_id))
