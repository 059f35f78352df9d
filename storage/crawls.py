"""Crawl runs and their captures: opening, closing, stale runs, what a set of runs did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, joinedload

from storage.bulk import insert_ids
from storage.crawl_stats import CAPPED, PAGES_FETCHED, REFUSED_PREFIX
from storage.models import Capture, CrawlRun, Listing


def start_crawl_run(
    session: Session, *, source_id: str, now: datetime, warc_file: str | None = None
) -> CrawlRun:
    """Open a crawl run of a source."""
    run = CrawlRun(source_id=source_id, started_at=now, status="running", warc_file=warc_file)
    session.add(run)
    session.flush()
    return run


def finish_crawl_run(
    session: Session,
    run: CrawlRun,
    *,
    now: datetime,
    status: str,
    stats: dict[str, Any],
    error: str | None = None,
) -> None:
    """Close a crawl run with its final status and stats."""
    run.finished_at, run.status, run.stats, run.error = now, status, stats, error
    session.flush()


def record_capture(
    session: Session,
    *,
    crawl_run_id: int,
    url: str,
    http_status: int,
    content_type: str,
    fetched_at: datetime,
    warc_file: str,
    warc_offset: int,
    warc_length: int,
    payload_sha256: str,
) -> Capture:
    """Record where a fetched page's WARC record is and its payload hash."""
    capture = Capture(
        crawl_run_id=crawl_run_id,
        url=url,
        http_status=http_status,
        content_type=content_type,
        fetched_at=fetched_at,
        warc_file=warc_file,
        warc_offset=warc_offset,
        warc_length=warc_length,
        payload_sha256=payload_sha256,
    )
    session.add(capture)
    session.flush()
    return capture


@dataclass(frozen=True, slots=True)
class CaptureRow:
    """A fetched page to record as a capture (see `record_capture`)."""

    crawl_run_id: int
    url: str
    http_status: int
    content_type: str
    fetched_at: datetime
    warc_file: str
    warc_offset: int
    warc_length: int
    payload_sha256: str


def record_captures(session: Session, rows: Sequence[CaptureRow]) -> list[int]:
    """Record many captures in one statement; return their ids in the order given."""
    values = [{name: getattr(row, name) for name in row.__slots__} for row in rows]
    # Each record of a WARC file is at its own offset: that tells a crawl's captures apart.
    return insert_ids(session, Capture, values, ("warc_file", "warc_offset"))


def interrupt_stale_runs(session: Session, *, source_id: str, now: datetime) -> list[int]:
    """Mark a source's runs still 'running' as interrupted; return their ids.

    One crawl of a source runs at a time (the scheduler's rule), so a run still open when a new
    one starts was killed.
    """
    runs = list(
        session.scalars(
            select(CrawlRun).where(CrawlRun.source_id == source_id, CrawlRun.status == "running")
        )
    )
    for run in runs:
        run.status, run.finished_at = "interrupted", now
        run.error = run.error or "the crawl process ended without closing its run (killed?)"
    session.flush()
    return [run.id for run in runs]


def running_crawl(session: Session, *, source_id: str, since: datetime) -> int | None:
    """Return the id of a run of the source still 'running' that started after `since`."""
    query = select(CrawlRun.id).where(
        CrawlRun.source_id == source_id, CrawlRun.status == "running", CrawlRun.started_at >= since
    )
    return session.scalars(query.order_by(CrawlRun.id.desc()).limit(1)).first()


def crawl_runs_between(session: Session, *, start: datetime, end: datetime) -> list[CrawlRun]:
    """Return the crawl runs started in ``[start, end)`` with their sources, by source and time."""
    query = (
        select(CrawlRun)
        .options(joinedload(CrawlRun.source))
        .where(CrawlRun.started_at >= start, CrawlRun.started_at < end)
        .order_by(CrawlRun.source_id, CrawlRun.started_at, CrawlRun.id)
    )
    return list(session.scalars(query))


def captures_per_run(session: Session, run_ids: Sequence[int]) -> dict[int, int]:
    """Return how many pages each crawl run captured as evidence."""
    if not run_ids:
        return {}
    query = (
        select(Capture.crawl_run_id, func.count(Capture.id))
        .where(Capture.crawl_run_id.in_(run_ids))
        .group_by(Capture.crawl_run_id)
    )
    return {run_id: count for run_id, count in session.execute(query)}


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    """What a set of crawl runs fetched, stored, flagged and refused."""

    pages_fetched: int
    listings_stored: int
    flagged: int
    refused: dict[str, int]
    substances: dict[str, int]
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data."""
        return {
            "pages_fetched": self.pages_fetched,
            "listings_stored": self.listings_stored,
            "flagged": self.flagged,
            "refused": self.refused,
            "substances": self.substances,
            "runs": self.runs,
        }


def crawl_summary(session: Session, run_ids: list[int], *, now: datetime) -> CrawlSummary:
    """Summarise crawl runs from their stats and the listings they saw, new or unchanged.

    A run still open counts what it saw until ``now``.
    """
    runs = list(session.scalars(select(CrawlRun).where(CrawlRun.id.in_(run_ids))))
    pages, refused = 0, Counter[str]()
    for run in runs:
        stats = run.stats or {}
        pages += int(stats.get(PAGES_FETCHED, 0))
        for key, value in stats.items():
            if key.startswith(REFUSED_PREFIX) and value:
                refused[key.removeprefix(REFUSED_PREFIX)] += int(value)
    # Seen by a run: stored from a fetched page, or confirmed unchanged by a 304 (last_seen).
    seen = [
        and_(
            Listing.source_id == run.source_id,
            Listing.last_seen >= run.started_at,
            Listing.last_seen <= (run.finished_at or now),
        )
        for run in runs
    ]
    listings = list(session.scalars(select(Listing).where(or_(false(), *seen)))) if runs else []
    flagged = [listing for listing in listings if listing.versions[-1].offer]
    substances = Counter(
        concept
        for listing in flagged
        for concept in {mention.concept_id for mention in listing.versions[-1].mentions}
    )
    return CrawlSummary(
        pages_fetched=pages,
        listings_stored=len(listings),
        flagged=len(flagged),
        refused=dict(sorted(refused.items())),
        substances=dict(substances.most_common()),
        runs=[
            {
                "id": run.id,
                "source": run.source_id,
                "status": run.status,
                "error": run.error,
                "capped": int((run.stats or {}).get(CAPPED, 0)),
            }
            for run in runs
        ],
    )


def recent_runs(
    session: Session, *, source_id: str | None = None, limit: int = 20
) -> list[CrawlRun]:
    """Return the newest crawl runs, of one source or of all, newest first."""
    query = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
    if source_id is not None:
        query = query.where(CrawlRun.source_id == source_id)
    return list(session.scalars(query))


def captures_to_verify(
    session: Session, *, run_id: int | None = None, everything: bool = False
) -> list[Capture]:
    """Return the captures of one run, of every run, or of each source's latest run with any.

    "Latest with any": a source's newest run may have captured nothing (refused, all pages
    unchanged), and checking it would check nothing.
    """
    query = select(Capture).options(joinedload(Capture.crawl_run)).order_by(Capture.id)
    if run_id is not None:
        query = query.where(Capture.crawl_run_id == run_id)
    elif not everything:
        latest = (
            select(func.max(Capture.crawl_run_id))
            .join(CrawlRun, CrawlRun.id == Capture.crawl_run_id)
            .group_by(CrawlRun.source_id)
        )
        query = query.where(Capture.crawl_run_id.in_(latest))
    return list(session.scalars(query))


def count_captures(session: Session) -> int:
    """Return how many captures are recorded, of every run."""
    return int(session.scalar(select(func.count(Capture.id))) or 0)
