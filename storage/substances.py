"""Substances named in listings, counted over time, and lexicon candidates tallied.

The weekly counts are of listings *on offer*: a listing counts when the version that names the
substance was flagged as an offer, or when the listing has a case that an analyst has not
dismissed. News, harm-reduction and medical pages (test strips, naloxone) name substances too,
and are not counted; neither are listings an analyst dismissed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, distinct, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models import Case, LexiconCandidate, Listing, ListingVersion, Mention


@dataclass(frozen=True, slots=True)
class SubstanceTag:
    """A substance named in a listing, as a badge shows it."""

    concept_id: str
    name: str
    substance_class: str


@dataclass(frozen=True, slots=True)
class SubstanceCount:
    """How many listings on offer (and mentions in them) named a substance in a time range."""

    concept_id: str
    name: str
    substance_class: str
    offers: int
    mentions: int


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


def on_offer() -> ColumnElement[bool]:
    """Return the condition that a listing version counts as on offer (see the module doc)."""
    cases = select(Case.id).where(Case.listing_id == ListingVersion.listing_id)
    return or_(
        cases.where(Case.state != "dismissed").exists(),
        and_(ListingVersion.offer, ~cases.exists()),
    )


def _counts(start: datetime, end: datetime) -> Select[str, str, str, int, int]:
    """Count listings on offer and their mentions per substance over ``[start, end)``."""
    return (
        select(
            Mention.concept_id,
            func.min(Mention.name),
            func.min(Mention.substance_class),
            func.count(distinct(ListingVersion.listing_id)),
            func.count(Mention.id),
        )
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .where(ListingVersion.created_at >= start, ListingVersion.created_at < end, on_offer())
        .group_by(Mention.concept_id)
    )


def _sorted_counts(
    session: Session, query: Select[str, str, str, int, int]
) -> list[SubstanceCount]:
    counts = [
        SubstanceCount(concept_id, name, substance_class, offers, mentions)
        for concept_id, name, substance_class, offers, mentions in session.execute(query)
    ]
    return sorted(counts, key=lambda c: (-c.offers, -c.mentions, c.name))


def substance_counts(session: Session, *, start: datetime, end: datetime) -> list[SubstanceCount]:
    """Count, per substance, the listings on offer whose versions of ``[start, end)`` named it."""
    return _sorted_counts(session, _counts(start, end))


def first_seen_substances(
    session: Session, *, start: datetime, end: datetime
) -> list[SubstanceCount]:
    """Return the substances first named ever by a listing on offer in ``[start, end)``."""
    first = (
        select(Mention.concept_id, func.min(ListingVersion.created_at).label("first"))
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .where(on_offer())
        .group_by(Mention.concept_id)
        .subquery()
    )
    query = (
        _counts(start, end)
        .join(first, first.c.concept_id == Mention.concept_id)
        .where(first.c.first >= start, first.c.first < end)
    )
    return _sorted_counts(session, query)


def substance_classes(session: Session) -> list[str]:
    """Return every substance class that a mention has, sorted."""
    return sorted(session.scalars(select(Mention.substance_class).distinct()))


# Enough contexts for a curator to judge a term; the count keeps growing.
MAX_EXAMPLES = 5


MAX_TERM_LENGTH = 200


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """A candidate term as written and the text around it."""

    term: str
    context: str


def candidate_key(term: str) -> str:
    """Return the form a term is tallied under: lower case, single spaces."""
    return " ".join(term.lower().split())[:MAX_TERM_LENGTH]


def record_candidates(
    session: Session, candidates: list[CandidateRecord], *, version_id: int, now: datetime
) -> None:
    """Count each candidate once per listing version and keep a few example contexts."""
    record_candidates_of_versions(session, [(version_id, candidates, now)])


def record_candidates_of_versions(
    session: Session, found: Sequence[tuple[int, Sequence[CandidateRecord], datetime]]
) -> None:
    """Record the candidates of many versions at once: (version id, candidates, seen at) each,
    counted as `record_candidates` would count them one version after the other."""
    per_version: list[tuple[int, dict[str, CandidateRecord], datetime]] = []
    for version_id, candidates, now in found:
        seen: dict[str, CandidateRecord] = {}
        for candidate in candidates:
            key = candidate_key(candidate.term)
            if key:
                seen.setdefault(key, candidate)
        if seen:
            per_version.append((version_id, seen, now))
    if not per_version:
        return
    terms = sorted({key for _, seen, _ in per_version for key in seen})
    existing = {
        row.term: row
        for row in session.scalars(select(LexiconCandidate).where(LexiconCandidate.term.in_(terms)))
    }
    for version_id, seen, now in per_version:
        for key, candidate in seen.items():
            row = existing.get(key)
            if row is None:
                row = LexiconCandidate(
                    term=key, count=0, first_seen=now, last_seen=now, examples=[]
                )
                session.add(row)
                existing[key] = row
            row.count += 1
            row.last_seen = now
            if len(row.examples) < MAX_EXAMPLES:
                example = {"version_id": version_id, "context": candidate.context}
                row.examples = [*row.examples, example]
    session.flush()


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """A lexicon candidate as the digest lists it."""

    term: str
    count: int
    first_seen: datetime
    status: str


def new_lexicon_candidates(
    session: Session, *, start: datetime, end: datetime, limit: int = 20
) -> tuple[list[CandidateRow], int]:
    """Return the lexicon candidates first seen in ``[start, end)``, most frequent first, and
    how many there are in all."""
    where = (LexiconCandidate.first_seen >= start, LexiconCandidate.first_seen < end)
    total = session.scalar(select(func.count(LexiconCandidate.id)).where(*where)) or 0
    query = (
        select(LexiconCandidate)
        .where(*where)
        .order_by(LexiconCandidate.count.desc(), LexiconCandidate.term)
        .limit(limit)
    )
    rows = [CandidateRow(c.term, c.count, c.first_seen, c.status) for c in session.scalars(query)]
    return rows, total


# ---------------------------------------------------------------- week by week


@dataclass(frozen=True, slots=True)
class WeeklyCounts:
    """A substance (or a substance class) week by week: listings newly offering it, and cases
    opened on listings naming it, one number per week of the bounds asked for."""

    key: str
    name: str
    substance_class: str
    listings: tuple[int, ...]
    cases: tuple[int, ...]

    @property
    def total_listings(self) -> int:
        """Return the listings newly offering it over all the weeks."""
        return sum(self.listings)

    @property
    def total_cases(self) -> int:
        """Return the cases opened on listings naming it over all the weeks."""
        return sum(self.cases)


def weekly_substance_counts(session: Session, *, bounds: Sequence[datetime]) -> list[WeeklyCounts]:
    """Count, per substance and week, the listings that newly offered it and the cases opened.

    ``bounds`` are the weeks' first moments and the end of the last one: week ``i`` is
    ``[bounds[i], bounds[i + 1])``. A listing counts in the week its first version on offer
    naming the substance was stored (once, however often it changes after); a case counts in the
    week it was opened, when a version of its listing names the substance and no analyst
    dismissed it. Substances with nothing in any of the weeks are left out; the most offered
    come first.
    """
    return _weekly(session, Mention.concept_id, bounds)


def weekly_class_counts(session: Session, *, bounds: Sequence[datetime]) -> list[WeeklyCounts]:
    """Count, per substance class and week, as `weekly_substance_counts` counts substances: a
    listing naming two substances of one class counts once for it."""
    return _weekly(session, Mention.substance_class, bounds)


def _weekly(
    session: Session, key: InstrumentedAttribute[str], bounds: Sequence[datetime]
) -> list[WeeklyCounts]:
    _check_bounds(bounds)
    weeks = len(bounds) - 1
    start, end = bounds[0], bounds[-1]
    first = (
        select(key.label("key"), func.min(ListingVersion.created_at).label("at"))
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .where(on_offer())
        .group_by(key, ListingVersion.listing_id)
        .subquery()
    )
    opened = (
        select(key.label("key"), Case.created_at.label("at"))
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .join(Case, Case.listing_id == ListingVersion.listing_id)
        .where(Case.created_at >= start, Case.created_at < end, Case.state != "dismissed")
        .group_by(key, Case.id, Case.created_at)
        .subquery()
    )
    listings = _per_week(session, first, bounds)
    cases = _per_week(session, opened, bounds)
    keys = set(listings) | set(cases)
    if not keys:
        return []
    names = _names(session, key, keys)
    counts = []
    for found in keys:
        name, substance_class = names.get(found, (found, found))
        counts.append(
            WeeklyCounts(
                key=found,
                name=name,
                substance_class=substance_class,
                listings=tuple(listings.get(found, {}).get(week, 0) for week in range(weeks)),
                cases=tuple(cases.get(found, {}).get(week, 0) for week in range(weeks)),
            )
        )
    return sorted(counts, key=lambda c: (-c.total_listings, -c.total_cases, c.name, c.key))


def _check_bounds(bounds: Sequence[datetime]) -> None:
    if len(bounds) < 2:
        raise ValueError(f"weekly counts need at least two bounds, not {len(bounds)}")
    if any(moment.tzinfo is None for moment in bounds):
        raise ValueError("weekly counts need timezone-aware bounds")
    if any(later <= earlier for earlier, later in pairwise(bounds)):
        raise ValueError(f"the bounds of weekly counts must ascend: {list(bounds)}")


def _per_week(
    session: Session, rows: Subquery, bounds: Sequence[datetime]
) -> dict[str, dict[int, int]]:
    """Count the ``(key, at)`` rows per key and week; rows outside the bounds are left out."""
    # The week as a column of a subquery, grouped by outside: PostgreSQL binds each parameter
    # apart, so a CASE repeated in GROUP BY would not be the same expression as in SELECT.
    week = case(
        *((rows.c.at < bound, number) for number, bound in enumerate(bounds[1:])),
        else_=None,
    )
    weeks = (
        select(rows.c.key, week.label("week"))
        .where(rows.c.at >= bounds[0], rows.c.at < bounds[-1])
        .subquery()
    )
    query = select(weeks.c.key, weeks.c.week, func.count()).group_by(weeks.c.key, weeks.c.week)
    found: dict[str, dict[int, int]] = {}
    for found_key, number, count in session.execute(query):
        found.setdefault(found_key, {})[number] = count
    return found


def _names(
    session: Session, key: InstrumentedAttribute[str], keys: set[str]
) -> dict[str, tuple[str, str]]:
    """Return the name and class of each key: a substance's, or the class itself."""
    if key is Mention.substance_class:
        return {found: (found, found) for found in keys}
    query = (
        select(Mention.concept_id, func.min(Mention.name), func.min(Mention.substance_class))
        .where(Mention.concept_id.in_(sorted(keys)))
        .group_by(Mention.concept_id)
    )
    return {concept: (name, cls) for concept, name, cls in session.execute(query)}


# ---------------------------------------------------------------- first listings


@dataclass(frozen=True, slots=True)
class FirstListing:
    """A listing as the trends page links it: one of the first to name a substance or term."""

    listing_id: int
    title: str
    url: str
    seen_at: datetime


def first_listings_of_substances(
    session: Session, concept_ids: Sequence[str], *, limit: int = 3
) -> dict[str, tuple[FirstListing, ...]]:
    """Return, per substance, the first ``limit`` listings on offer that named it, earliest first;
    each with the title of the version that first named it."""
    if not concept_ids:
        return {}
    first = (
        select(
            Mention.concept_id.label("concept_id"),
            ListingVersion.listing_id.label("listing_id"),
            func.min(ListingVersion.id).label("version_id"),
        )
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .where(Mention.concept_id.in_(sorted(set(concept_ids))), on_offer())
        .group_by(Mention.concept_id, ListingVersion.listing_id)
        .subquery()
    )
    query = (
        select(first.c.concept_id, ListingVersion, Listing)
        .join(ListingVersion, ListingVersion.id == first.c.version_id)
        .join(Listing, Listing.id == ListingVersion.listing_id)
        .order_by(first.c.concept_id, ListingVersion.created_at, ListingVersion.id)
    )
    found: dict[str, list[FirstListing]] = {}
    for concept_id, version, listing in session.execute(query):
        listings = found.setdefault(concept_id, [])
        if len(listings) < limit:
            listings.append(_first_listing(listing, version))
    return {concept_id: tuple(listings) for concept_id, listings in found.items()}


def first_listings_of_candidates(
    session: Session, terms: Sequence[str], *, limit: int = 3
) -> dict[str, tuple[FirstListing, ...]]:
    """Return, per lexicon candidate, the listings of its first examples (at most ``limit``
    distinct ones), in the order they were seen."""
    if not terms:
        return {}
    candidates = list(
        session.scalars(select(LexiconCandidate).where(LexiconCandidate.term.in_(sorted(terms))))
    )
    version_ids = {
        example["version_id"]
        for candidate in candidates
        for example in candidate.examples
        if isinstance(example, dict) and isinstance(example.get("version_id"), int)
    }
    versions = {
        version.id: (version, listing)
        for version, listing in session.execute(
            select(ListingVersion, Listing)
            .join(Listing, Listing.id == ListingVersion.listing_id)
            .where(ListingVersion.id.in_(sorted(version_ids)))
        )
    }
    found: dict[str, tuple[FirstListing, ...]] = {}
    for candidate in candidates:
        listings: dict[int, FirstListing] = {}
        for example in candidate.examples:
            version_id = example.get("version_id") if isinstance(example, dict) else None
            seen = versions.get(version_id) if isinstance(version_id, int) else None
            if seen is not None and len(listings) < limit:
                version, listing = seen
                listings.setdefault(listing.id, _first_listing(listing, version))
        found[candidate.term] = tuple(listings.values())
    return found


def _first_listing(listing: Listing, version: ListingVersion) -> FirstListing:
    return FirstListing(listing.id, version.title, listing.url, version.created_at)
