"""Sources and the legal gate: registration, approval bound to a scope, suspension.

Who may approve or suspend, and the audit rows of both, are ``review.sources``'s rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import CrawlRun, Source, SourceApproval, User


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


def add_approval(
    session: Session, source: Source, *, approver: User, legal_basis: str, now: datetime
) -> SourceApproval:
    """Approve a source's current scope and lift its suspension; the caller checks who may."""
    approval = SourceApproval(
        source=source,
        scope_fingerprint=source.scope_fingerprint,
        legal_basis=legal_basis,
        approved_by=approver,
        approved_at=now,
    )
    source.suspended_at = None
    session.add(approval)
    session.flush()
    return approval


def mark_suspended(session: Session, source: Source, *, now: datetime) -> Source:
    """Stop a source from being crawled until it is approved again; the caller checks who may."""
    source.suspended_at = now
    session.flush()
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


def source_names(session: Session) -> list[tuple[str, str]]:
    """Return (id, name) of every source, by id."""
    return [(s.id, s.name) for s in session.scalars(select(Source).order_by(Source.id))]


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


def sources_not_suspended(session: Session) -> list[Source]:
    """Return the registered sources that are not suspended, by id."""
    query = select(Source).where(Source.suspended_at.is_(None)).order_by(Source.id)
    return list(session.scalars(query))


def all_sources(session: Session) -> list[Source]:
    """Return every registered source, by id."""
    return list(session.scalars(select(Source).order_by(Source.id)))


def get_source(session: Session, source_id: str) -> Source | None:
    """Return a registered source by id."""
    return session.get(Source, source_id)
