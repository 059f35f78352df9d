"""Sources and the legal gate: registration, approval bound to a scope, suspension."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from storage.audit import append_event
from storage.errors import ApprovalError, NotFoundError
from storage.models import (
    CrawlRun,
    Source,
    SourceApproval,
    User,
)


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
