"""Cases for review: the queue and its filters, summaries, backlog, decisions, escalations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, SQLColumnExpression, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from storage.listings import latest_version_id
from storage.models import (
    AuditEvent,
    Case,
    CaseDecision,
    Indicator,
    Listing,
    ListingVersion,
    Mention,
    Source,
    User,
)
from storage.substances import SubstanceTag, substances_of_versions
from storage.text_search import SearchQuery, text_matches

Ts = TypeVarTuple("Ts")


def get_case(session: Session, case_id: int) -> Case | None:
    """Return a case by id."""
    return session.get(Case, case_id)


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
class Backlog:
    """The cases waiting in one state, and when the oldest of them was opened."""

    count: int
    oldest_created_at: datetime | None


def summary_query() -> Select[Case, Listing, Source, ListingVersion]:
    """The select a queue row is read from: a case with its listing, source and version."""
    return (
        select(Case, Listing, Source, ListingVersion)
        .join(Listing, Case.listing_id == Listing.id)
        .join(Source, Listing.source_id == Source.id)
        .join(ListingVersion, ListingVersion.id == latest_version_id())
    )


def summaries_of(
    session: Session, query: Select[Case, Listing, Source, ListingVersion]
) -> list[CaseSummary]:
    """Run a `summary_query` (filtered, ordered, paged) into queue rows with their substances."""
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
    query = summary_query().order_by(Case.score.desc(), Case.id)
    if state is not None:
        query = query.where(Case.state == state)
    return summaries_of(session, query.limit(limit).offset(offset))


def new_case_summaries(
    session: Session, *, start: datetime, end: datetime, limit: int = 10
) -> list[CaseSummary]:
    """Return the cases opened in ``[start, end)``, highest score first."""
    query = (
        summary_query()
        .where(Case.created_at >= start, Case.created_at < end)
        .order_by(Case.score.desc(), Case.id)
        .limit(limit)
    )
    return summaries_of(session, query)


def count_new_cases(session: Session, *, start: datetime, end: datetime) -> int:
    """Count the cases opened in ``[start, end)``."""
    query = select(func.count(Case.id)).where(Case.created_at >= start, Case.created_at < end)
    return session.scalar(query) or 0


def backlog(session: Session, *, state: str = "new") -> Backlog:
    """Return how many cases wait in ``state`` and when the oldest was opened."""
    count, oldest = session.execute(
        select(func.count(Case.id), func.min(Case.created_at)).where(Case.state == state)
    ).one()
    return Backlog(count=count or 0, oldest_created_at=oldest)


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
    # Full text over the latest version of the case's listing (storage.text_search).
    search: SearchQuery | None = None
    # The column the queue is sorted by (a key of SORT_KEYS) and its direction.
    sort: str = "score"
    descending: bool = True


# What the queue may be sorted by; ties fall back to the highest score, then the oldest case.
SORT_KEYS = ("score", "first_seen", "source", "state", "assignee")


def sort_column(sort: str) -> SQLColumnExpression[Any]:
    """The column a queue sort key orders by."""
    if sort == "score":
        return Case.score
    if sort == "first_seen":
        return Listing.first_seen
    if sort == "source":
        query = select(Source.name).where(Source.id == Listing.source_id)
        return query.correlate_except(Source).scalar_subquery()
    if sort == "state":
        return Case.state
    if sort == "assignee":
        query = select(User.username).where(User.id == Case.assignee_id)
        return query.correlate_except(User).scalar_subquery()
    raise ValueError(f"the queue can't be sorted by {sort!r}; it can by {', '.join(SORT_KEYS)}")


def _ordered(query: Select[*Ts], filters: CaseFilter) -> Select[*Ts]:
    column = sort_column(filters.sort)
    # Unassigned cases last either way, as PostgreSQL and SQLite would disagree otherwise.
    first = (column.desc() if filters.descending else column.asc()).nulls_last()
    return query.order_by(first, Case.score.desc(), Case.id)


def filtered_cases(query: Select[*Ts], filters: CaseFilter) -> Select[*Ts]:
    """Narrow a select joined to Case and Listing by the queue's filters (the one place)."""
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
    if filters.search is not None:
        query = query.where(text_matches(latest_version_id(), filters.search))
    return query


def queue_page(
    session: Session, filters: CaseFilter, *, limit: int = 50, offset: int = 0
) -> list[CaseSummary]:
    """Return one page of the cases a filter selects, in the filter's order."""
    query = _ordered(filtered_cases(summary_query(), filters), filters)
    summaries = summaries_of(session, query.limit(limit).offset(offset))
    names = assignee_names(session, [s.case_id for s in summaries])
    return [replace(s, assignee=names.get(s.case_id)) for s in summaries]


def count_queue(session: Session, filters: CaseFilter) -> int:
    """Count the cases a filter selects."""
    query = filtered_cases(
        select(func.count(Case.id)).join(Listing, Case.listing_id == Listing.id), filters
    )
    return session.scalar(query) or 0


def queue_case_ids(session: Session, filters: CaseFilter, *, limit: int) -> list[int]:
    """Return the ids of the cases a filter selects, in the filter's order (for exports)."""
    query = _ordered(
        filtered_cases(select(Case.id).join(Listing, Case.listing_id == Listing.id), filters),
        filters,
    )
    return list(session.scalars(query.limit(limit)))


def cases_by_id(session: Session, case_ids: Sequence[int]) -> dict[int, Case]:
    """Return these cases by id (ids of no case are left out)."""
    if not case_ids:
        return {}
    return {case.id: case for case in session.scalars(select(Case).where(Case.id.in_(case_ids)))}


def last_case_event(session: Session, case_id: int) -> AuditEvent | None:
    """Return the latest audit row of a change to a case (``case.*``; views and exports aside)."""
    query = (
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "case",
            AuditEvent.object_id == str(case_id),
            AuditEvent.action.startswith("case."),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return session.scalar(query)


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


def decision_counts(session: Session, *, start: datetime, end: datetime) -> dict[str, int]:
    """Count the case decisions of ``[start, end)`` by the state they moved cases to."""
    query = (
        select(CaseDecision.to_state, func.count(CaseDecision.id))
        .where(CaseDecision.at >= start, CaseDecision.at < end)
        .group_by(CaseDecision.to_state)
    )
    return {state: count for state, count in session.execute(query)}


@dataclass(frozen=True, slots=True)
class IndicatorTag:
    """An indicator kind found in a listing, with the first value it was found with."""

    kind: str
    value: str


def case_indicators(
    session: Session, case_ids: Sequence[int]
) -> dict[int, tuple[IndicatorTag, ...]]:
    """Return the distinct indicator kinds of each case's latest listing version."""
    if not case_ids:
        return {}
    latest = (
        select(func.max(ListingVersion.id))
        .where(ListingVersion.listing_id == Case.listing_id)
        .correlate(Case)
        .scalar_subquery()
    )
    query = (
        select(Case.id, Indicator.kind, Indicator.value)
        .join(Indicator, Indicator.version_id == latest)
        .where(Case.id.in_(case_ids))
        .order_by(Case.id, Indicator.start, Indicator.id)
    )
    found: dict[int, dict[str, IndicatorTag]] = {}
    for case_id, kind, value in session.execute(query):
        found.setdefault(case_id, {}).setdefault(kind, IndicatorTag(kind, value or ""))
    return {case_id: tuple(tags.values()) for case_id, tags in found.items()}


@dataclass(frozen=True, slots=True)
class EscalatedCase:
    """A case waiting for a legal decision, with who escalated it and when."""

    summary: CaseSummary
    escalated_at: datetime | None
    escalated_by_id: int | None
    escalated_by: str


def escalated_cases(session: Session, *, limit: int = 50) -> list[EscalatedCase]:
    """Return the cases waiting for a legal decision, highest score first, with their escalation."""
    summaries = case_summaries(session, state="escalated", limit=limit)
    ids = [s.case_id for s in summaries]
    last: dict[int, tuple[datetime, int, str]] = {}
    if ids:
        query = (
            select(CaseDecision.case_id, CaseDecision.at, User.id, User.username)
            .join(User, CaseDecision.actor_id == User.id)
            .where(CaseDecision.case_id.in_(ids), CaseDecision.to_state == "escalated")
            .order_by(CaseDecision.id)
        )
        for case_id, at, user_id, username in session.execute(query):
            last[case_id] = (at, user_id, username)
    result = []
    for summary in summaries:
        found = last.get(summary.case_id)
        if found is None:
            result.append(EscalatedCase(summary, None, None, ""))
        else:
            result.append(EscalatedCase(summary, *found))
    return result


@dataclass(frozen=True, slots=True)
class DecisionTag:
    """A decision on a case: the state it moved the case to, when, and by whom."""

    to_state: str
    at: datetime
    actor: str


def case_decisions(session: Session, case_ids: Sequence[int]) -> dict[int, tuple[DecisionTag, ...]]:
    """Return the decisions of each of these cases, oldest first."""
    if not case_ids:
        return {}
    query = (
        select(CaseDecision.case_id, CaseDecision.to_state, CaseDecision.at, User.username)
        .join(User, CaseDecision.actor_id == User.id)
        .where(CaseDecision.case_id.in_(case_ids))
        .order_by(CaseDecision.case_id, CaseDecision.at, CaseDecision.id)
    )
    found: dict[int, list[DecisionTag]] = {}
    for case_id, to_state, at, username in session.execute(query):
        found.setdefault(case_id, []).append(DecisionTag(to_state, at, username))
    return {case_id: tuple(tags) for case_id, tags in found.items()}
