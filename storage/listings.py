"""Listings: identity across crawls, versions with what extraction found, validators,
misses, and the other listings that share an identifier.

Writing what a crawl found is `storage.listing_store`'s (many pages a batch); its records and
rules are re-exported here, with `store_listing`, the one-page form that returns model rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from storage.listing_store import MAX_STORED_SPANS as MAX_STORED_SPANS
from storage.listing_store import AnalysisRecord as AnalysisRecord
from storage.listing_store import IndicatorRecord as IndicatorRecord
from storage.listing_store import ListingPage, mark_listings_seen, store_listings
from storage.listing_store import MentionRecord as MentionRecord
from storage.listing_store import capped_spans as capped_spans
from storage.listing_store import latest_version_id as latest_version_id
from storage.listing_store import span_counts as span_counts
from storage.listing_store import text_fingerprint as text_fingerprint
from storage.models import Capture, Case, Indicator, Listing, ListingVersion, Source


@dataclass(frozen=True, slots=True)
class StoredListing:
    listing: Listing
    version: ListingVersion
    new_version: bool
    case: Case | None


def find_listing(session: Session, source_id: str, url: str) -> Listing | None:
    """Return the listing of a source at this canonical URL."""
    return session.scalar(select(Listing).where(Listing.source_id == source_id, Listing.url == url))


def store_listing(
    session: Session,
    *,
    source_id: str,
    url: str,
    capture: Capture,
    title: str,
    text: str,
    fields: dict[str, Any],
    analysis: AnalysisRecord,
    now: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
) -> StoredListing:
    """Record a listing seen now: a new version when its text changed, a case when flagged.

    ``etag`` and ``last_modified`` are the response's validators, kept for a conditional GET.
    The rows come back loaded (versions with their spans, the case), fresh from the database.
    """
    session.flush()  # the batch statements below see what the session holds
    page = ListingPage(
        source_id, url, capture.id, title, text, fields, analysis, now, etag, last_modified
    )
    (stored,) = store_listings(session, [page])
    listing = session.scalars(
        select(Listing)
        .where(Listing.id == stored.listing_id)
        .options(
            selectinload(Listing.versions).selectinload(ListingVersion.mentions),
            selectinload(Listing.versions).selectinload(ListingVersion.indicators),
            joinedload(Listing.case),
        )
        .execution_options(populate_existing=True)
    ).one()
    set_committed_value(capture, "listing_id", listing.id)
    set_committed_value(capture, "listing", listing)
    (version,) = (v for v in listing.versions if v.id == stored.version_id)
    return StoredListing(listing, version, stored.new_version, listing.case)


def found_span_count(version: ListingVersion) -> int:
    """Return how many mentions and indicators extraction found in a version, capped or not."""
    if version.span_counts is None:
        return len(version.mentions) + len(version.indicators)
    return sum(n for counts in version.span_counts.values() for n in counts.values())


def listing_version(session: Session, listing_id: int, version_id: int) -> ListingVersion | None:
    """Return one version of a listing, or None when it belongs to another listing."""
    version = session.get(ListingVersion, version_id)
    return version if version is not None and version.listing_id == listing_id else None


def listing_captures(session: Session, listing_id: int) -> list[Capture]:
    """Return every capture of a listing, oldest first."""
    query = select(Capture).where(Capture.listing_id == listing_id).order_by(Capture.id)
    return list(session.scalars(query))


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
    (known,) = mark_listings_seen(session, [(source_id, url, now)])
    if known:  # a copy the session holds gets the new values too
        session.scalar(
            select(Listing)
            .where(Listing.source_id == source_id, Listing.url == url)
            .execution_options(populate_existing=True)
        )
    return known


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


@dataclass(frozen=True, slots=True)
class SharedListing:
    """Another listing that names one of the same identifiers (handle, phone, e-mail, wallet)."""

    listing_id: int
    case_id: int | None
    case_state: str | None
    title: str
    url: str
    source_name: str
    identifiers: tuple[str, ...]


def shared_identifier_listings(session: Session, listing_id: int) -> list[SharedListing]:
    """Return the other listings whose indicators carry an identifier this listing's carry."""
    own_keys = (
        select(Indicator.key)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .where(ListingVersion.listing_id == listing_id, Indicator.key.is_not(None))
    )
    matches = session.execute(
        select(ListingVersion.listing_id, Indicator.key)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .where(Indicator.key.in_(own_keys), ListingVersion.listing_id != listing_id)
        .distinct()
    )
    shared: dict[int, set[str]] = {}
    for other_id, key in matches:
        shared.setdefault(other_id, set()).add(str(key))  # matched by equality: never NULL
    if not shared:
        return []
    rows = session.execute(
        select(Listing, Source, ListingVersion, Case)
        .join(Source, Listing.source_id == Source.id)
        .join(ListingVersion, ListingVersion.id == latest_version_id())
        .outerjoin(Case, Case.listing_id == Listing.id)
        .where(Listing.id.in_(shared))
        .order_by(Listing.id)
    ).all()
    return [
        SharedListing(
            listing_id=listing.id,
            case_id=case.id if case else None,
            case_state=case.state if case else None,
            title=version.title,
            url=listing.url,
            source_name=source.name,
            identifiers=tuple(sorted(shared[listing.id])),
        )
        for listing, source, version, case in rows
    ]


def listing_capture(session: Session, listing_id: int, capture_id: int) -> Capture | None:
    """Return one capture of a listing, or None when it belongs to another listing."""
    capture = session.get(Capture, capture_id)
    return capture if capture is not None and capture.listing_id == listing_id else None


def get_listing(session: Session, listing_id: int) -> Listing | None:
    """Return a listing by id."""
    return session.get(Listing, listing_id)
