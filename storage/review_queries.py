"""Read-only queries of the review app's case, sources and audit pages: they change nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVarTuple

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from storage.identifiers import IDENTIFIER_KINDS, Identifier, identifier_of
from storage.models import (
    AuditEvent,
    Capture,
    Case,
    CrawlRun,
    Indicator,
    Listing,
    ListingVersion,
    Source,
    SourceApproval,
)
from storage.queries import latest_version_id
from storage.repository import approval_state

Ts = TypeVarTuple("Ts")


# ---------------------------------------------------------------- one case


@dataclass(frozen=True, slots=True)
class SharedListing:
    """Another listing that names one of the same identifiers (handle, phone, e-mail, wallet)."""

    listing_id: int
    case_id: int | None
    case_state: str | None
    title: str
    url: str
    source_name: str
    identifiers: tuple[str, ...]


# Rows of other listings' indicators read per case page, at most.
MAX_SHARED_CANDIDATES = 5000


def shared_identifier_listings(session: Session, listing_id: int) -> list[SharedListing]:
    """Return the other listings whose indicators carry an identifier this listing's carry."""
    own = session.execute(
        select(Indicator.kind, Indicator.value, Indicator.text)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .where(ListingVersion.listing_id == listing_id, Indicator.kind.in_(IDENTIFIER_KINDS))
    ).all()
    wanted = {found for kind, value, text in own if (found := identifier_of(kind, value, text))}
    if not wanted:
        return []
    tokens = {_search_token(identifier) for identifier in wanted}
    query = (
        select(ListingVersion.listing_id, Indicator.kind, Indicator.value, Indicator.text)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .where(
            ListingVersion.listing_id != listing_id,
            Indicator.kind.in_(IDENTIFIER_KINDS),
            or_(
                *(Indicator.text.icontains(t, autoescape=True) for t in tokens),
                *(Indicator.value.icontains(t, autoescape=True) for t in tokens),
            ),
        )
        .limit(MAX_SHARED_CANDIDATES)
    )
    shared: dict[int, set[str]] = {}
    for other_id, kind, value, text in session.execute(query):
        found = identifier_of(kind, value, text)
        if found is not None and found in wanted:
            shared.setdefault(other_id, set()).add(found.key)
    if not shared:
        return []
    rows = session.execute(
        select(Listing, Source, ListingVersion, Case)
        .join(Source, Listing.source_id == Source.id)
        .join(ListingVersion, ListingVersion.id == latest_version_id())
        .outerjoin(Case, Case.listing_id == Listing.id)
        .where(Listing.id.in_(shared))
        .order_by(Listing.id)
    ).all()
    return [
        SharedListing(
            listing_id=listing.id,
            case_id=case.id if case else None,
            case_state=case.state if case else None,
            title=version.title,
            url=listing.url,
            source_name=source.name,
            identifiers=tuple(sorted(shared[listing.id])),
        )
        for listing, source, version, case in rows
    ]


def _search_token(identifier: Identifier) -> str:
    # A phone number is written with spaces and dashes; its last four digits rarely are split.
    if identifier.kind == "phone":
        return identifier.key[-4:]
    return identifier.key.split(":", 1)[-1]


def case_audit(session: Session, case_id: int) -> list[AuditEvent]:
    """Return the audit rows about a case, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case_id))
        .order_by(AuditEvent.id)
    )
    return list(session.scalars(query))


def audit_excerpt(
    session: Session, *, case_id: int, capture_ids: Sequence[int], source_id: str
) -> list[AuditEvent]:
    """Return the audit rows a referral of a case carries: the case, its captures, its source."""
    query = (
        select(AuditEvent)
        .where(
            or_(
                (AuditEvent.object_type == "case") & (AuditEvent.object_id == str(case_id)),
                (AuditEvent.object_type == "capture")
                & AuditEvent.object_id.in_([str(i) for i in capture_ids]),
                (AuditEvent.object_type == "source") & (AuditEvent.object_id == source_id),
            )
        )
        .order_by(AuditEvent.id)
    )
    return list(session.scalars(query))


def listing_captures(session: Session, listing_id: int) -> list[Capture]:
    """Return every capture of a listing, oldest first."""
    query = select(Capture).where(Capture.listing_id == listing_id).order_by(Capture.id)
    return list(session.scalars(query))


# ---------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True)
class SourceOverview:
    """A source as the sources page shows it: approval and how its last crawls went."""

    source: Source
    approval_state: str
    latest_approval: SourceApproval | None
    last_run: CrawlRun | None
    recent_errors: tuple[CrawlRun, ...]


def source_overviews(session: Session, *, errors: int = 3) -> list[SourceOverview]:
    """Return every source with its approval state, last crawl run and recent failed runs."""
    overviews = []
    for source in session.scalars(select(Source).order_by(Source.id)):
        last_run = session.scalar(
            select(CrawlRun)
            .where(CrawlRun.source_id == source.id)
            .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
            .limit(1)
        )
        failed = session.scalars(
            select(CrawlRun)
            .where(CrawlRun.source_id == source.id, CrawlRun.error.is_not(None))
            .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
            .limit(errors)
        )
        overviews.append(
            SourceOverview(
                source=source,
                approval_state=approval_state(session, source.id, source.scope_fingerprint),
                latest_approval=source.approvals[-1] if source.approvals else None,
                last_run=last_run,
                recent_errors=tuple(failed),
            )
        )
    return overviews


# ---------------------------------------------------------------- the audit log


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit rows the audit page shows."""

    action: str | None = None
    actor: str | None = None
    object_type: str | None = None
    object_id: str | None = None


def _audit_filtered(query: Select[*Ts], filters: AuditFilter) -> Select[*Ts]:
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor:
        query = query.where(AuditEvent.actor == filters.actor)
    if filters.object_type:
        query = query.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEvent.object_id == filters.object_id)
    return query


def audit_page(
    session: Session, filters: AuditFilter, *, limit: int = 100, offset: int = 0
) -> list[AuditEvent]:
    """Return a page of audit rows, newest first."""
    query = _audit_filtered(select(AuditEvent), filters).order_by(AuditEvent.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_audit(session: Session, filters: AuditFilter) -> int:
    """Count the audit rows a filter selects."""
    return session.scalar(_audit_filtered(select(func.count(AuditEvent.id)), filters)) or 0


def audit_actions(session: Session) -> list[str]:
    """Return every action the audit log holds, sorted."""
    return sorted(session.scalars(select(AuditEvent.action).distinct()))
