"""Storing what a crawl found, many pages at once: listings seen, new versions with their
mentions and indicators, lexicon candidates, and the cases flagged listings open.

Pages are stored as if one after the other, in order, in a handful of statements per batch
(bulk ``INSERT ... RETURNING`` and executemany ``UPDATE`` by primary key, never an ORM object
per row): the crawl's store pipeline writes a batch per transaction. A URL that comes again in
one batch is stored in a later round of the same statements, after its first occurrence.
``storage.listings.store_listing`` is the one-page form, for callers that want model rows back.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, func, or_, select, update
from sqlalchemy.orm import Session

from storage.audit import NewEvent, append_events
from storage.bulk import insert_ids, insert_rows
from storage.models import Capture, Case, Indicator, Listing, ListingVersion, Mention
from storage.sellers import link_listings
from storage.substances import CandidateRecord, record_candidates_of_versions


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
class ListingPage:
    """A fetched listing page to store: its capture (already recorded), text and analysis.

    ``etag`` and ``last_modified`` are the response's validators, kept for a conditional GET.
    """

    source_id: str
    url: str
    capture_id: int
    title: str
    text: str
    fields: dict[str, Any]
    analysis: AnalysisRecord
    now: datetime
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class ListingStored:
    """What storing a page did: its listing, its version (new, or the latest), its case."""

    listing_id: int
    version_id: int
    new_version: bool
    first_version: bool
    case_id: int | None


# Mentions and indicators stored per version, together. A listing names tens; a hostile or
# broken page can yield one every dozen characters (15,600 in 200,000 characters), and each is a
# row that every case page, export and referral of the listing loads. 2,000 keep every substance,
# kind and identifier of any real listing; ``span_counts`` keeps the whole counts.
MAX_STORED_SPANS = 2_000

Key = tuple[str, str]  # (source id, canonical URL): a listing's identity


def text_fingerprint(text: str) -> str:
    """Return the SHA-256 of a text with its whitespace normalised."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def latest_version_id() -> ScalarSelect[int | None]:
    """Return a subquery of the id of the latest version of the listing of the outer query."""
    return (
        select(func.max(ListingVersion.id))
        .where(ListingVersion.listing_id == Listing.id)
        .correlate(Listing)
        .scalar_subquery()
    )


def span_counts(analysis: AnalysisRecord) -> dict[str, Any]:
    """Return how many mentions (by substance class) and indicators (by kind) were found."""
    mentions = Counter(m.substance_class for m in analysis.mentions)
    indicators = Counter(i.kind for i in analysis.indicators)
    return {
        "mentions": dict(sorted(mentions.items())),
        "indicators": dict(sorted(indicators.items())),
    }


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


def repeat_rounds(keys: Sequence[Key]) -> list[list[int]]:
    """Split positions into rounds holding each key once: the n-th repeat goes in round n."""
    rounds: list[list[int]] = []
    seen: Counter[Key] = Counter()
    for index, key in enumerate(keys):
        repeat = seen[key]
        seen[key] += 1
        if repeat == len(rounds):
            rounds.append([])
        rounds[repeat].append(index)
    return rounds


def store_listings(session: Session, pages: Sequence[ListingPage]) -> list[ListingStored]:
    """Record listings seen: a new version where the text changed, a case where flagged."""
    results: dict[int, ListingStored] = {}
    for indexes in repeat_rounds([(page.source_id, page.url) for page in pages]):
        stored = _store_round(session, [pages[i] for i in indexes])
        results.update(zip(indexes, stored, strict=True))
    # Sellers: the identifier keys of each new version, as its indicators were stored.
    found = [
        (results[i].listing_id, [s.key for s in capped_spans(page.analysis)[1] if s.key], page.now)
        for i, page in enumerate(pages)
        if results[i].new_version
    ]
    link_listings(session, found)
    return [results[i] for i in range(len(pages))]


@dataclass(slots=True)
class _Known:
    listing_id: int
    version_id: int | None = None
    text_sha256: str | None = None
    case_id: int | None = None


def _keys_match(keys: Sequence[Key]) -> ColumnElement[bool]:
    by_source: dict[str, list[str]] = {}
    for source_id, url in keys:
        by_source.setdefault(source_id, []).append(url)
    return or_(
        *(and_(Listing.source_id == s, Listing.url.in_(urls)) for s, urls in by_source.items())
    )


def _known(session: Session, keys: Sequence[Key]) -> dict[Key, _Known]:
    """Return the stored listings among these keys, with their latest version and case."""
    rows = session.execute(
        select(
            Listing.source_id,
            Listing.url,
            Listing.id,
            ListingVersion.id,
            ListingVersion.text_sha256,
            Case.id,
        )
        .outerjoin(ListingVersion, ListingVersion.id == latest_version_id())
        .outerjoin(Case, Case.listing_id == Listing.id)
        .where(_keys_match(keys))
    )
    return {
        (source_id, url): _Known(listing_id, version_id, sha256, case_id)
        for source_id, url, listing_id, version_id, sha256, case_id in rows
    }


def _store_round(session: Session, pages: Sequence[ListingPage]) -> list[ListingStored]:
    """Store pages whose keys are all different."""
    keys = [(page.source_id, page.url) for page in pages]
    known = _known(session, keys)
    new = [page for page, key in zip(pages, keys, strict=True) if key not in known]
    if new:
        values = [
            {"source_id": page.source_id, "url": page.url, "first_seen": page.now, **_seen(page)}
            for page in new
        ]
        ids = insert_ids(session, Listing, values, ("source_id", "url"))
        for page, listing_id in zip(new, ids, strict=True):
            known[(page.source_id, page.url)] = _Known(listing_id)
    listings = [known[key] for key in keys]
    if again := [
        {"id": listing.listing_id, **_seen(page)}
        for page, listing in zip(pages, listings, strict=True)
        if listing.version_id is not None
    ]:
        session.execute(update(Listing), again)
    captures = [
        {"id": page.capture_id, "listing_id": listing.listing_id}
        for page, listing in zip(pages, listings, strict=True)
    ]
    session.execute(update(Capture), captures)

    digests = [text_fingerprint(page.text) for page in pages]
    changed = [n for n, listing in enumerate(listings) if listing.text_sha256 != digests[n]]
    version_ids = _add_versions(session, pages, listings, digests, changed)
    case_ids = _update_cases(session, pages, listings, changed, version_ids)
    return [
        ListingStored(
            listing_id=listing.listing_id,
            version_id=version_ids.get(n, listing.version_id or 0),
            new_version=n in version_ids,
            first_version=n in version_ids and listing.version_id is None,
            case_id=case_ids.get(n, listing.case_id),
        )
        for n, listing in enumerate(listings)
    ]


def _seen(page: ListingPage) -> dict[str, Any]:
    """Return the columns a listing seen now gets: seen, not gone, its validators."""
    return {
        "last_seen": page.now,
        "gone_at": None,
        "missed_crawls": 0,
        "http_etag": page.etag,
        "http_last_modified": page.last_modified,
    }


def _add_versions(
    session: Session,
    pages: Sequence[ListingPage],
    listings: Sequence[_Known],
    digests: Sequence[str],
    changed: Sequence[int],
) -> dict[int, int]:
    """Add a version for each changed page, with its spans and candidates; return their ids."""
    if not changed:
        return {}
    values = []
    for n in changed:
        page = pages[n]
        analysis = page.analysis
        values.append(
            {
                "listing_id": listings[n].listing_id,
                "capture_id": page.capture_id,
                "created_at": page.now,
                "title": page.title,
                "text": page.text,
                "text_sha256": digests[n],
                "fields": page.fields,
                "score": analysis.score,
                "offer": analysis.offer,
                "reasons": analysis.reasons,
                "context": analysis.context,
                "span_counts": span_counts(analysis),
            }
        )
    ids = insert_ids(session, ListingVersion, values, ("capture_id",))
    version_ids = dict(zip(changed, ids, strict=True))
    mentions: list[dict[str, Any]] = []
    indicators: list[dict[str, Any]] = []
    for n, version_id in version_ids.items():
        kept_mentions, kept_indicators = capped_spans(pages[n].analysis)
        mentions += [{"version_id": version_id, **vars_of(m)} for m in kept_mentions]
        indicators += [{"version_id": version_id, **vars_of(i)} for i in kept_indicators]
    insert_rows(session, Mention, mentions)
    insert_rows(session, Indicator, indicators)
    record_candidates_of_versions(
        session,
        [(v, pages[n].analysis.candidates, pages[n].now) for n, v in version_ids.items()],
    )
    return version_ids


def _update_cases(
    session: Session,
    pages: Sequence[ListingPage],
    listings: Sequence[_Known],
    changed: Sequence[int],
    version_ids: dict[int, int],
) -> dict[int, int]:
    """Give a case the score of its listing's new version; open one for a new offer, audited.

    Returns the ids of the cases opened, by position.
    """
    scores = [
        {"id": case_id, "score": pages[n].analysis.score, "updated_at": pages[n].now}
        for n in changed
        if (case_id := listings[n].case_id) is not None
    ]
    if scores:
        session.execute(update(Case), scores)
    opening = [n for n in changed if listings[n].case_id is None and pages[n].analysis.offer]
    if not opening:
        return {}
    values = [
        {
            "listing_id": listings[n].listing_id,
            "state": "new",
            "score": pages[n].analysis.score,
            "created_at": pages[n].now,
            "updated_at": pages[n].now,
        }
        for n in opening
    ]
    ids = insert_ids(session, Case, values, ("listing_id",))
    case_ids = dict(zip(opening, ids, strict=True))
    events = [
        NewEvent(
            at=pages[n].now,
            action="case.opened",
            object_type="case",
            object_id=case_id,
            detail={
                "listing_id": listings[n].listing_id,
                "version_id": version_ids[n],
                "score": pages[n].analysis.score,
            },
        )
        for n, case_id in case_ids.items()
    ]
    append_events(session, events)
    return case_ids


def mark_listings_seen(session: Session, seen: Sequence[tuple[str, str, datetime]]) -> list[bool]:
    """Record that unchanged listings (304 answers) were seen: (source id, URL, when) each.

    Returns, for each, whether it is a stored listing (an unknown one is left alone).
    """
    if not seen:
        return []
    keys = [(source_id, url) for source_id, url, _ in seen]
    rows = session.execute(
        select(Listing.source_id, Listing.url, Listing.id).where(_keys_match(keys))
    )
    ids = {(source_id, url): listing_id for source_id, url, listing_id in rows}
    values = [
        {"id": ids[key], "last_seen": now, "gone_at": None, "missed_crawls": 0}
        for key, (_, _, now) in zip(keys, seen, strict=True)
        if key in ids
    ]
    if values:
        session.execute(update(Listing), values)
    return [key in ids for key in keys]
