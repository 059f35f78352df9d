"""Read-only queries for the review app and the digest: they add, change and flush nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import ScalarSelect, Select, distinct, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from storage.models import (
    Capture,
    Case,
    CaseDecision,
    CrawlRun,
    Listing,
    ListingVersion,
    Mention,
    Source,
    User,
)

Ts = TypeVarTuple("Ts")


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
    assignee: str | None = None


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


def latest_version_id() -> ScalarSelect[int | None]:
    """Return a subquery of the id of the latest version of the listing of the outer query."""
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
        .join(ListingVersion, ListingVersion.id == latest_version_id())
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


# ---------------------------------------------------------------- the review queue


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """What the queue (and an export of it) shows: each set field narrows the cases."""

    state: str | None = "new"
    substance_class: str | None = None
    source_id: str | None = None
    # Cases opened in [since, until).
    since: datetime | None = None
    until: datetime | None = None
    assignee_id: int | None = None
    unassigned: bool = False


def _filtered(query: Select[*Ts], filters: CaseFilter) -> Select[*Ts]:
    if filters.state is not None:
        query = query.where(Case.state == filters.state)
    if filters.source_id is not None:
        query = query.where(Listing.source_id == filters.source_id)
    if filters.since is not None:
        query = query.where(Case.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Case.created_at < filters.until)
    if filters.unassigned:
        query = query.where(Case.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        query = query.where(Case.assignee_id == filters.assignee_id)
    if filters.substance_class is not None:
        query = query.where(
            select(Mention.id)
            .where(
                Mention.version_id == latest_version_id(),
                Mention.substance_class == filters.substance_class,
            )
            .exists()
        )
    return query


def queue_page(
    session: Session, filters: CaseFilter, *, limit: int = 50, offset: int = 0
) -> list[CaseSummary]:
    """Return one page of the cases a filter selects, highest score first."""
    query = _filtered(_summary_query(), filters).order_by(Case.score.desc(), Case.id)
    summaries = _summaries(session, query.limit(limit).offset(offset))
    names = assignee_names(session, [s.case_id for s in summaries])
    return [replace(s, assignee=names.get(s.case_id)) for s in summaries]


def count_queue(session: Session, filters: CaseFilter) -> int:
    """Count the cases a filter selects."""
    query = _filtered(
        select(func.count(Case.id)).join(Listing, Case.listing_id == Listing.id), filters
    )
    return session.scalar(query) or 0


def queue_case_ids(session: Session, filters: CaseFilter, *, limit: int) -> list[int]:
    """Return the ids of the cases a filter selects, highest score first (for exports)."""
    query = _filtered(
        select(Case.id).join(Listing, Case.listing_id == Listing.id), filters
    ).order_by(Case.score.desc(), Case.id)
    return list(session.scalars(query.limit(limit)))


def assignee_names(session: Session, case_ids: Sequence[int]) -> dict[int, str]:
    """Return the user name each of these cases is assigned to (unassigned ones are left out)."""
    if not case_ids:
        return {}
    query = (
        select(Case.id, User.username)
        .join(User, Case.assignee_id == User.id)
        .where(Case.id.in_(case_ids))
    )
    return {case_id: username for case_id, username in session.execute(query)}


def substance_classes(session: Session) -> list[str]:
    """Return every substance class that a mention has, sorted."""
    return sorted(session.scalars(select(Mention.substance_class).distinct()))


def source_names(session: Session) -> list[tuple[str, str]]:
    """Return (id, name) of every source, by id."""
    return [(s.id, s.name) for s in session.scalars(select(Source).order_by(Source.id))]


def reviewers(session: Session) -> list[User]:
    """Return the active users who work cases (analysts and legal reviewers), by name."""
    query = (
        select(User)
        .where(User.active.is_(True), User.role.in_(("analyst", "legal")))
        .order_by(User.username)
    )
    return list(session.scalars(query))


def cases_with_details(session: Session, case_ids: Sequence[int]) -> list[Case]:
    """Return cases with their listing, versions, mentions, indicators and decisions loaded."""
    if not case_ids:
        return []
    listing = joinedload(Case.listing)
    versions = listing.selectinload(Listing.versions)
    query = (
        select(Case)
        .where(Case.id.in_(case_ids))
        .options(
            listing.joinedload(Listing.source),
            versions.selectinload(ListingVersion.mentions),
            versions.selectinload(ListingVersion.indicators),
            versions.joinedload(ListingVersion.capture),
            joinedload(Case.assignee),
            selectinload(Case.decisions).joinedload(CaseDecision.actor),
        )
    )
    by_id = {case.id: case for case in session.scalars(query).unique()}
    return [by_id[case_id] for case_id in case_ids if case_id in by_id]
