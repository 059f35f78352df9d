"""What a crawl needs to know across runs: validators, who was seen, who is gone, stale runs.

Crawl state lives here rather than only in Scrapy's JOBDIR, so a crawl killed at any point and
started again ends with the same listings: identity is (source, URL), every stored page commits
on its own, and a run that never finished is marked interrupted instead of counting misses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import CrawlRun, Listing


def listing_validators(
    session: Session, source_id: str
) -> dict[str, tuple[str | None, str | None]]:
    """Return URL → (ETag, Last-Modified) of a source's listings that are not gone."""
    rows = session.execute(
        select(Listing.url, Listing.http_etag, Listing.http_last_modified).where(
            Listing.source_id == source_id,
            Listing.gone_at.is_(None),
            (Listing.http_etag.is_not(None)) | (Listing.http_last_modified.is_not(None)),
        )
    )
    return {url: (etag, modified) for url, etag, modified in rows}


def mark_listing_seen(session: Session, source_id: str, url: str, now: datetime) -> bool:
    """Record that an unchanged listing (a 304 answer) was seen now; False if it is unknown."""
    result = session.execute(
        update(Listing)
        .where(Listing.source_id == source_id, Listing.url == url)
        .values(last_seen=now, gone_at=None, missed_crawls=0)
    )
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_missing_listings(
    session: Session, *, source_id: str, run_started: datetime, gone_after: int, now: datetime
) -> tuple[int, int]:
    """Count a miss for listings a finished crawl did not see; mark gone those missed enough.

    Call it only for a crawl that finished: an interrupted one saw only part of the site.
    Returns (listings missed, listings newly gone).
    """
    missed = list(
        session.scalars(
            select(Listing).where(
                Listing.source_id == source_id,
                Listing.last_seen < run_started,
                Listing.gone_at.is_(None),
            )
        )
    )
    gone = 0
    for listing in missed:
        listing.missed_crawls += 1
        if listing.missed_crawls >= gone_after:
            listing.gone_at = now
            gone += 1
    session.flush()
    return len(missed), gone


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
        CrawlRun.source_id == source_id,
        CrawlRun.status == "running",
        CrawlRun.started_at >= since,
    )
    return session.scalars(query.order_by(CrawlRun.id.desc()).limit(1)).first()
