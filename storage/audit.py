"""Append to and verify the hash-chained audit log.

Each row's hash covers its own content and the previous row's hash, so a modified, deleted,
inserted or reordered row breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, User

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"


def append_event(
    session: Session,
    *,
    action: str,
    object_type: str,
    object_id: str | int,
    now: datetime,
    actor: User | None = None,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Add an audit row chained to the last one; the caller's transaction commits it."""
    last = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        at=now,
        actor_id=actor.id if actor else None,
        actor=actor.username if actor else SYSTEM_ACTOR,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail or {},
        request_id=request_id,
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


def event_hash(event: AuditEvent) -> str:
    """Return the SHA-256 over an event's content and its predecessor's hash."""
    content = {
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "detail": event.detail,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first audit row at which the chain does not hold, and why."""

    event_id: int
    problem: str


def verify_chain(session: Session) -> ChainBreak | None:
    """Walk the audit log in order; return the first break, or None when it is intact."""
    prev = GENESIS_HASH
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != prev:
            return ChainBreak(event.id, "does not follow the previous row (deleted or reordered)")
        if event_hash(event) != event.hash:
            return ChainBreak(event.id, "content does not match its hash (modified)")
        prev = event.hash
    return None
