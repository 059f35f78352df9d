"""The human-readable report of a referral package: ``report.html``, one self-contained page.

It shows the listing, its text with the substances and indicators marked, the reasons behind
the score with their weights, the decisions (who, when, on what basis), the captures, and the
SHA-256 of every other file in the package. Everything scraped is escaped by Jinja2's
autoescaping; the page loads nothing and runs nothing: its styles are inline and its Content
Security Policy admits that one style block by its hash, no script, image or form.

No PDF: fpdf2, the pure-Python candidate, draws only the characters of the fonts it embeds, so
faithful output of scraped text in any script needs a Unicode font shipped with us and, for
right-to-left and joined scripts, HarfBuzz (a C extension) — a PDF that silently drops the
invisible or foreign characters a listing hides behind would be worse evidence than none.
Any browser prints report.html to PDF.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from review.exports import prices, seller_identifiers
from review.highlight import Span, highlight, indicator_span, mention_span
from review.invisible import INVISIBLE_MARK, invisible_count, mark_invisible, visible_text
from review.labels import class_label
from storage.models import Capture, Case

REPORT = "report.html"
_TEMPLATE = "referral/report.html"
_STYLE = "referral/report.css"
# Each group of review.exports.seller_identifiers: what the report calls it, the part it shows.
_IDENTIFIER_GROUPS = {
    "handles": ("handle", "handle"),
    "phones": ("phone", "number"),
    "emails": ("e-mail", "address"),
    "wallets": ("wallet", "address"),
}


@dataclass(frozen=True, slots=True)
class PackageFile:
    """A file of the package as the report lists it."""

    path: str
    sha256: str
    size: int


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("review", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _style() -> tuple[Markup, str]:
    """Return the report's CSS and its CSP source expression (``'sha256-...'``)."""
    loader = _environment().loader
    assert loader is not None
    css = loader.get_source(_environment(), _STYLE)[0].strip()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode("ascii")
    # Our own file, shown as is: inside <style> an escaped quote would be CSS, not a quote.
    return Markup(css), f"sha256-{digest}"


def _reason(reason: Any) -> tuple[str, str]:
    if not isinstance(reason, dict):
        return str(reason), ""
    weight = reason.get("weight")
    shown = f"{weight:+.2f}" if isinstance(weight, int | float) else ""
    return str(reason.get("text", "")), shown


def _field(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def render_report(
    case: Case,
    captures: list[Capture],
    *,
    files: list[PackageFile],
    created_at: datetime,
    created_by: str,
    fingerprint: str,
    package_format: str,
    capture_files: dict[int, str],
) -> bytes:
    """Return report.html of a case's package.

    ``files`` are the package's other files; ``capture_files`` names each capture's file.
    """
    listing = case.listing
    version = listing.versions[-1]
    spans: list[Span] = [mention_span(m) for m in version.mentions]
    spans += [indicator_span(i) for i in version.indicators]
    identifiers = [
        (_IDENTIFIER_GROUPS[group][0], entry[_IDENTIFIER_GROUPS[group][1]], entry["key"])
        for group, entries in seller_identifiers(version).items()
        for entry in entries
    ]
    style, style_hash = _style()
    page = (
        _environment()
        .get_template(_TEMPLATE)
        .render(
            case=case,
            listing=listing,
            source=listing.source,
            version=version,
            versions=listing.versions,
            captures=captures,
            title=visible_text(version.title) or f"listing {listing.id}",
            title_hidden=invisible_count(version.title),
            title_marked=mark_invisible(version.title),
            fields=[(name, _field(value)) for name, value in sorted(version.fields.items())],
            identifiers=identifiers,
            prices=prices(version),
            # One mark for one invisible character, so the spans' offsets still hold.
            marked_text=highlight(mark_invisible(version.text), spans),
            reasons=[_reason(r) for r in version.reasons],
            decisions=case.decisions,
            files=files,
            created_at=created_at.isoformat(),
            created_by=created_by,
            fingerprint=fingerprint,
            package_format=package_format,
            mark=INVISIBLE_MARK,
            marked=mark_invisible,
            visible=visible_text,
            class_label=class_label,
            capture_files=capture_files,
            style=style,
            style_hash=style_hash,
        )
    )
    return page.encode("utf-8")
