"""One case: the marked-up text, the score, versions and their diff, listings sharing a contact,
the decisions, the comment thread, the evidence and its check, and the sandboxed captured page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, render_template
from werkzeug.wrappers import Response

from review.auth import allow, current_user
from review.capture_html import inert_page
from review.comments import MAX_COMMENT_CHARS
from review.context import db, now, request_id, review_context, writes
from review.diff import TextDiff, text_diff
from review.highlight import PAGE_CHARS, clip, highlight, indicator_span, mention_span, text_parts
from review.links import safe_href
from review.misp import SHAREABLE_STATES
from review.security import capture_headers
from review.views.ids import id_arg
from review.workflow import (
    ASSIGNABLE_STATES,
    DISMISS_REASONS,
    MAX_NOTE_CHARS,
    TRANSITIONS,
    allowed_transitions,
    escalated_by,
)
from storage.audit import append_event, case_audit
from storage.cases import get_case
from storage.comments import case_comments
from storage.listings import (
    found_span_count,
    listing_capture,
    listing_version,
    shared_identifier_listings,
)
from storage.models import Case, Listing, ListingVersion
from storage.users import reviewers
from storage.warc import read_capture

bp = Blueprint("cases", __name__)

# Shown first, in this order; any other extracted field follows by name.
KNOWN_FIELDS = ("price", "currency", "quantity", "seller", "posted", "location", "shipping")


@dataclass(frozen=True, slots=True)
class Typed:
    """What a user typed into a form of the case page that was refused, to show it again."""

    note_for: str = ""  # the state whose form the note was typed into
    note: str = ""
    comment: str = ""


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


def _diff(previous: ListingVersion | None, version: ListingVersion) -> TextDiff | None:
    """Return the word diff from the previous version, or None when there is none to show.

    Texts longer than one part of the page are not compared: the diff shows the whole text.
    """
    if previous is None or max(len(previous.text), len(version.text)) > PAGE_CHARS:
        return None
    return text_diff(previous.text, version.text)


def _case(case_id: int) -> Case:
    case = get_case(db(), case_id)
    if case is None or not case.listing.versions:
        abort(404, description=f"there is no case {case_id}")
    return case


def version_view(listing: Listing, name: str) -> dict[str, Any]:
    """Return what a page shows of a listing's version (the latest, or ``?version=``).

    The text part asked for (``?part=``) marked up, the diff from the previous version, the
    score's reasons, the fields, the evidence and its check, and the listings sharing an
    identifier. ``name`` ("case 3", "listing 7") names the page in its 404s.
    """
    session = db()
    version = listing.versions[-1]
    version_id = id_arg("version")
    if version_id is not None:
        chosen = listing_version(session, listing.id, version_id)
        if chosen is None:
            abort(404, description=f"{name} has no version {version_id}")
        version = chosen
    position = listing.versions.index(version)
    previous = listing.versions[position - 1] if position > 0 else None
    parts = text_parts(version.text)
    number = id_arg("part") or 1
    if number > len(parts):
        abort(404, description=f"version {version.id} has parts 1 to {len(parts)}")
    part = parts[number - 1]
    spans = [mention_span(m) for m in version.mentions]
    spans += [indicator_span(i) for i in version.indicators]
    capture = version.capture
    return {
        "listing": listing,
        "version": version,
        "latest": listing.versions[-1],
        "previous": previous,
        "diff": _diff(previous, version),
        "part": part,
        "marked_text": highlight(version.text[part.start : part.end], clip(spans, part)),
        "stored_spans": len(spans),
        "found_spans": found_span_count(version),
        "reasons": [describe_reason(r) for r in version.reasons],
        "fields": field_rows(version.fields),
        "listing_href": safe_href(listing.url),
        "capture": capture,
        "check": read_capture(review_context().settings.evidence, capture),
        "shared": shared_identifier_listings(session, listing.id),
    }


@bp.get("/cases/<int:case_id>")
@allow("analyst", "legal")
def detail(case_id: int) -> str:
    """Show a case with its listing's latest version, or the version asked for."""
    return case_page(case_id)


def case_page(case_id: int, typed: Typed = Typed()) -> str:
    """Render the case page, its forms holding what ``typed`` says was typed into them."""
    session = db()
    user = current_user()
    assert user is not None
    case = _case(case_id)
    escalator = escalated_by(session, case.id)
    return render_template(
        "case.html",
        **version_view(case.listing, f"case {case_id}"),
        case=case,
        decisions=case.decisions,
        comments=case_comments(session, case.id),
        history=case_audit(session, case.id),
        typed=typed,
        max_note=MAX_NOTE_CHARS,
        max_comment=MAX_COMMENT_CHARS,
        can_assign=case.state in ASSIGNABLE_STATES,
        people=reviewers(session),
        transitions=allowed_transitions(session, case, user),
        notes={to: rule.note for (since, to), rule in TRANSITIONS.items() if since == case.state},
        escalator=escalator,
        dismiss_reasons=DISMISS_REASONS,
        can_refer=case.state in ("approved", "referred"),
        shareable_states=SHAREABLE_STATES,
        signing_configured=review_context().settings.signing_key is not None,
    )


@bp.get("/cases/<int:case_id>/captures/<int:capture_id>")
@allow("analyst", "legal")
@writes
def capture(case_id: int, capture_id: int) -> Response:
    """Serve a captured page of the case as inert HTML for the case page's sandboxed frame."""
    case = _case(case_id)
    return capture_page(case.listing_id, capture_id, f"case {case_id}", {"case_id": case.id})


def capture_page(listing_id: int, capture_id: int, name: str, detail: dict[str, Any]) -> Response:
    """Answer with one capture of a listing as inert HTML, and audit the view (``detail``)."""
    session = db()
    found = listing_capture(session, listing_id, capture_id)
    if found is None:
        abort(404, description=f"{name} has no capture {capture_id}")
    record = read_capture(review_context().settings.evidence, found)
    user = current_user()
    append_event(
        session,
        action="evidence.viewed",
        object_type="capture",
        object_id=found.id,
        actor=user,
        now=now(),
        request_id=request_id(),
        detail={**detail, "status": record.status},
    )
    session.commit()
    if record.payload is None:
        body = render_template("capture_missing.html", capture=found, check=record)
    else:
        body = inert_page(record.payload, record.content_type or found.content_type, url=found.url)
    response = Response(body, mimetype="text/html")
    response.headers.update(capture_headers())
    return response
