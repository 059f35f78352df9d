"""The crawl job queue's SQL on PostgreSQL: Procrastinate's tables as `synthwatch jobs` reads
them, the ledger notes of dispatched periods, and the per-domain advisory locks of workers.

Procrastinate owns its tables (`procrastinate_jobs`, `procrastinate_workers`); this module only
reads them. A dispatched period's ledger row has the status `dispatched` until a worker records
how it ended; while it runs, its detail names the worker (`WORKER_NOTE`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from storage.models import ScheduleLedger

DISPATCHED = "dispatched"
# How a running period's ledger detail names its worker; `worker_of` reads it back.
WORKER_NOTE = "attempt {attempt} of {attempts} on worker {worker}"
_WORKER = re.compile(r"on worker (\S+)")
# Advisory lock keys of domains live in their own key space (hashed with this prefix).
DOMAIN_LOCK_PREFIX = "synthwatch-domain:"


def queue_schema_present(session: Session) -> bool:
    """Tell whether Procrastinate's tables exist in this database."""
    return bool(session.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")))


def note_worker(
    session: Session, ledger_id: int, *, worker: str, attempt: int, attempts: int
) -> ScheduleLedger | None:
    """Name the worker running a dispatched period; None if the period is no longer open."""
    row = session.get(ScheduleLedger, ledger_id)
    if row is None or row.status != DISPATCHED:
        return None
    row.detail = WORKER_NOTE.format(attempt=attempt, attempts=attempts, worker=worker)
    session.flush()
    return row


def worker_of(detail: str | None) -> str | None:
    """Return the worker a dispatched period's ledger detail names, if any."""
    found = _WORKER.search(detail or "")
    return found.group(1) if found else None


def try_lock_domains(connection: Connection, domains: Iterable[str]) -> str | None:
    """Take a session advisory lock on every domain, or none; return the one held elsewhere.

    The locks live as long as the connection: a worker killed with SIGKILL loses its
    connection, and PostgreSQL releases them.
    """
    taken: list[str] = []
    for domain in sorted(set(domains)):
        got = connection.scalar(
            text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"),
            {"key": DOMAIN_LOCK_PREFIX + domain},
        )
        if not got:
            unlock_domains(connection, taken)
            return domain
        taken.append(domain)
    return None


def unlock_domains(connection: Connection, domains: Iterable[str]) -> None:
    """Release domain locks this connection holds."""
    for domain in domains:
        connection.execute(
            text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"),
            {"key": DOMAIN_LOCK_PREFIX + domain},
        )


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """A crawl job as `synthwatch jobs` shows it."""

    id: int
    state: str  # queued, running, stalled, failed
    source_id: str
    period_start: str
    attempts: int
    worker_id: int | None
    worker: str | None
    detail: str

    def to_dict(self) -> dict[str, object]:
        """Return the job as JSON-ready data."""
        return {
            "id": self.id,
            "state": self.state,
            "source": self.source_id,
            "period_start": self.period_start,
            "attempts": self.attempts,
            "worker_id": self.worker_id,
            "worker": self.worker,
            "detail": self.detail,
        }


JOBS_QUERY = text(
    """
    SELECT j.id, j.status, j.attempts, j.worker_id, j.args,
           (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :stalled))
               AS stalled,
           l.detail
      FROM procrastinate_jobs j
      LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
      LEFT JOIN schedule_ledger l ON l.id = (j.args ->> 'ledger_id')::int
     WHERE j.task_name = :task AND j.status IN ('todo', 'doing', 'failed')
     ORDER BY j.id
    """
)


def queued_jobs(session: Session, *, task_name: str, stalled_after: float) -> list[QueuedJob]:
    """Return the crawl jobs queued, running, stalled (no heartbeat for `stalled_after`
    seconds) or failed."""
    jobs: list[QueuedJob] = []
    for row in session.execute(JOBS_QUERY, {"task": task_name, "stalled": stalled_after}):
        if row.status == "todo":
            state = "queued"
        elif row.status == "doing":
            state = "stalled" if row.stalled else "running"
        else:
            state = "failed"
        args = row.args or {}
        jobs.append(
            QueuedJob(
                id=row.id,
                state=state,
                source_id=str(args.get("source_id", "")),
                period_start=str(args.get("period_start", "")),
                attempts=int(row.attempts),
                worker_id=row.worker_id,
                worker=worker_of(row.detail) if state != "queued" else None,
                detail=row.detail or "",
            )
        )
    return jobs
