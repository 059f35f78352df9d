"""The legal gate of sources: proposing, approving and suspending, each with its audit row.

The review app and ``synthwatch sources`` both go through here. Only an active user with the
legal role approves a source's scope, with a legal basis, and only the scope they were shown:
the approval names the fingerprint it was given, and is refused when the source's stored
fingerprint is another one by then. An active legal or admin user suspends a source, with a
reason. Registering a source's definition is the crawler's
(``crawlers.registry``); ``record_proposal`` audits it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from review.errors import ApprovalError, NotFoundError
from storage.audit import append_event
from storage.models import Source, SourceApproval, User
from storage.sources import add_approval, approval_state, get_source, mark_suspended

# The parts of a source's definition its approval is bound to (its scope fingerprint).
SCOPE_KEYS = ("allowed_domains", "seeds", "sitemaps", "search_templates")
APPROVERS = ("legal",)
SUSPENDERS = ("legal", "admin")


def registered_source(session: Session, source_id: str) -> Source:
    """Return a registered source or raise naming it."""
    source = get_source(session, source_id)
    if source is None:
        raise NotFoundError(f"no source {source_id!r}")
    return source


def source_scope(config: dict[str, Any]) -> dict[str, list[str]]:
    """Return the scope part of a source's stored definition, every key present."""
    return {key: [str(value) for value in config.get(key) or []] for key in SCOPE_KEYS}


def short_fingerprint(fingerprint: str) -> str:
    """Return the first 12 hex digits of a fingerprint, enough for a person to compare."""
    return fingerprint[:12] or "(none)"


def record_proposal(session: Session, source_id: str, *, now: datetime) -> str:
    """Audit that a registered source was proposed for approval; return its approval state."""
    source = registered_source(session, source_id)
    append_event(
        session,
        action="source.proposed",
        object_type="source",
        object_id=source.id,
        now=now,
        detail={
            "scope_fingerprint": source.scope_fingerprint,
            "scope": source_scope(source.config),
        },
    )
    return approval_state(session, source.id, source.scope_fingerprint)


def approve_source(
    session: Session,
    *,
    source_id: str,
    approver: User,
    legal_basis: str,
    fingerprint: str,
    now: datetime,
    request_id: str | None = None,
) -> SourceApproval:
    """Approve the scope ``approver`` was shown, named by its ``fingerprint``; the caller commits.

    Raises ApprovalError, writing nothing, when the source's scope is no longer that one:
    someone registered another scope between showing it and approving it. The approval row
    records the fingerprint checked here, so a scope registered concurrently, after this check,
    leaves the source ``rescoped`` rather than approved.
    """
    source = registered_source(session, source_id)
    if approver.role not in APPROVERS or not approver.active:
        raise ApprovalError(f"{approver.username} is not an active user with the legal role")
    if not legal_basis.strip():
        raise ApprovalError(f"approving {source_id!r} needs a legal basis")
    if fingerprint != source.scope_fingerprint:
        raise ApprovalError(
            f"the scope of {source_id!r} changed since it was shown (fingerprint "
            f"{short_fingerprint(source.scope_fingerprint)}, not "
            f"{short_fingerprint(fingerprint)}): review the new scope and approve again"
        )
    approval = add_approval(
        session, source, approver=approver, legal_basis=legal_basis.strip(), now=now
    )
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
    """Stop a source from being crawled until a legal user approves it again; the caller commits."""
    source = registered_source(session, source_id)
    if actor.role not in SUSPENDERS or not actor.active:
        raise ApprovalError(f"{actor.username} is not an active user with the legal or admin role")
    if not reason.strip():
        raise ApprovalError(f"suspending {source_id!r} needs a reason")
    mark_suspended(session, source, now=now)
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
