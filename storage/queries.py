"""Read-only queries for the review app and the digest: they add, change and flush nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ScalarSelect, Select, distinct, func, select
from sqlalchemy.orm import Session, joinedload

from storage.models import Capture, Case, CrawlRun, Listing, ListingVersion, Mention, Source


@dataclass(frozen=True, slots=True)
class SubstanceTag:
    """A substance named in a listing, as a badge shows it."""

    concept_id: str
    name: str
    substance_class: str


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One row of the review queue or the digest: a case and its listing's latest version."""

    case_id: int
    state: str
    score: float
    title: str
    url: str
    source_id: str
    source_name: str
    first_seen: datetime
    created_at: datetime
    substances: tuple[SubstanceTag, ...]


@dataclass(frozen=True, slots=True)
class SubstanceCount:
    """How many listings (and mentions) named a substance in a time range."""

    concept_id: str
    name: str
    substance_class: str
    listings: int
    mentions: int


@dataclass(frozen=True, slots=True)
class Backlog:
    """The cases waiting in one state, and when the oldest of them was opened."""

    count: int
    oldest_created_at: datetime | None


def _latest_version_id() -> ScalarSelect[int | None]:
    return (
        select(func.max(ListingVersion.id))
        .where(ListingVersion.listing_id == Listing.id)
        .correlate(Listing)
        .scalar_subquery()
    )


def _summary_query() -> Select[Case, Listing, Source, ListingVersion]:
    return (
        select(Case, Listing, Source, ListingVersion)
        .join(Listing, Case.listing_id == Listing.id)
        .join(Source, Listing.source_id == Source.id)
        .join(ListingVersion, ListingVersion.id == _latest_version_id())
    )


def _summaries(
    session: Session, query: Select[Case, Listing, Source, ListingVersion]
) -> list[CaseSummary]:
    rows = session.execute(query).all()
    tags = substances_of_versions(session, [version.id for _c, _l, _s, version in rows])
    return [
        CaseSummary(
            case_id=case.id,
            state=case.state,
            score=case.score,
            title=version.title,
            url=listing.url,
            source_id=source.id,
            source_name=source.name,
            first_seen=listing.first_seen,
            created_at=case.created_at,
            substances=tags.get(version.id, ()),
        )
        for case, listing, source, version in rows
    ]


def case_summaries(
    session: Session, *, state: str | None = "new", limit: int = 50, offset: int = 0
) -> list[CaseSummary]:
    """Return cases of one state (or all) sorted by score, highest first, for the queue."""
    query = _summary_query().order_by(Case.score.desc(), Case.id)
    if state is not None:
        query = query.where(Case.state == state)
    return _summaries(session, query.limit(limit).offset(offset))


def new_case_summaries(
    session: Session, *, start: datetime, end: datetime, limit: int = 10
) -> list[CaseSummary]:
    """Return the cases opened in ``[start, end)``, highest score first."""
    query = (
        _summary_query()
        .where(Case.created_at >= start, Case.created_at < end)
        .order_by(Case.score.desc(), Case.id)
        .limit(limit)
    )
    return _summaries(session, query)


def count_new_cases(session: Session, *, start: datetime, end: datetime) -> int:
    """Count the cases opened in ``[start, end)``."""
    query = select(func.count(Case.id)).where(Case.created_at >= start, Case.created_at < end)
    return session.scalar(query) or 0


def substances_of_versions(
    session: Session, version_ids: Sequence[int]
) -> dict[int, tuple[SubstanceTag, ...]]:
    """Return the distinct substances of each listing version, in order of first mention."""
    if not version_ids:
        return {}
    query = (
        select(Mention)
        .where(Mention.version_id.in_(version_ids))
        .order_by(Mention.version_id, Mention.start, Mention.id)
    )
    found: dict[int, dict[str, SubstanceTag]] = {}
    for mention in session.scalars(query):
        tags = found.setdefault(mention.version_id, {})
        tags.setdefault(
            mention.concept_id,
            SubstanceTag(mention.concept_id, mention.name, mention.substance_class),
        )
    return {version_id: tuple(tags.values()) for version_id, tags in found.items()}


def substance_counts(session: Session, *, start: datetime, end: datetime) -> list[SubstanceCount]:
    """Count, per substance, the listings whose versions of ``[start, end)`` named it."""
    query = (
        select(
            Mention.concept_id,
            func.min(Mention.name),
            func.min(Mention.substance_class),
            func.count(distinct(ListingVersion.listing_id)),
            func.count(Mention.id),
        )
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .where(ListingVersion.created_at >= start, ListingVersion.created_at < end)
        .group_by(Mention.concept_id)
    )
    counts = [
        SubstanceCount(concept_id, name, substance_class, listings, mentions)
        for concept_id, name, substance_class, listings, mentions in session.execute(query)
    ]
    return sorted(counts, key=lambda c: (-c.listings, -c.mentions, c.name))


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


def backlog(session: Session, *, state: str = "new") -> Backlog:
    """Return how many cases wait in ``state`` and when the oldest was opened."""
    count, oldest = session.execute(
        select(func.count(Case.id), func.min(Case.created_at)).where(Case.state == state)
    ).one()
    return Backlog(count=count or 0, oldest_created_at=oldest)


def listing_version(session: Session, listing_id: int, version_id: int) -> ListingVersion | None:
    """Return one version of a listing, or None when it belongs to another listing."""
    version = session.get(ListingVersion, version_id)
    return version if version is not None and version.listing_id == listing_id else None
