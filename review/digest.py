"""The weekly digest: what a week brought, built as data and rendered apart from any sending.

Which week: ``week="2026-W48"`` names one ISO week (Monday 00:00 UTC to the next Monday). Without
it the digest covers the ISO week that contains ``now``, up to ``now`` ("week to date"), which is
what a preview or the demo wants. A job that sends the digest of the week that just ended passes
``week=previous_week(now)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.orm import Session

from review.errors import ReviewError, WeekError
from review.highlight import css_token
from review.settings import DEFAULT_BASE_URL
from storage.models import CrawlRun
from storage.queries import (
    SubstanceCount,
    SubstanceTag,
    backlog,
    captures_per_run,
    count_new_cases,
    crawl_runs_between,
    new_case_summaries,
    substance_counts,
)

TOP_CASES = 10
MAX_ERROR_CHARS = 300
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
# A crawl's stats key counts as refused or blocked when its last segment is one of these, e.g.
# ``synthwatch/guard/refused``, ``synthwatch/robots/refused``, Scrapy's ``robotstxt/forbidden``;
# per-reason subkeys (``synthwatch/guard/refused/onion``) are not counted twice.
REFUSED_SEGMENTS = frozenset({"refused", "forbidden"})
BLOCKED_SEGMENTS = frozenset({"blocked"})


@dataclass(frozen=True, slots=True)
class DigestCase:
    """A new flagged listing of the week, with the link that opens its case."""

    case_id: int
    title: str
    score: float
    substances: tuple[SubstanceTag, ...]
    classes: tuple[str, ...]
    source_name: str
    link: str


@dataclass(frozen=True, slots=True)
class SourceActivity:
    """What the crawls of one source did in the week."""

    source_id: str
    source_name: str
    runs: int
    last_status: str
    failed_runs: int
    pages: int
    refused: int
    blocked: int
    errors: tuple[str, ...]

    @property
    def has_problems(self) -> bool:
        """Say whether a run failed or pages were refused or blocked."""
        return bool(self.failed_runs or self.refused or self.blocked)


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything the digest of one ISO week says, ready to render."""

    week: str
    start: datetime
    end: datetime
    generated_at: datetime
    base_url: str
    new_cases: int
    top_cases: tuple[DigestCase, ...]
    substances: tuple[SubstanceCount, ...]
    sources: tuple[SourceActivity, ...]
    backlog: int
    oldest_backlog_age: timedelta | None

    @property
    def week_to_date(self) -> bool:
        """Say whether the week was still running when the digest was built."""
        return self.start <= self.generated_at < self.end

    @property
    def last_day(self) -> datetime:
        """Return the start of the week's last day (its Sunday)."""
        return self.end - timedelta(days=1)

    @property
    def queue_link(self) -> str:
        """Return the link to the review queue."""
        return f"{self.base_url}/"

    @property
    def subject(self) -> str:
        """Return the subject line of the digest's e-mail."""
        plural = "" if self.new_cases == 1 else "s"
        return f"SynthWatch {self.week}: {self.new_cases} new flagged listing{plural}"


# ---------------------------------------------------------------- weeks


def iso_week(moment: datetime) -> str:
    """Return the ISO week of a moment in UTC, such as ``2026-W48``."""
    year, week, _day = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(moment: datetime) -> str:
    """Return the ISO week before the one of ``moment``."""
    return iso_week(moment - timedelta(days=7))


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Return the first moment of an ISO week and of the week after it, in UTC."""
    match = _WEEK.fullmatch(week)
    if match is None:
        raise WeekError(f"week {week!r} is not an ISO week such as 2026-W48")
    try:
        monday = datetime.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as error:
        raise WeekError(f"week {week!r} does not exist: {error}") from error
    start = monday.replace(tzinfo=UTC)
    return start, start + timedelta(days=7)


# ---------------------------------------------------------------- building


def build_digest(
    session: Session,
    *,
    week: str | None,
    now: datetime,
    base_url: str = DEFAULT_BASE_URL,
) -> Digest:
    """Gather the digest of ``week`` (default: the week of ``now``) from the database."""
    if now.tzinfo is None:
        raise ReviewError(f"now={now!r} is naive: pass a timezone-aware UTC time")
    week = week or iso_week(now)
    start, end = week_bounds(week)
    base_url = base_url.rstrip("/")
    top = new_case_summaries(session, start=start, end=end, limit=TOP_CASES)
    waiting = backlog(session, state="new")
    return Digest(
        week=week,
        start=start,
        end=end,
        generated_at=now,
        base_url=base_url,
        new_cases=count_new_cases(session, start=start, end=end),
        top_cases=tuple(
            DigestCase(
                case_id=c.case_id,
                title=c.title,
                score=c.score,
                substances=c.substances,
                classes=tuple(dict.fromkeys(t.substance_class for t in c.substances)),
                source_name=c.source_name,
                link=f"{base_url}/cases/{c.case_id}",
            )
            for c in top
        ),
        substances=tuple(substance_counts(session, start=start, end=end)),
        sources=_source_activity(session, crawl_runs_between(session, start=start, end=end)),
        backlog=waiting.count,
        oldest_backlog_age=(
            now - waiting.oldest_created_at if waiting.oldest_created_at is not None else None
        ),
    )


def _source_activity(session: Session, runs: list[CrawlRun]) -> tuple[SourceActivity, ...]:
    pages = captures_per_run(session, [run.id for run in runs])
    by_source: dict[str, list[CrawlRun]] = {}
    for run in runs:
        by_source.setdefault(run.source_id, []).append(run)
    activity = []
    for source_id, source_runs in by_source.items():
        errors = [
            f"run {r.id}: {r.error[:MAX_ERROR_CHARS]}" for r in source_runs if r.error is not None
        ]
        activity.append(
            SourceActivity(
                source_id=source_id,
                source_name=source_runs[0].source.name,
                runs=len(source_runs),
                last_status=source_runs[-1].status,
                failed_runs=sum(r.status == "failed" for r in source_runs),
                pages=sum(pages.get(r.id, 0) for r in source_runs),
                refused=sum(_stat_total(r.stats, REFUSED_SEGMENTS) for r in source_runs),
                blocked=sum(_stat_total(r.stats, BLOCKED_SEGMENTS) for r in source_runs),
                errors=tuple(errors),
            )
        )
    return tuple(sorted(activity, key=lambda a: (not a.has_problems, a.source_name)))


def _stat_total(stats: dict[str, Any], segments: frozenset[str]) -> int:
    return sum(
        value
        for key, value in stats.items()
        if key.rsplit("/", 1)[-1] in segments
        and isinstance(value, int)
        and not isinstance(value, bool)
    )


# ---------------------------------------------------------------- rendering


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
    return env


def render_html(digest: Digest) -> str:
    """Render the digest as an HTML e-mail body (autoescaped)."""
    return _environment(autoescape=True).get_template("digest/digest.html").render(d=digest)


def render_text(digest: Digest) -> str:
    """Render the digest as the plain-text part of the e-mail."""
    return _environment(autoescape=False).get_template("digest/digest.txt").render(d=digest)


def write_preview(
    session: Session,
    path: Path,
    *,
    now: datetime,
    week: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
) -> Path:
    """Write the HTML digest of a week to ``path`` and return the path."""
    digest = build_digest(session, week=week, now=now, base_url=base_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(digest), encoding="utf-8")
    return path
