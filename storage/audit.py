"""Append to, verify and read the hash-chained audit log.

Each row's hash covers its own content and the previous row's hash, so a modified, deleted,
inserted or reordered row breaks the chain at that row. Rows cut off the end leave a chain that
still holds; a *checkpoint* (the id and hash of the last row, exported and kept elsewhere) is what
shows them missing.

Each row records the format its hash was computed with (``hash_format``). Format 1 left out
``actor_id``; format 2 covers it and the format number itself. Rows written before format 2
keep format 1 and still verify, and their ``actor_id`` stays unprotected; every row written
since is format 2, and a format that goes down along the chain is a break.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import AUDIT_HASH_FORMAT, AuditEvent, User

Ts = TypeVarTuple("Ts")

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"
CHECKPOINT_FORMAT = "synthwatch-audit-checkpoint-1"
# PostgreSQL advisory lock id of the audit chain ("SWAUDIT" as a number).
PG_LOCK_KEY = 0x5357_4155_4449_54
# Rows read per round trip while walking the chain.
VERIFY_BATCH = 1000

# The hash formats this code verifies: what each adds to format 1's fields.
HASH_FORMATS = {1: (), 2: ("actor_id", "hash_format")}

# What ChainBreak.kind says happened.
MODIFIED, DELETED, INSERTED, REORDERED, TRUNCATED = (
    "modified",
    "deleted",
    "inserted",
    "reordered",
    "truncated",
)


# Who a row names when no user is given: "system", unless a command line named the person at
# it for the rows its command writes (``synthwatch --as NAME``, else the OS user).
_unnamed_actor: ContextVar[str] = ContextVar("synthwatch_unnamed_actor", default=SYSTEM_ACTOR)


class CheckpointError(StorageError):
    """A checkpoint file that can't be read."""


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Name ``name`` as the actor of the rows written without a user inside the block."""
    token = _unnamed_actor.set(name[:64])
    try:
        yield
    finally:
        _unnamed_actor.reset(token)


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
    (event,) = append_events(
        session,
        [NewEvent(now, action, object_type, object_id, detail)],
        actor=actor,
        request_id=request_id,
    )
    return event


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An audit row to append: when, what was done, to what."""

    at: datetime
    action: str
    object_type: str
    object_id: str | int
    detail: dict[str, Any] | None = None


def append_events(
    session: Session,
    events: Sequence[NewEvent],
    *,
    actor: User | None = None,
    request_id: str | None = None,
) -> list[AuditEvent]:
    """Add audit rows in order, each chained to the one before; one lock and one read for all."""
    lock_chain(session)
    last = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    prev_hash = last.hash if last else GENESIS_HASH
    rows = []
    for new in events:
        event = AuditEvent(
            at=new.at,
            actor_id=actor.id if actor else None,
            actor=actor.username if actor else _unnamed_actor.get(),
            action=new.action,
            object_type=new.object_type,
            object_id=str(new.object_id)[:64],
            detail=new.detail or {},
            request_id=request_id,
            prev_hash=prev_hash,
            hash_format=AUDIT_HASH_FORMAT,
        )
        event.hash = prev_hash = event_hash(event)
        rows.append(event)
    # The unit of work inserts rows of one table in the order they were added: ids follow
    # the chain.
    session.add_all(rows)
    session.flush()
    return rows


def lock_chain(session: Session) -> None:
    """Hold the chain's lock until the transaction ends, so two writers never fork the chain.

    Without it, two transactions could both read the same last row and both chain to it. On
    SQLite this is the database's write lock: a transaction that takes it before it reads
    anything never reads data that another writer changes before it commits.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    else:
        # SQLite has one write lock per database; any write statement takes it, even one that
        # changes no row, and keeps it until commit.
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == -1)
            .values(action=AuditEvent.action)
            .execution_options(synchronize_session=False)
        )


def event_hash(event: AuditEvent) -> str:
    """Return the SHA-256 over an event's content and its predecessor's hash, in its format.

    A row not yet flushed without a format is hashed in the format it will be stored with.
    """
    version = event.hash_format if event.hash_format is not None else AUDIT_HASH_FORMAT
    if version not in HASH_FORMATS:
        raise StorageError(f"audit row {event.id}: unknown hash format {version}")
    content: dict[str, Any] = {
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "detail": event.detail,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    }
    if "actor_id" in HASH_FORMATS[version]:
        content["actor_id"] = event.actor_id
    if "hash_format" in HASH_FORMATS[version]:
        content["hash_format"] = version
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def event_data(event: AuditEvent) -> dict[str, Any]:
    """Return an audit row as JSON-ready data, with everything needed to recompute its hash."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "detail": event.detail,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "hash_format": event.hash_format,
    }


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first audit row at which the chain does not hold, what happened and why."""

    event_id: int
    problem: str
    kind: str = MODIFIED


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The last row of the log when it was exported: a later log must still contain it."""

    event_id: int
    hash: str
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the checkpoint as JSON-ready data."""
        return {
            "format": CHECKPOINT_FORMAT,
            "event_id": self.event_id,
            "hash": self.hash,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "checkpoint") -> Checkpoint:
        """Read a checkpoint written by ``to_dict``."""
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{where}: not a {CHECKPOINT_FORMAT} file")
        event_id, digest = data.get("event_id"), data.get("hash")
        if not isinstance(event_id, int) or event_id < 1:
            raise CheckpointError(f"{where}: event_id must be a positive integer")
        if not isinstance(digest, str) or len(digest) != 64:
            raise CheckpointError(f"{where}: hash must be 64 hex digits")
        return cls(event_id=event_id, hash=digest, at=str(data.get("at", "")))


def checkpoint(session: Session) -> Checkpoint | None:
    """Return the checkpoint of the log as it is now, or None when it is empty."""
    last = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    if last is None:
        return None
    return Checkpoint(event_id=last.id, hash=last.hash, at=last.at.isoformat())


def iter_events(
    session: Session, *, after_id: int = 0, batch: int = VERIFY_BATCH
) -> Iterator[AuditEvent]:
    """Yield the audit rows in id order, a batch at a time (the log can be long)."""
    while True:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.id > after_id)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
        )
        yield from rows
        if len(rows) < batch:
            return
        after_id = rows[-1].id


def verify_chain(session: Session, checkpoint: Checkpoint | None = None) -> ChainBreak | None:
    """Walk the audit log in order; return the first break, or None when it is intact.

    With a ``checkpoint`` the log must also still contain the row it names, unchanged, so rows
    cut off the end (and rows written again after such a cut) are found as well.
    """
    prev: AuditEvent | None = None
    reached_checkpoint = False
    newest_format = 0
    for event in iter_events(session):
        expected = prev.hash if prev else GENESIS_HASH
        if event.prev_hash != expected:
            return _diagnose_link(session, event, prev)
        if event.hash_format not in HASH_FORMATS:
            return ChainBreak(
                event.id, f"unknown hash format {event.hash_format!r} (modified)", MODIFIED
            )
        if event.hash_format < newest_format:
            # Only rows from before a format existed use an older one: a later row that does
            # was changed to leave fields (actor_id) out of its hash.
            return ChainBreak(
                event.id,
                f"hashed with format {event.hash_format} after rows of format {newest_format} "
                "(modified)",
                MODIFIED,
            )
        newest_format = event.hash_format
        if event_hash(event) != event.hash:
            return ChainBreak(event.id, "content does not match its hash (modified)", MODIFIED)
        if checkpoint is not None and event.id == checkpoint.event_id:
            if event.hash != checkpoint.hash:
                return ChainBreak(
                    event.id,
                    "differs from the checkpoint's row: the log was cut and written again",
                    TRUNCATED,
                )
            reached_checkpoint = True
        prev = event
    if checkpoint is not None and not reached_checkpoint:
        kept = session.scalar(
            select(func.max(AuditEvent.id)).where(AuditEvent.id <= checkpoint.event_id)
        )
        first_missing = (kept or 0) + 1
        return ChainBreak(
            first_missing,
            f"missing: the checkpoint names row {checkpoint.event_id}, but the log holds no row "
            f"from {first_missing} to {checkpoint.event_id} (truncated tail)",
            TRUNCATED,
        )
    return None


def _diagnose_link(session: Session, event: AuditEvent, prev: AuditEvent | None) -> ChainBreak:
    """Say why ``event`` does not follow ``prev``: which row is at fault, and how."""
    linked = session.scalar(select(AuditEvent.id).where(AuditEvent.hash == event.prev_hash))
    if linked is not None and linked > event.id:
        return ChainBreak(
            event.id, f"follows row {linked}, which comes after it (reordered)", REORDERED
        )
    if linked is not None:
        # It follows an earlier row than its predecessor: the rows between were put in.
        first_inserted = session.scalar(
            select(func.min(AuditEvent.id)).where(AuditEvent.id > linked, AuditEvent.id < event.id)
        )
        return ChainBreak(
            first_inserted if first_inserted is not None else event.id,
            f"not part of the chain: row {event.id} follows row {linked} directly (inserted)",
            INSERTED,
        )
    following = session.scalar(
        select(AuditEvent).where(AuditEvent.id > event.id).order_by(AuditEvent.id).limit(1)
    )
    expected = prev.hash if prev else GENESIS_HASH
    if following is not None and following.prev_hash == expected:
        return ChainBreak(
            event.id,
            f"not part of the chain: the next row follows row {prev.id if prev else 0} (inserted)",
            INSERTED,
        )
    if prev is not None and prev.id + 1 == event.id:
        return ChainBreak(
            prev.id,
            f"changed and its hash computed again: row {event.id} links to its old hash (modified)",
            MODIFIED,
        )
    gap = f" (rows {prev.id + 1} to {event.id - 1} are absent)" if prev else ""
    return ChainBreak(
        event.id,
        f"does not follow the previous row: the row it follows is missing{gap} (deleted)",
        DELETED,
    )


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


def has_event(session: Session, *, action: str, object_type: str, object_id: str) -> bool:
    """Say whether the audit log holds an event of this action about this object."""
    query = select(AuditEvent.id).where(
        AuditEvent.action == action,
        AuditEvent.object_type == object_type,
        AuditEvent.object_id == object_id,
    )
    return session.scalar(query.limit(1)) is not None
