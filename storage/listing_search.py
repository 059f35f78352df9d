"""The listings page's queries: every listing, flagged or not, filtered and a page at a time.

The text filter is a plain substring match (``LIKE``) on the latest title and the URL; the
search is full text over the latest version (``storage.text_search``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from storage.listings import latest_version_id
from storage.models import Case, Listing, ListingVersion, Source
from storage.substances import SubstanceTag, substances_of_versions
from storage.text_search import SearchQuery, text_matches

Ts = TypeVarTuple("Ts")


@dataclass(frozen=True, slots=True)
class ListingFilter:
    """What the listings page shows: each set field narrows the listings."""

    source_id: str | None = None
    flagged: bool | None = None  # the latest version's offer flag, as extraction set it
    has_case: bool | None = None
    text: str | None = None  # a substring of the latest title or of the URL, any case
    search: SearchQuery | None = None  # full text over the latest version


@dataclass(frozen=True, slots=True)
class ListingSummary:
    """One row of the listings page: a listing, its latest version and its case if it has one."""

    listing_id: int
    title: str
    url: str
    source_name: str
    score: float
    flagged: bool
    reasons: tuple[Any, ...]
    substances: tuple[SubstanceTag, ...]
    first_seen: datetime
    last_seen: datetime
    gone_at: datetime | None
    case_id: int | None
    case_state: str | None


def _like(text: str) -> str:
    """Return a LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _listings_where(query: Select[*Ts], filters: ListingFilter) -> Select[*Ts]:
    if filters.source_id is not None:
        query = query.where(Listing.source_id == filters.source_id)
    if filters.flagged is not None:
        query = query.where(ListingVersion.offer.is_(filters.flagged))
    if filters.has_case is not None:
        has_case = select(Case.id).where(Case.listing_id == Listing.id).correlate(Listing).exists()
        query = query.where(has_case if filters.has_case else ~has_case)
    if filters.text:
        pattern = _like(filters.text)
        query = query.where(
            ListingVersion.title.ilike(pattern, escape="\\")
            | Listing.url.ilike(pattern, escape="\\")
        )
    if filters.search is not None:
        query = query.where(text_matches(ListingVersion.id, filters.search))
    return query


def count_listings(session: Session, filters: ListingFilter) -> int:
    """Count the listings (with at least one version) a filter selects."""
    query = select(func.count(Listing.id)).join(
        ListingVersion, ListingVersion.id == latest_version_id()
    )
    return session.scalar(_listings_where(query, filters)) or 0


def listings_page(
    session: Session, filters: ListingFilter, *, limit: int = 50, offset: int = 0
) -> list[ListingSummary]:
    """Return one page of the listings a filter selects, highest latest score first."""
    query = (
        select(Listing, Source, ListingVersion, Case)
        .join(Source, Listing.source_id == Source.id)
        .join(ListingVersion, ListingVersion.id == latest_version_id())
        .outerjoin(Case, Case.listing_id == Listing.id)
        .order_by(ListingVersion.score.desc(), Listing.id)
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(_listings_where(query, filters)).all()
    tags = substances_of_versions(session, [version.id for _l, _s, version, _c in rows])
    return [
        ListingSummary(
            listing_id=listing.id,
            title=version.title,
            url=listing.url,
            source_name=source.name,
            score=version.score,
            flagged=version.offer,
            reasons=tuple(version.reasons),
            substances=tags.get(version.id, ()),
            first_seen=listing.first_seen,
            last_seen=listing.last_seen,
            gone_at=listing.gone_at,
            case_id=case.id if case else None,
            case_state=case.state if case else None,
        )
        for listing, source, version, case in rows
    ]
