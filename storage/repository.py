"""Repository functions: each flushes, none commits; the caller owns the transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.audit import append_event
from storage.candidates import CandidateRecord, record_candidates
from storage.errors import ApprovalError, NotFoundError
from storage.models import (
    Capture,
    Case,
    CrawlRun,
    Indicator,
    Listing,
    ListingVersion,
    Mention,
    Source,
    SourceApproval,
    User,
)

# ---------------------------------------------------------------- users


def create_user(
    session: Session, *, username: str, password_hash: str, role: str, now: datetime
) -> User:
    """Add a user; the caller hashes the password."""
    user = User(username=username, password_hash=password_hash, role=role, created_at=now)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User | None:
    """Return the user with this name, active or not."""
    return session.scalar(select(User).where(User.username == username))


# ---------------------------------------------------------------- sources and the legal gate


def upsert_source(
    session: Session,
    *,
    source_id: str,
    name: str,
    config: dict[str, Any],
    scope_fingerprint: str,
    now: datetime,
) -> Source:
    """Register a source or update its definition; a new scope needs a new approval."""
    source = session.get(Source, source_id)
    if source is None:
        source = Source(
            id=source_id,
            name=name,
            config=config,
            scope_fingerprint=scope_fingerprint,
            created_at=now,
            updated_at=now,
        )
        session.add(source)
    elif source.config != config or source.name != name:
        source.name, source.config = name, config
        source.scope_fingerprint, source.updated_at = scope_fingerprint, now
    session.flush()
    return source


def approve_source(
    session: Session,
    *,
    source_id: str,
    approver: User,
    legal_basis: str,
    now: datetime,
    request_id: str | None = None,
) -> SourceApproval:
    """Approve a source's current scope; only an active user with the legal role may."""
    source = session.get(Source, source_id)
    if source is None:
        raise NotFoundError(f"no source {source_id!r}")
    if approver.role != "legal" or not approver.active:
        raise ApprovalError(f"{approver.username} is not an active user with the legal role")
    if not legal_basis.strip():
        raise ApprovalError(f"approving {source_id!r} needs a legal basis")
    approval = SourceApproval(
        source=source,
        scope_fingerprint=source.scope_fingerprint,
        legal_basis=legal_basis.strip(),
        approved_by=approver,
        approved_at=now,
    )
    source.suspended_at = None
    session.add(approval)
    session.flush()
    append_event(
        session,
        action="source.approved",
        object_type="source",
        object_id=source_id,
        actor=approver,
        now=now,
        detail={"scope_fingerprint": source.scope_fingerprint, "legal_basis": legal_basis},
        request_id=request_id,
    )
    return approval


def suspend_source(
    session: Session,
    *,
    source_id: str,
    actor: User,
    reason: str,
    now: datetime,
    request_id: str | None = None,
) -> Source:
    """Stop a source from being crawled until a legal user approves it again."""
    source = session.get(Source, source_id)
    if source is None:
        raise NotFoundError(f"no source {source_id!r}")
    if actor.role not in ("legal", "admin") or not actor.active:
        raise ApprovalError(f"{actor.username} is not an active user with the legal or admin role")
    if not reason.strip():
        raise ApprovalError(f"suspending {source_id!r} needs a reason")
    source.suspended_at = now
    session.flush()
    append_event(
        session,
        action="source.suspended",
        object_type="source",
        object_id=source_id,
        actor=actor,
        now=now,
        detail={"reason": reason.strip()},
        request_id=request_id,
    )
    return source


def approval_state(session: Session, source_id: str, scope_fingerprint: str) -> str:
    """Say whether a source may be crawled with this scope.

    Returns ``approved``, ``unknown`` (not registered), ``unapproved``, ``suspended`` or
    ``rescoped`` (approved for another scope than the one asked about).
    """
    source = session.get(Source, source_id)
    if source is None:
        return "unknown"
    if source.suspended_at is not None:
        return "suspended"
    if not source.approvals:
        return "unapproved"
    latest = source.approvals[-1]
    if latest.scope_fingerprint != scope_fingerprint:
        return "rescoped"
    return "approved"


# ---------------------------------------------------------------- crawling and evidence


def start_crawl_run(
    session: Session, *, source_id: str, now: datetime, warc_file: str | None = None
) -> CrawlRun:
    """Open a crawl run of a source."""
    run = CrawlRun(source_id=source_id, started_at=now, status="running", warc_file=warc_file)
    session.add(run)
    session.flush()
    return run


def finish_crawl_run(
    session: Session,
    run: CrawlRun,
    *,
    now: datetime,
    status: str,
    stats: dict[str, Any],
    error: str | None = None,
) -> None:
    """Close a crawl run with its final status and stats."""
    run.finished_at, run.status, run.stats, run.error = now, status, stats, error
    session.flush()


def record_capture(
    session: Session,
    *,
    crawl_run_id: int,
    url: str,
    http_status: int,
    content_type: str,
    fetched_at: datetime,
    warc_file: str,
    warc_offset: int,
    warc_length: int,
    payload_sha256: str,
) -> Capture:
    """Record where a fetched page's WARC record is and its payload hash."""
    capture = Capture(
        crawl_run_id=crawl_run_id,
        url=url,
        http_status=http_status,
        content_type=content_type,
        fetched_at=fetched_at,
        warc_file=warc_file,
        warc_offset=warc_offset,
        warc_length=warc_length,
        payload_sha256=payload_sha256,
    )
    session.add(capture)
    session.flush()
    return capture


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
        mentions=[Mention(**vars_of(m)) for m in analysis.mentions],
        indicators=[Indicator(**vars_of(i)) for i in analysis.indicators],
    )
    session.add(version)
    session.flush()
    record_candidates(session, analysis.candidates, version_id=version.id, now=now)
    case = _update_case(session, listing, version, now)
    return StoredListing(listing, version, new_version=True, case=case)


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


# ---------------------------------------------------------------- reading for review


def get_case(session: Session, case_id: int) -> Case | None:
    """Return a case by id."""
    return session.get(Case, case_id)


def queue(
    session: Session, *, state: str | None = "new", limit: int = 50, offset: int = 0
) -> list[Case]:
    """Return cases sorted by score (highest first), optionally of one state."""
    query = select(Case).order_by(Case.score.desc(), Case.id)
    if state is not None:
        query = query.where(Case.state == state)
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_cases(session: Session, *, state: str | None = None) -> int:
    """Count cases, optionally of one state."""
    query = select(func.count(Case.id))
    if state is not None:
        query = query.where(Case.state == state)
    return session.scalar(query) or 0
