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

from sqlalchemy import ColumnElement, Select, and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Case, LexiconCandidate, ListingVersion, Mention


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
