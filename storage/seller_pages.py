"""What the seller pages read: a page of sellers, one seller's profile and timeline, the common
values, and the sellers of a listing (``storage.sellers`` links them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

from storage.listing_store import latest_version_id
from storage.models import (
    Case,
    CaseDecision,
    Indicator,
    Listing,
    ListingVersion,
    Mention,
    Seller,
    SellerChange,
    SellerIdentifier,
    Source,
)
from storage.seller_changes import seller_changes

# A timeline longer than this shows its newest entries only.
MAX_TIMELINE = 300
# Sellers (and their listings) per list page; listings of one seller shown at most.
MAX_SELLER_LISTINGS = 1000
LIKE_ESCAPE = "\\"


@dataclass(frozen=True, slots=True)
class SellerSummary:
    """A seller as the list shows it."""

    seller: Seller
    identifiers: tuple[str, ...]
    listings: int
    sources: int
    cases: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class IdentifierRow:
    key: str
    status: str
    listings: int


@dataclass(frozen=True, slots=True)
class SellerListing:
    """A listing of a seller: where, what, its case, and the seller's identifiers it carries."""

    listing_id: int
    title: str
    url: str
    source_id: str
    source_name: str
    score: float
    offer: bool
    first_seen: datetime
    last_seen: datetime
    gone_at: datetime | None
    case_id: int | None
    case_state: str | None
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubstanceRow:
    concept_id: str
    name: str
    substance_class: str
    listings: int


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """Something that happened to a seller: ``what`` is first_seen, version, case_opened,
    decision or change; the text says the rest."""

    at: datetime
    what: str
    text: str
    listing_id: int | None = None
    case_id: int | None = None


@dataclass(frozen=True, slots=True)
class SellerProfile:
    seller: Seller
    identifiers: list[IdentifierRow]
    listings: list[SellerListing]
    sources: list[tuple[str, str, int]]  # (id, name, listings)
    substances: list[SubstanceRow]
    first_seen: datetime | None
    last_seen: datetime | None
    timeline: list[TimelineEntry]
    changes: list[SellerChange]


def _escaped(text: str) -> str:
    for char in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, LIKE_ESCAPE + char)
    return text


def _active_sellers(search: str) -> Select[Any]:
    query = select(Seller.id).where(Seller.merged_into_id.is_(None))
    if search:
        pattern = f"%{_escaped(search.lower())}%"
        query = query.where(
            Seller.id.in_(
                select(SellerIdentifier.seller_id).where(
                    func.lower(SellerIdentifier.key).like(pattern, escape=LIKE_ESCAPE)
                )
            )
        )
    return query


def seller_summaries(
    session: Session, *, search: str = "", page: int = 1, page_size: int = 50
) -> tuple[list[SellerSummary], int]:
    """Return a page of the sellers (newest first; those with an identifier matching ``search``
    when it is given) and how many there are in all."""
    ids_query = _active_sellers(search)
    total = session.scalar(select(func.count()).select_from(ids_query.subquery())) or 0
    ids = list(
        session.scalars(
            ids_query.order_by(Seller.id.desc()).limit(page_size).offset((page - 1) * page_size)
        )
    )
    if not ids:
        return [], total
    sellers = {s.id: s for s in session.scalars(select(Seller).where(Seller.id.in_(ids)))}
    keys: dict[int, list[str]] = {}
    for seller_id, key in session.execute(
        select(SellerIdentifier.seller_id, SellerIdentifier.key)
        .where(SellerIdentifier.seller_id.in_(ids))
        .order_by(SellerIdentifier.id)
    ):
        if seller_id is not None:
            keys.setdefault(seller_id, []).append(key)
    facts = session.execute(
        select(
            SellerIdentifier.seller_id,
            func.count(distinct(Listing.id)),
            func.count(distinct(Listing.source_id)),
            func.count(distinct(Case.id)),
            func.min(Listing.first_seen),
            func.max(Listing.last_seen),
        )
        .join(Indicator, Indicator.key == SellerIdentifier.key)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .join(Listing, ListingVersion.listing_id == Listing.id)
        .outerjoin(Case, Case.listing_id == Listing.id)
        .where(SellerIdentifier.seller_id.in_(ids))
        .group_by(SellerIdentifier.seller_id)
    )
    by_id: dict[int, tuple[Any, ...]] = {
        row[0]: tuple(row[1:]) for row in facts if row[0] is not None
    }
    summaries = []
    for seller_id in ids:
        listings, sources, cases, first, last = by_id.get(seller_id, (0, 0, 0, None, None))
        summaries.append(
            SellerSummary(
                sellers[seller_id],
                tuple(keys.get(seller_id, ())),
                listings,
                sources,
                cases,
                first,
                last,
            )
        )
    return summaries, total


def _listing_keys(session: Session, seller_id: int) -> dict[int, set[str]]:
    """Return the listings carrying the seller's identifiers, with the ones each carries."""
    keys = select(SellerIdentifier.key).where(SellerIdentifier.seller_id == seller_id)
    rows = session.execute(
        select(ListingVersion.listing_id, Indicator.key)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .where(Indicator.key.in_(keys))
        .distinct()
    )
    found: dict[int, set[str]] = {}
    for listing_id, key in rows:
        found.setdefault(listing_id, set()).add(str(key))
    return found


def seller_profile(session: Session, seller: Seller) -> SellerProfile:
    """Return what the seller page shows of a seller (not merged into another)."""
    identifiers = list(
        session.scalars(
            select(SellerIdentifier)
            .where(SellerIdentifier.seller_id == seller.id)
            .order_by(SellerIdentifier.id)
        )
    )
    carried = _listing_keys(session, seller.id)
    per_key = Counter(key for keys in carried.values() for key in keys)
    listings = _seller_listings(session, carried)
    sources: dict[tuple[str, str], int] = Counter(
        (item.source_id, item.source_name) for item in listings
    )
    listing_ids = [item.listing_id for item in listings]
    changes = seller_changes(session, [seller.id])
    return SellerProfile(
        seller=seller,
        identifiers=[IdentifierRow(i.key, i.status, per_key[i.key]) for i in identifiers],
        listings=listings,
        sources=[(sid, name, n) for (sid, name), n in sorted(sources.items())],
        substances=_substances(session, listing_ids),
        first_seen=min((item.first_seen for item in listings), default=None),
        last_seen=max((item.last_seen for item in listings), default=None),
        timeline=_timeline(session, listings, changes),
        changes=changes,
    )


def _seller_listings(session: Session, carried: dict[int, set[str]]) -> list[SellerListing]:
    if not carried:
        return []
    ids = sorted(carried)[:MAX_SELLER_LISTINGS]
    rows = session.execute(
        select(Listing, Source.name, ListingVersion, Case.id, Case.state)
        .join(Source, Listing.source_id == Source.id)
        .join(ListingVersion, ListingVersion.id == latest_version_id())
        .outerjoin(Case, Case.listing_id == Listing.id)
        .where(Listing.id.in_(ids))
        .order_by(Listing.first_seen, Listing.id)
    )
    return [
        SellerListing(
            listing_id=listing.id,
            title=version.title,
            url=listing.url,
            source_id=listing.source_id,
            source_name=source_name,
            score=version.score,
            offer=version.offer,
            first_seen=listing.first_seen,
            last_seen=listing.last_seen,
            gone_at=listing.gone_at,
            case_id=case_id,
            case_state=case_state,
            keys=tuple(sorted(carried[listing.id])),
        )
        for listing, source_name, version, case_id, case_state in rows
    ]


def _substances(session: Session, listing_ids: Sequence[int]) -> list[SubstanceRow]:
    if not listing_ids:
        return []
    rows = session.execute(
        select(
            Mention.concept_id,
            func.min(Mention.name),
            func.min(Mention.substance_class),
            func.count(distinct(ListingVersion.listing_id)),
        )
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .where(ListingVersion.listing_id.in_(listing_ids))
        .group_by(Mention.concept_id)
    )
    found = [SubstanceRow(c, n, cls, count) for c, n, cls, count in rows]
    return sorted(found, key=lambda s: (-s.listings, s.name))


def _timeline(
    session: Session, listings: Sequence[SellerListing], changes: Sequence[SellerChange]
) -> list[TimelineEntry]:
    """Return the seller's history, newest first: listings first seen, versions, cases opened
    and decided, and analysts' merges and splits."""
    by_id = {item.listing_id: item for item in listings}
    entries = [
        TimelineEntry(
            item.first_seen,
            "first_seen",
            f"first seen on {item.source_name}",
            listing_id=item.listing_id,
            case_id=item.case_id,
        )
        for item in listings
    ]
    if by_id:
        versions = session.execute(
            select(ListingVersion.listing_id, ListingVersion.created_at, ListingVersion.score)
            .where(ListingVersion.listing_id.in_(by_id))
            .order_by(ListingVersion.id)
        )
        seen: set[int] = set()
        for listing_id, at, score in versions:
            if listing_id in seen:  # the first version is the listing's first sighting
                entries.append(
                    TimelineEntry(
                        at, "version", f"changed (score {score:.2f})", listing_id=listing_id
                    )
                )
            seen.add(listing_id)
        cases = session.execute(
            select(Case.id, Case.listing_id, Case.created_at).where(Case.listing_id.in_(by_id))
        )
        for case_id, listing_id, at in cases:
            entries.append(
                TimelineEntry(at, "case_opened", "case opened", listing_id, case_id=case_id)
            )
        decisions = session.execute(
            select(CaseDecision.at, CaseDecision.to_state, Case.id, Case.listing_id)
            .join(Case, CaseDecision.case_id == Case.id)
            .where(Case.listing_id.in_(by_id))
        )
        for at, to_state, case_id, listing_id in decisions:
            entries.append(
                TimelineEntry(at, "decision", f"case {to_state}", listing_id, case_id=case_id)
            )
    for change in changes:
        if change.kind == "merge":
            text = f"seller {change.other_seller_id} merged into seller {change.seller_id}"
        else:
            keys = ", ".join(map(str, change.keys))
            text = f"{keys} split off onto seller {change.other_seller_id}"
        entries.append(TimelineEntry(change.at, "change", f"{text} by {change.actor.username}"))
        if change.undone_at is not None:
            who = change.undone_by.username if change.undone_by else "?"
            entries.append(TimelineEntry(change.undone_at, "change", f"undone: {text} by {who}"))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:MAX_TIMELINE]


def common_identifiers(session: Session) -> list[tuple[SellerIdentifier, int, int]]:
    """Return the common values, with how many listings and sources carry each now."""
    rows = list(
        session.scalars(
            select(SellerIdentifier)
            .where(SellerIdentifier.status == "common")
            .order_by(SellerIdentifier.key)
        )
    )
    if not rows:
        return []
    counts = {
        key: (listings, sources)
        for key, listings, sources in session.execute(
            select(
                Indicator.key,
                func.count(distinct(ListingVersion.listing_id)),
                func.count(distinct(Listing.source_id)),
            )
            .join(ListingVersion, Indicator.version_id == ListingVersion.id)
            .join(Listing, ListingVersion.listing_id == Listing.id)
            .where(Indicator.key.in_([row.key for row in rows]))
            .group_by(Indicator.key)
        )
    }
    return [(row, *counts.get(row.key, (0, 0))) for row in rows]


def sellers_of_listing(session: Session, listing_id: int) -> list[Seller]:
    """Return the sellers whose identifiers a listing carries (usually one), oldest first."""
    keys = (
        select(Indicator.key)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .where(ListingVersion.listing_id == listing_id, Indicator.key.is_not(None))
    )
    query = (
        select(Seller)
        .join(SellerIdentifier, SellerIdentifier.seller_id == Seller.id)
        .where(SellerIdentifier.key.in_(keys), Seller.merged_into_id.is_(None))
        .distinct()
        .order_by(Seller.id)
    )
    return list(session.scalars(query))
