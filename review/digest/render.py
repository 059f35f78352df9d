"""The digest rendered for one reader: subject, HTML part (autoescaped) and plain-text part.

Jinja2 autoescaping is on for the HTML template, so everything scraped (titles, source names,
candidate terms, crawl errors) reaches it escaped; the plain-text part is not HTML and is not
escaped. The subject is built from counts only. ``write_preview`` builds a week's digest and
writes its HTML part to a file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.orm import Session

from review.digest.build import Digest, Reader, build_digest
from review.digest.routes import place_label, place_name
from review.highlight import css_token
from review.labels import class_label
from review.settings import DEFAULT_BASE_URL


def subject_line(digest: Digest, *, reader: Reader | None = None, late: bool = False) -> str:
    """Return the subject of a reader's digest, built from counts only (nothing scraped)."""
    plural = "" if digest.new_cases == 1 else "s"
    subject = f"SynthWatch {digest.week}: {digest.new_cases} new flagged listing{plural}"
    if reader is not None and (waiting := len(digest.waiting_for(reader))):
        subject += f", {waiting} waiting for your decision"
    return f"[late] {subject}" if late else subject


def format_age(age: timedelta | None) -> str:
    """Return an age as days and hours, e.g. ``3 days 4 h``."""
    if age is None:
        return "-"
    hours = max(0, int(age.total_seconds() // 3600))
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} day{'' if days == 1 else 's'} {hours} h"
    return f"{hours} h"


@cache
def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("review", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["css_token"] = css_token
    env.filters["age"] = format_age
    env.filters["class_label"] = class_label
    env.filters["place_name"] = place_name
    env.filters["place_label"] = place_label
    return env


def _context(digest: Digest, reader: Reader | None, late_due: datetime | None) -> dict[str, object]:
    waiting = digest.waiting_for(reader)
    return {
        "d": digest,
        "reader": reader,
        "waiting": waiting,
        "waiting_ages": [
            format_age(digest.generated_at - w.escalated_at) if w.escalated_at else "-"
            for w in waiting
        ],
        "late_due": late_due,
    }


def render_html(
    digest: Digest, *, reader: Reader | None = None, late_due: datetime | None = None
) -> str:
    """Render the digest as an HTML e-mail body (autoescaped); the chart is a ``data:`` URI."""
    template = _environment(autoescape=True).get_template("digest/digest.html")
    return template.render(_context(digest, reader, late_due))


def render_text(
    digest: Digest, *, reader: Reader | None = None, late_due: datetime | None = None
) -> str:
    """Render the digest as the plain-text part of the e-mail."""
    template = _environment(autoescape=False).get_template("digest/digest.txt")
    return template.render(_context(digest, reader, late_due))


def write_preview(
    session: Session,
    path: Path,
    *,
    now: datetime,
    week: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    reader: Reader | None = None,
) -> Path:
    """Write the HTML digest of a week to ``path`` and return the path.

    Without a reader the preview shows every section, the legal reviewers' one included.
    """
    digest = build_digest(session, week=week, now=now, base_url=base_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(digest, reader=reader), encoding="utf-8")
    return path
