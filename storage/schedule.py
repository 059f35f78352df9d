"""The scheduler's ledger (each job period runs once) and its lease (one scheduler at a time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Lease, ScheduleLedger


def claim_period(
    session: Session, *, job_id: str, period_start: datetime, holder: str, now: datetime
) -> ScheduleLedger | None:
    """Claim one period of a job; None when it was claimed before (by anyone)."""
    row = ScheduleLedger(
        job_id=job_id, period_start=period_start, claimed_by=holder, claimed_at=now
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


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
    if session.get(Lease, name, populate_existing=True) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, acquired_at=now, expires_at=now + ttl))
            session.flush()
    except IntegrityError:
        return False
    return True


def release_lease(session: Session, *, name: str, holder: str) -> None:
    """Give a lease up, if ``holder`` holds it."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
    session.flush()
