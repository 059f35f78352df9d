"""Near-duplicates: cluster listings whose latest versions are near-identical across sites.

Each listing's latest version is signed once (``cluster_pending``, run when a crawl run ends,
so the crawl's store path pays nothing): its text, stripped of its site's boilerplate, becomes
word shingles and a datasketch MinHash, kept in ``cluster_signatures`` with the fields
extraction found (substance concept ids, CAS numbers, identifier keys); its LSH bands go into
``cluster_bands``, the persistent index. A version whose bands meet another listing's is a
candidate; it matches when the estimated Jaccard similarity reaches ``MATCH_JACCARD`` and the
fields agree (``fields_agree``), so two products of one shop template do not cluster. A
matching listing joins its match's cluster, or forms a new one with it. A listing an analyst
split from a cluster (``split_member``, audited) never joins that cluster again, nor pulls one
of its members into a cluster with it.

Boilerplate is what a site repeats: a line is dropped when at least half (and at least
``BOILERPLATE_MIN_LISTINGS``) of the source's recent listings carry it, so a shop's header,
payment and shipping blurbs and footer do not make two offers look alike, nor two sites' copies
of one offer look different.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from storage.audit import append_event
from storage.bulk import insert_rows
from storage.errors import StorageError
from storage.listings import latest_version_id
from storage.models import (
    Case,
    Cluster,
    ClusterBand,
    ClusterMember,
    ClusterSignature,
    ClusterSplit,
    Indicator,
    Listing,
    ListingVersion,
    Mention,
    User,
)

# Bump when shingling, normalising or hashing changes: signatures of another format are redone.
SIGNATURE_FORMAT = 1
NUM_PERM = 128
SEED = 1
SCHEME = "affine32"  # datasketch 2's default, named: stored values must keep their meaning
SHINGLE_WORDS = 3
# Fewer words than this (after boilerplate) is too little text to call two listings alike.
MIN_WORDS = 8
# The LSH threshold (datasketch picks bands and rows for it) and the similarity a candidate
# must reach to match; measured on generated reposts with `python -m bench.clusters`.
LSH_THRESHOLD = 0.35
MATCH_JACCARD = 0.4
BOILERPLATE_SAMPLE = 60
BOILERPLATE_SHARE = 0.5
BOILERPLATE_MIN_LISTINGS = 4
BATCH = 500
# Clustering runs at the end of each crawl: on PostgreSQL two workers' runs take turns.
_LOCK_KEY = 0x5357_434C

# (field of Fields, value, offset in the text): a span that verifies a match.
Span = tuple[str, str, int]

_WORD = re.compile(r"[^\W_]+")
_DIGITS = re.compile(r"\d+")


class ClusterError(StorageError):
    """A change to a cluster that can't be made: no such cluster, or no such member."""


@dataclass(frozen=True, slots=True)
class Fields:
    """What extraction found in a version that two near-duplicates must agree on."""

    concepts: frozenset[str] = frozenset()
    cas: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, list[str]]:
        return {name: sorted(getattr(self, name)) for name in ("concepts", "cas", "keys")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fields:
        return cls(*(frozenset(data.get(name) or ()) for name in ("concepts", "cas", "keys")))


def fields_agree(a: Fields, b: Fields) -> bool:
    """Say whether two versions' fields allow them to be one offer.

    The substances must be the same; CAS numbers too when both give some; and when both give
    identifiers (handles, phones, wallets), they must share one.
    """
    if a.concepts != b.concepts:
        return False
    if a.cas and b.cas and a.cas != b.cas:
        return False
    return not (a.keys and b.keys and not a.keys & b.keys)


def words(line: str, *, numbers: bool = False) -> list[str]:
    """Return a text's words, compatibility-normalised, case-folded, each number as ``0``.

    ``numbers=True`` keeps the numbers: a line is boilerplate only with the same numbers
    (a CAS number or a price on a line of its own is the offer's, however alike its shape).
    """
    folded = unicodedata.normalize("NFKC", line).casefold()
    found = _WORD.findall(folded)
    return found if numbers else [_DIGITS.sub("0", word) for word in found]


def line_key(line: str) -> str:
    """Return a line as boilerplate is recognised: its words and numbers, normalised."""
    return " ".join(words(line, numbers=True))


def line_keys(text: str) -> list[str]:
    """Return the normalised non-empty lines of a text."""
    keys = (line_key(line) for line in text.splitlines())
    return [key for key in keys if key]


def boilerplate(texts: Iterable[str]) -> frozenset[str]:
    """Return the lines that most of these texts (one per listing of a site) carry."""
    counts: Counter[str] = Counter()
    listings = 0
    for one in texts:
        listings += 1
        counts.update(set(line_keys(one)))
    least = max(BOILERPLATE_MIN_LISTINGS, math.ceil(BOILERPLATE_SHARE * listings))
    return frozenset(line for line, count in counts.items() if count >= least)


def shingles(text: str, dropped: frozenset[str] = frozenset()) -> set[bytes]:
    """Return the word shingles of a text's lines that are not in ``dropped``."""
    kept = [
        word
        for line in text.splitlines()
        if (key := line_key(line)) and key not in dropped
        for word in words(line)
    ]
    if len(kept) < MIN_WORDS:
        return set()
    return {
        " ".join(kept[i : i + SHINGLE_WORDS]).encode() for i in range(len(kept) - SHINGLE_WORDS + 1)
    }


def minhash(found: set[bytes]) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """Return the MinHash values of a set of shingles."""
    from datasketch import MinHash  # 1-2 s to import (scipy): only where clustering runs

    signature = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    signature.update_batch(sorted(found))
    return np.asarray(signature.hashvalues, dtype=np.uint32)


@cache
def bands_and_rows() -> tuple[int, int]:
    """Return the LSH bands and rows per band datasketch chooses for LSH_THRESHOLD."""
    from datasketch import MinHashLSH

    index = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    return index.b, index.r


def buckets(values: np.ndarray[Any, np.dtype[np.uint32]]) -> list[int]:
    """Return the bucket of each LSH band of a signature (a signed 64-bit hash)."""
    bands, rows = bands_and_rows()
    raw = values.astype("<u4")
    return [
        int.from_bytes(
            hashlib.blake2b(raw[b * rows : (b + 1) * rows].tobytes(), digest_size=8).digest(),
            "little",
            signed=True,
        )
        for b in range(bands)
    ]


def similarity(a: bytes, b: bytes) -> float:
    """Return the Jaccard similarity two stored MinHashes estimate (MinHash.jaccard's formula)."""
    if not a or not b or len(a) != len(b):
        return 0.0
    return float(np.mean(np.frombuffer(a, "<u4") == np.frombuffer(b, "<u4")))


@dataclass(slots=True)
class ClusterReport:
    """What one ``cluster_pending`` call did."""

    signed: int = 0
    joined: int = 0
    clusters_created: int = 0
    left: int = 0


@dataclass(slots=True)
class _Pending:
    version_id: int
    listing_id: int
    source_id: str
    text: str
    spans: list[Span] = field(default_factory=list)
    fields: Fields = field(default_factory=Fields)
    signature: bytes = b""


def cluster_pending(session: Session, *, now: datetime, limit: int = BATCH) -> ClusterReport:
    """Sign up to ``limit`` latest versions not signed yet and cluster them; flush.

    Call again while ``signed == limit`` to work through a backlog, a transaction each.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    pending = _pending(session, limit)
    report = ClusterReport(signed=len(pending))
    if not pending:
        return report
    _sign(session, pending, now)
    _cluster(session, pending, now, report)
    session.flush()
    return report


def _pending(session: Session, limit: int) -> list[_Pending]:
    signed = select(ClusterSignature.version_id).where(
        ClusterSignature.version_id == ListingVersion.id,
        ClusterSignature.format == SIGNATURE_FORMAT,
    )
    query = (
        select(ListingVersion.id, Listing.id, Listing.source_id, ListingVersion.text)
        .join(Listing, ListingVersion.id == latest_version_id())
        .where(~signed.exists())
        .order_by(ListingVersion.id)
        .limit(limit)
    )
    rows = [_Pending(*row) for row in session.execute(query)]
    spans = _spans(session, [p.version_id for p in rows])
    for row in rows:
        row.spans = spans.get(row.version_id, [])
    return rows


def _spans(session: Session, version_ids: Sequence[int]) -> dict[int, list[Span]]:
    """Return the spans of these versions that verify a match, with their offsets."""
    found: dict[int, list[Span]] = {}
    for start in range(0, len(version_ids), 900):
        chunk = version_ids[start : start + 900]
        named = select(Mention.version_id, Mention.concept_id, Mention.start).where(
            Mention.version_id.in_(chunk)
        )
        for version_id, concept, at in session.execute(named):
            found.setdefault(version_id, []).append(("concepts", concept, at))
        spans = select(
            Indicator.version_id, Indicator.kind, Indicator.value, Indicator.key, Indicator.start
        ).where(
            Indicator.version_id.in_(chunk), (Indicator.kind == "cas") | Indicator.key.is_not(None)
        )
        for version_id, kind, value, key, at in session.execute(spans):
            if kind == "cas" and value:
                found.setdefault(version_id, []).append(("cas", value.strip(), at))
            if key:
                found.setdefault(version_id, []).append(("keys", key, at))
    return found


def fields_of(text: str, spans: Iterable[Span], dropped: frozenset[str] = frozenset()) -> Fields:
    """Return the fields of a text's spans that are not on a boilerplate line.

    A site's own contact address or a substance named in its header says nothing of the
    offer, and would make two copies of one offer on two sites disagree.
    """
    cut: list[tuple[int, int]] = []
    at = 0
    for line in text.splitlines(keepends=True):
        if dropped and line_key(line) in dropped:
            cut.append((at, at + len(line)))
        at += len(line)
    kept: dict[str, set[str]] = {"concepts": set(), "cas": set(), "keys": set()}
    for name, value, start in spans:
        if not any(low <= start < high for low, high in cut):
            kept[name].add(value)
    return Fields(frozenset(kept["concepts"]), frozenset(kept["cas"]), frozenset(kept["keys"]))


def _boilerplate_of(session: Session, source_id: str, batch: Sequence[_Pending]) -> frozenset[str]:
    """Return the boilerplate of a source from its recent listings and this batch's."""
    texts = {p.listing_id: p.text for p in batch}
    query = (
        select(Listing.id, ListingVersion.text)
        .join(ListingVersion, ListingVersion.id == latest_version_id())
        .where(Listing.source_id == source_id, Listing.id.not_in(list(texts)))
        .order_by(Listing.id.desc())
        .limit(BOILERPLATE_SAMPLE)
    )
    for listing_id, version_text in session.execute(query):
        texts[listing_id] = version_text
    return boilerplate(texts.values())


def _sign(session: Session, pending: Sequence[_Pending], now: datetime) -> None:
    by_source: dict[str, list[_Pending]] = {}
    for row in pending:
        by_source.setdefault(row.source_id, []).append(row)
    listing_ids = [p.listing_id for p in pending]
    version_ids = [p.version_id for p in pending]
    # Only a listing's latest version is in the index; a redone format replaces its row.
    old = select(ClusterSignature.version_id).where(ClusterSignature.listing_id.in_(listing_ids))
    session.execute(delete(ClusterBand).where(ClusterBand.version_id.in_(old)))
    session.execute(delete(ClusterSignature).where(ClusterSignature.version_id.in_(version_ids)))
    signatures, bands = [], []
    for source_id, rows in by_source.items():
        dropped = _boilerplate_of(session, source_id, rows)
        for row in rows:
            row.fields = fields_of(row.text, row.spans, dropped)
            found = shingles(row.text, dropped)
            values = minhash(found) if found else None
            row.signature = values.astype("<u4").tobytes() if values is not None else b""
            signatures.append(
                {
                    "version_id": row.version_id,
                    "listing_id": row.listing_id,
                    "format": SIGNATURE_FORMAT,
                    "minhash": row.signature,
                    "shingles": len(found),
                    "fields": row.fields.to_json(),
                    "created_at": now,
                }
            )
            if values is not None:
                bands += [
                    {"version_id": row.version_id, "band": n, "bucket": bucket}
                    for n, bucket in enumerate(buckets(values))
                ]
    # A plain INSERT for the JSON column (the COPY of insert_rows sends values as text).
    session.execute(insert(ClusterSignature), signatures)
    insert_rows(session, ClusterBand, bands)


@dataclass(frozen=True, slots=True)
class _Match:
    similarity: float
    listing_id: int
    version_id: int


def _matches(session: Session, row: _Pending) -> list[_Match]:
    """Return the listings whose latest version matches this one: LSH, similarity, fields."""
    if not row.signature:
        return []
    values = np.frombuffer(row.signature, "<u4")
    mine = set(enumerate(buckets(values)))
    banded = select(ClusterBand.version_id, ClusterBand.band, ClusterBand.bucket).where(
        ClusterBand.bucket.in_([bucket for _, bucket in mine]),
        ClusterBand.version_id != row.version_id,
    )
    candidates = {v for v, band, bucket in session.execute(banded) if (band, bucket) in mine}
    if not candidates:
        return []
    query = select(
        ClusterSignature.version_id,
        ClusterSignature.listing_id,
        ClusterSignature.minhash,
        ClusterSignature.fields,
    ).where(
        ClusterSignature.version_id.in_(candidates), ClusterSignature.listing_id != row.listing_id
    )
    found = []
    for version_id, listing_id, stored, fields in session.execute(query):
        score = similarity(row.signature, stored)
        if score >= MATCH_JACCARD and fields_agree(row.fields, Fields.from_json(fields)):
            found.append(_Match(score, listing_id, version_id))
    return sorted(found, key=lambda m: (-m.similarity, m.listing_id))


def _cluster(
    session: Session, pending: Sequence[_Pending], now: datetime, report: ClusterReport
) -> None:
    for row in pending:
        _place(session, row, now, report)


def _place(session: Session, row: _Pending, now: datetime, report: ClusterReport) -> None:
    """Keep a newly signed listing in its cluster, move it, or start one with its matches."""
    matches = _matches(session, row)
    involved = [row.listing_id, *(m.listing_id for m in matches)]
    members = {
        m.listing_id: m
        for m in session.scalars(
            select(ClusterMember).where(ClusterMember.listing_id.in_(involved))
        )
    }
    bans: dict[int, set[int]] = {}
    query = select(ClusterSplit.listing_id, ClusterSplit.cluster_id).where(
        ClusterSplit.listing_id.in_(involved)
    )
    for listing_id, cluster_id in session.execute(query):
        bans.setdefault(listing_id, set()).add(cluster_id)
    mine = members.get(row.listing_id)
    if mine is not None:
        if any(
            (other := members.get(m.listing_id)) and other.cluster_id == mine.cluster_id
            for m in matches
        ):
            mine.version_id = row.version_id
            return
        # Changed so far that it is like none of its cluster any more: it leaves.
        session.delete(mine)
        session.flush()
        report.left += 1
    was_in = {mine.cluster_id} if mine is not None else set()
    own_bans = bans.get(row.listing_id, set())

    def allowed(match: _Match, cluster_id: int | None) -> bool:
        if cluster_id is not None and cluster_id in own_bans:
            return False
        # Nor may a listing split from a cluster be pulled in by one of its members.
        theirs = bans.get(match.listing_id, set())
        return not theirs & (was_in | ({cluster_id} if cluster_id else set()))

    options: dict[int, float] = {}
    for match in matches:
        other = members.get(match.listing_id)
        if other is not None and allowed(match, other.cluster_id):
            options[other.cluster_id] = max(options.get(other.cluster_id, 0.0), match.similarity)
    free = [m for m in matches if m.listing_id not in members and allowed(m, None)]
    if options:
        target = max(options, key=lambda c: (options[c], -c))
        free = [m for m in free if target not in bans.get(m.listing_id, set())]
        _join(session, target, row.listing_id, row.version_id, options[target], now)
    elif free:
        cluster = Cluster(created_at=now, updated_at=now)
        session.add(cluster)
        session.flush()
        target = cluster.id
        report.clusters_created += 1
        _join(session, target, row.listing_id, row.version_id, free[0].similarity, now)
    else:
        return
    report.joined += 1 + len(free)
    for match in free:
        _join(session, target, match.listing_id, match.version_id, match.similarity, now)
    session.get_one(Cluster, target).updated_at = now
    session.flush()


def _join(
    session: Session, cluster_id: int, listing_id: int, version_id: int, score: float, now: datetime
) -> None:
    session.add(
        ClusterMember(
            cluster_id=cluster_id,
            listing_id=listing_id,
            version_id=version_id,
            similarity=round(score, 4),
            joined_at=now,
        )
    )


def cluster_of_listing(session: Session, listing_id: int) -> int | None:
    """Return the id of the cluster a listing is in, or None."""
    query = select(ClusterMember.cluster_id).where(ClusterMember.listing_id == listing_id)
    return session.scalar(query)


def cluster_sizes(session: Session, cluster_ids: Sequence[int]) -> dict[int, int]:
    """Return how many listings each of these clusters holds."""
    if not cluster_ids:
        return {}
    query = (
        select(ClusterMember.cluster_id, func.count(ClusterMember.id))
        .where(ClusterMember.cluster_id.in_(cluster_ids))
        .group_by(ClusterMember.cluster_id)
    )
    return {cluster_id: count for cluster_id, count in session.execute(query)}


def member_cases(session: Session, cluster_id: int) -> list[int]:
    """Return the ids of the cases of a cluster's listings (listings without one left out)."""
    query = (
        select(Case.id)
        .join(ClusterMember, ClusterMember.listing_id == Case.listing_id)
        .where(ClusterMember.cluster_id == cluster_id)
        .order_by(Case.score.desc(), Case.id)
    )
    return list(session.scalars(query))


def split_member(
    session: Session,
    cluster_id: int,
    listing_id: int,
    *,
    actor: User,
    now: datetime,
    reason: str = "",
    request_id: str | None = None,
) -> ClusterSplit:
    """Take a listing out of a cluster for good; audit it as ``cluster.split``; flush."""
    member = session.scalar(
        select(ClusterMember).where(
            ClusterMember.cluster_id == cluster_id, ClusterMember.listing_id == listing_id
        )
    )
    if member is None:
        raise ClusterError(f"listing {listing_id} is not in cluster {cluster_id}")
    session.delete(member)
    split = ClusterSplit(
        cluster_id=cluster_id, listing_id=listing_id, actor_id=actor.id, reason=reason, at=now
    )
    session.add(split)
    session.get_one(Cluster, cluster_id).updated_at = now
    session.flush()
    left = cluster_sizes(session, [cluster_id]).get(cluster_id, 0)
    case_id = session.scalar(select(Case.id).where(Case.listing_id == listing_id))
    append_event(
        session,
        action="cluster.split",
        object_type="cluster",
        object_id=cluster_id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={"listing_id": listing_id, "case_id": case_id, "reason": reason, "left": left},
    )
    return split
