"""One case: the listing's text with its mentions and indicators marked, the score, the evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, render_template, request

from review.auth import allow
from review.context import db
from review.highlight import highlight, indicator_span, mention_span
from review.links import safe_href
from storage.models import ROLES
from storage.queries import listing_version
from storage.repository import get_case

bp = Blueprint("cases", __name__)

# Shown first, in this order; any other extracted field follows by name.
KNOWN_FIELDS = ("price", "currency", "quantity", "seller", "posted", "location", "shipping")


@dataclass(frozen=True, slots=True)
class ReasonLine:
    """One reason behind a score: what the scorer saw and what it added (or took away)."""

    text: str
    weight: str


def describe_reason(reason: Any) -> ReasonLine:
    """Return a stored reason (``{"text": ..., "weight": ...}``) ready to show."""
    if not isinstance(reason, dict):
        return ReasonLine(str(reason), "")
    weight = reason.get("weight")
    shown = f"{weight:+.2f}" if isinstance(weight, int | float) else ""
    return ReasonLine(text=str(reason.get("text", "")), weight=shown)


def field_rows(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """Return extracted fields as (name, text) rows, the well-known ones first."""
    names = [n for n in KNOWN_FIELDS if n in fields]
    names += sorted(n for n in fields if n not in KNOWN_FIELDS)
    return [(name, _format_value(fields[name])) for name in names]


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


@bp.get("/cases/<int:case_id>")
@allow(*ROLES)
def detail(case_id: int) -> str:
    """Show a case with its listing's latest version, or the version asked for."""
    session = db()
    case = get_case(session, case_id)
    if case is None or not case.listing.versions:
        abort(404, description=f"there is no case {case_id}")
    listing = case.listing
    version = listing.versions[-1]
    version_id = request.args.get("version", type=int)
    if version_id is not None:
        chosen = listing_version(session, listing.id, version_id)
        if chosen is None:
            abort(404, description=f"case {case_id} has no version {version_id}")
        version = chosen
    spans = [mention_span(m) for m in version.mentions]
    spans += [indicator_span(i) for i in version.indicators]
    return render_template(
        "case.html",
        case=case,
        listing=listing,
        version=version,
        latest=listing.versions[-1],
        marked_text=highlight(version.text, spans),
        reasons=[describe_reason(r) for r in version.reasons],
        fields=field_rows(version.fields),
        listing_href=safe_href(listing.url),
        capture=version.capture,
    )
