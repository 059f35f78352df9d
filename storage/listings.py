"""Listings: identity across crawls, versions with what extraction found, validators,
misses, and the other listings that share an identifier."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, func, select, update
from sqlalchemy.orm import Session

from storage.audit import append_event
from storage.models import Capture, Case, Indicator, Listing, ListingVersion, Mention, Source
from storage.substances import CandidateRecord, record_candidates


@dataclass(frozen=True, slots=True)
class MentionRecord:
    concept_id: str
    name: str
    substance_class: str
    control: str
    start: int
    end: int
    text: str
    confidence: float
    method: str = "lexicon"


@dataclass(frozen=True, slots=True)
class IndicatorRecord:
    kind: str
    start: int
    end: int
    text: str
    value: str
    key: str | None = None  # the normalised identifier extraction read, if it names one


@dataclass(frozen=True, slots=True)
class AnalysisRecord:
    """What extraction found in a text, as storage keeps it."""

    score: float
    offer: bool
    mentions: list[MentionRecord] = field(default_factory=list)
    indicators: list[IndicatorRecord] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    candidates: list[CandidateRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredListing:
    listing: Listing
    version: ListingVersion
    new_version: bool
    case: Case | None


# Mentions and indicators stored per version, together. A listing names tens; a hostile or
# broken page can yield one every dozen characters (15,600 in 200,000 characters), and each is a
# row that every case page, export and referral of the listing loads. 2,000 keep every substance,
# kind and identifier of any real listing; ``span_counts`` keeps the whole counts.
MAX_STORED_SPANS = 2_000


def text_fingerprint(text: str) -> str:
    """Return the SHA-256 of a text with its whitespace normalised."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


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
    """
    listing = find_listing(session, source_id, url)
    if listing is None:
        listing = Listing(source_id=source_id, url=url, first_seen=now, last_seen=now)
        session.add(listing)
    listing.last_seen, listing.gone_at, listing.missed_crawls = now, None, 0
    listing.http_etag, listing.http_last_modified = etag, last_modified
    capture.listing = listing
    digest = text_fingerprint(text)
    latest = listing.versions[-1] if listing.versions else None
    if latest is not None and latest.text_sha256 == digest:
        session.flush()
        return StoredListing(listing, latest, new_version=False, case=listing.case)

    version = ListingVersion(
        listing=listing,
        capture=capture,
        created_at=now,
        title=title,
        text=text,
        text_sha256=digest,
        fields=fields,
        score=analysis.score,
        offer=analysis.offer,
        reasons=analysis.reasons,
        context=analysis.context,
        span_counts=span_counts(analysis),
    )
    mentions, indicators = capped_spans(analysis)
    version.mentions = [Mention(**vars_of(m)) for m in mentions]
    version.indicators = [Indicator(**vars_of(i)) for i in indicators]
    session.add(version)
    session.flush()
    record_candidates(session, analysis.candidates, version_id=version.id, now=now)
    case = _update_case(session, listing, version, now)
    return StoredListing(listing, version, new_version=True, case=case)


def span_counts(analysis: AnalysisRecord) -> dict[str, Any]:
    """Return how many mentions (by substance class) and indicators (by kind) were found."""
    mentions = Counter(m.substance_class for m in analysis.mentions)
    indicators = Counter(i.kind for i in analysis.indicators)
    return {
        "mentions": dict(sorted(mentions.items())),
        "indicators": dict(sorted(indicators.items())),
    }


def found_span_count(version: ListingVersion) -> int:
    """Return how many mentions and indicators extraction found in a version, capped or not."""
    if version.span_counts is None:
        return len(version.mentions) + len(version.indicators)
    return sum(n for counts in version.span_counts.values() for n in counts.values())


def capped_spans(
    analysis: AnalysisRecord, limit: int = MAX_STORED_SPANS
) -> tuple[list[MentionRecord], list[IndicatorRecord]]:
    """Return at most ``limit`` of the mentions and indicators together, each list in its order.

    The first mention of every concept and the first indicator of every kind and identifier key
    are kept before any repeat, so the substances a version names, the kinds it shows and the
    identifiers that link sellers survive the cap; the rest are kept in text order.
    """
    if len(analysis.mentions) + len(analysis.indicators) <= limit:
        return analysis.mentions, analysis.indicators
    spans: list[tuple[int, int, int, tuple[str | None, ...]]] = [
        (m.start, 0, n, ("m", m.concept_id)) for n, m in enumerate(analysis.mentions)
    ]
    spans += [(i.start, 1, n, ("i", i.kind, i.key)) for n, i in enumerate(analysis.indicators)]
    spans.sort(key=lambda span: span[:3])
    seen: set[tuple[str | None, ...]] = set()
    firsts: list[tuple[int, int]] = []
    repeats: list[tuple[int, int]] = []
    for _start, table, n, identity in spans:
        (repeats if identity in seen else firsts).append((table, n))
        seen.add(identity)
    kept = set((firsts + repeats)[:limit])
    return (
        [m for n, m in enumerate(analysis.mentions) if (0, n) in kept],
        [i for n, i in enumerate(analysis.indicators) if (1, n) in kept],
    )


def vars_of(record: MentionRecord | IndicatorRecord) -> dict[str, Any]:
    """Return a slotted record's fields as keyword arguments."""
    return {name: getattr(record, name) for name in record.__slots__}


def _update_case(
    session: Session, listing: Listing, version: ListingVersion, now: datetime
) -> Case | None:
    case = listing.case
    if case is None and version.offer:
        case = Case(
            listing=listing, state="new", score=version.score, created_at=now, updated_at=now
        )
        session.add(case)
        session.flush()
        append_event(
            session,
            action="case.opened",
            object_type="case",
            object_id=case.id,
            now=now,
            detail={"listing_id": listing.id, "version_id": version.id, "score": version.score},
        )
    elif case is not None:
        case.score, case.updated_at = version.score, now
        session.flush()
    return case


def latest_version_id() -> ScalarSelect[int | None]:
    """Return a subquery of the id of the latest version of the listing of the outer query."""
    return (
        select(func.max(ListingVersion.id))
        .where(ListingVersion.listing_id == Listing.id)
        .correlate(Listing)
        .scalar_subquery()
    )


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
