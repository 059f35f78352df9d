"""The scheduler's ledger (each job period runs once), its problems, and its lease (one
scheduler at a time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import Lease, ScheduleLedger


def claim_period(
    session: Session, *, job_id: str, period_start: datetime, holder: str, now: datetime
) -> ScheduleLedger | None:
    """Claim one period of a job; None when it was claimed before (by anyone)."""
    values = {
        "job_id": job_id,
        "period_start": period_start,
        "claimed_by": holder,
        "claimed_at": now,
        "status": "running",
    }
    # RETURNING says whether this INSERT made the row; rowcount is -1 on some drivers.
    claimed = session.scalar(
        _insert(session, ScheduleLedger)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(ScheduleLedger.id)
    )
    return None if claimed is None else session.get(ScheduleLedger, claimed)


def finish_period(
    session: Session,
    row: ScheduleLedger,
    *,
    status: str,
    now: datetime,
    crawl_run_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Record how a claimed period ended."""
    row.status, row.finished_at = status, now
    row.crawl_run_id, row.detail = crawl_run_id, detail
    session.flush()


def abandon_periods(session: Session, *, holder: str, now: datetime) -> list[ScheduleLedger]:
    """Close the periods other holders left running; the new lease holder calls it.

    A scheduler that died (or lost its lease) mid-crawl never finished its ledger rows.
    """
    rows = list(
        session.scalars(
            select(ScheduleLedger).where(
                ScheduleLedger.status == "running", ScheduleLedger.claimed_by != holder
            )
        )
    )
    for row in rows:
        row.status, row.finished_at = "failed", now
        row.detail = f"claimed by {row.claimed_by}, a scheduler that lost its lease before the end"
    session.flush()
    return rows


def ledger(session: Session, job_id: str) -> list[ScheduleLedger]:
    """Return a job's claimed periods, oldest first."""
    query = select(ScheduleLedger).where(ScheduleLedger.job_id == job_id)
    return list(session.scalars(query.order_by(ScheduleLedger.period_start)))


def last_period(session: Session, job_id: str) -> ScheduleLedger | None:
    """Return the ledger row of a job's latest claimed period."""
    query = select(ScheduleLedger).where(ScheduleLedger.job_id == job_id)
    return session.scalars(query.order_by(ScheduleLedger.period_start.desc()).limit(1)).first()


def acquire_lease(
    session: Session, *, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew a lease; True when ``holder`` holds it until ``now + ttl``.

    A lease held by another holder is taken over only once it has expired, so a second
    scheduler waits and takes over within ``ttl`` of the first one's death. One conditional
    UPDATE (or an INSERT racing on the primary key) decides, so two contenders never both win.
    """
    taken = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
        .values(
            holder=holder,
            expires_at=now + ttl,
            acquired_at=case((Lease.holder == holder, Lease.acquired_at), else_=now),
        )
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        session.flush()
        return True
    created = session.scalar(
        _insert(session, Lease)
        .values(name=name, holder=holder, acquired_at=now, expires_at=now + ttl)
        .on_conflict_do_nothing()
        .returning(Lease.name)
    )
    return created is not None


def release_lease(session: Session, *, name: str, holder: str) -> None:
    """Give a lease up, if ``holder`` holds it."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
    session.flush()


def _insert(session: Session, table: type[ScheduleLedger] | type[Lease]) -> Any:
    """Return an INSERT of the session's dialect, which knows ON CONFLICT DO NOTHING.

    A savepoint would do as well on PostgreSQL, but on SQLite a savepoint that is its
    transaction's first write commits on release (see storage.db).
    """
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


# Ledger statuses that mean a scheduled period did not do its work.
LEDGER_PROBLEMS = ("failed", "skipped")


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """A scheduled period that failed or was skipped."""

    job_id: str
    period_start: datetime
    status: str
    detail: str


def ledger_problems(
    session: Session, *, start: datetime, end: datetime, exclude_job: str | None = None
) -> list[LedgerProblem]:
    """Return the scheduled periods of ``[start, end)`` that failed or were skipped."""
    query = select(ScheduleLedger).where(
        ScheduleLedger.period_start >= start,
        ScheduleLedger.period_start < end,
        ScheduleLedger.status.in_(LEDGER_PROBLEMS),
    )
    if exclude_job is not None:
        query = query.where(ScheduleLedger.job_id != exclude_job)
    rows = session.scalars(query.order_by(ScheduleLedger.job_id, ScheduleLedger.period_start))
    return [LedgerProblem(r.job_id, r.period_start, r.status, r.detail or "") for r in rows]


def period_claimed(session: Session, *, job_id: str, period_start: datetime) -> bool:
    """Say whether a period of a job was claimed before (by anyone)."""
    query = select(ScheduleLedger.id).where(
        ScheduleLedger.job_id == job_id, ScheduleLedger.period_start == period_start
    )
    return session.scalar(query) is not None
