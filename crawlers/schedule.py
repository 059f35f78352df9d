"""Crawl every approved source on its schedule: APScheduler 3 triggers, child processes crawl.

The scheduler only triggers (as in scrapyd and Huginn): each crawl is `run_crawl`, a child
process with a timeout. What must survive a crash lives in the database, not in APScheduler's
memory job store:

- **One scheduler at a time.** A lease (`storage.schedule.acquire_lease`) renewed every
  ttl/12; another process polls it as often and takes over once it expires, i.e. within
  ttl + ttl/12 of the holder's death. Only the holder has crawl jobs, and each run renews the
  lease in the transaction that claims its period, so a holder that lost it starts nothing.
- **Each period once.** A period is the latest scheduled time at or before the moment a job
  starts (`period_start`): a function of the schedule and the clock only, so every process and
  every restart names it alike. `claim_period` inserts the unique (job, period) ledger row; a
  job that finds it claimed does nothing. A job that starts late (waiting for a free crawl
  worker) gets the latest period it is late for, which is what coalescing means.
- **Nothing skipped silently.** The memory job store forgets downtime, so misfire handling
  cannot notice it; instead, whenever a job is added (start, takeover, a newly approved
  source), a source whose latest period was never claimed runs at once: one catch-up run,
  however many periods were missed. The misfire grace (a day) covers firings that wait in
  this process: a crawl queued behind others for hours still runs. A firing dropped because
  the source's previous crawl was still running (`max_instances=1`) runs when that crawl ends.

In distributed mode (`dispatcher` given, `SYNTHWATCH_DISPATCH=procrastinate`) a claimed period
is queued for a `synthwatch worker` in the claim's own transaction instead of crawled here; its
ledger row stays `dispatched` until the worker records it (docs/scale.md).

Interval schedules run on a fixed grid, the epoch plus a stable per-source offset plus
multiples of the interval, so that all processes agree on the periods and a hundred daily
sources don't all start at midnight. Cron schedules are crontab lines in UTC.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    JobEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawlers.errors import SourceError
from crawlers.job_state import (
    JobInfo,
    catch_up_due,
    default_holder,
    describe_jobs,
    job_id,
    ledger_detail,
)
from crawlers.jobs import CrawlJob, PeriodicCommand, RunJob
from crawlers.sources import SourceConfig, files_signature, load_all_sources, scope_fingerprint
from storage.clock import Clock, utcnow
from storage.crawls import running_crawl
from storage.db import transaction
from storage.job_queue import DISPATCHED
from storage.models import ScheduleLedger
from storage.periods import period_start, trigger_for
from storage.schedule import (
    abandon_periods,
    acquire_lease,
    claim_period,
    finish_period,
    release_lease,
)
from storage.sources import approval_state

logger = logging.getLogger(__name__)

LEASE_NAME = "scheduler"


class Dispatch(Protocol):
    """Queue a claimed period for a worker (`crawlers.dispatch.Dispatcher`)."""

    def defer(
        self, session: Session, *, source_id: str, period_start: datetime, ledger_id: int
    ) -> int | None:
        """Queue it in the session's transaction; None when the source already has one waiting."""
        ...


class Scheduler:
    """Crawl the approved sources of some files on their schedules, one period at a time."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        source_files: Sequence[Path | str],
        *,
        run_job: RunJob | None = None,
        clock: Clock = utcnow,
        holder: str | None = None,
        lease_ttl: timedelta = timedelta(seconds=60),
        crawl_timeout: float = 3600.0,
        misfire_grace: timedelta = timedelta(days=1),
        reload_every: float = 30.0,
        max_crawls: int = 2,
        commands: Sequence[PeriodicCommand] = (),
        dispatcher: Dispatch | None = None,
    ) -> None:
        self.holder = holder or default_holder()
        self._factory = session_factory
        self._files = tuple(Path(p) for p in source_files)
        self._run_job: RunJob = run_job or CrawlJob(self._files)
        # APScheduler fires by the wall clock; the clock names periods and stamps rows.
        self._clock = clock
        self._ttl = lease_ttl
        self._timeout = crawl_timeout
        self._reload_every = reload_every
        self._lock = threading.RLock()
        self._idle = threading.Condition()
        self._running = 0
        self._holding = False
        self._stopping = False
        self._jobs: dict[str, str] = {}  # source id -> schedule of its APScheduler job
        self._commands = tuple(commands)
        self._dispatcher = dispatcher
        self._command_jobs = False
        self._overrun: set[str] = set()  # jobs whose firing found their last crawl running
        self._signature = files_signature(self._files)
        self._sources = {s.id: s for s in load_all_sources(self._files)}
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                # Crawls wait on their child process; lease and reload jobs never queue behind.
                "default": ThreadPoolExecutor(2),
                "crawls": ThreadPoolExecutor(max_crawls),
                "commands": ThreadPoolExecutor(max(1, len(commands))),
            },
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(misfire_grace.total_seconds()),
            },
        )
        self._scheduler.add_listener(
            self._on_job_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )

    @property
    def holds_lease(self) -> bool:
        """Tell whether this process held the lease at its last renewal."""
        return self._holding

    @property
    def sources(self) -> list[SourceConfig]:
        """Return the sources as last loaded from the files."""
        return list(self._sources.values())

    def start(self) -> None:
        """Try the lease once, then start polling it and watching the source files."""
        self._lease_tick()
        poll = self._ttl.total_seconds() / 12
        self._scheduler.add_job(self._lease_tick, "interval", seconds=poll, id="lease")
        self._scheduler.add_job(self._refresh, "interval", seconds=self._reload_every, id="reload")
        self._scheduler.start()
        logger.info("scheduler %s started; %d sources", self.holder, len(self._sources))

    def shutdown(self) -> None:
        """Start no more crawls, wait for the running ones, then give the lease up."""
        with self._lock:
            self._stopping = True
            self._sync()
        with self._idle:
            self._idle.wait_for(lambda: self._running == 0)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._holding:
            with transaction(self._factory) as session:
                release_lease(session, name=LEASE_NAME, holder=self.holder)
            self._holding = False
        logger.info("scheduler %s stopped", self.holder)

    def run(self, stop: threading.Event) -> None:
        """Schedule until `stop` is set (e.g. on SIGTERM), then shut down."""
        self.start()
        try:
            stop.wait()
        finally:
            self.shutdown()

    def describe(self) -> list[JobInfo]:
        """Describe the job of each source, as `describe_jobs` does."""
        with self._factory() as session:
            return describe_jobs(session, self.sources, now=self._clock())

    def next_runs(self) -> dict[str, datetime | None]:
        """Return the next fire time of each crawl job this process has now."""
        runs: dict[str, datetime | None] = {}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("crawl:"):
                runs[job.id.removeprefix("crawl:")] = job.next_run_time
        return runs

    def run_period(self, source_id: str) -> str:
        """Run the source's current period unless it was claimed; return what happened.

        Returns the ledger status (`finished`, `failed`, `skipped`, or `dispatched` when a
        dispatcher queued it for a worker), or `claimed` (ran or
        running elsewhere), `not-holder` (the lease is another's) or `no-period` (unknown
        source, a cron line that never fired, or shutting down).
        """
        with self._idle:
            self._running += 1
        try:
            return self._run_period(source_id)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _run_period(self, source_id: str) -> str:
        source = self._sources.get(source_id)
        now = self._clock()
        period = period_start(source, now) if source else None
        if source is None or period is None or self._stopping:
            return "no-period"
        name = f"{source_id!r} period {period:%Y-%m-%dT%H:%M:%SZ}"
        with transaction(self._factory) as session:
            if not acquire_lease(
                session, name=LEASE_NAME, holder=self.holder, now=now, ttl=self._ttl
            ):
                logger.warning("crawl of %s not started: the lease is another's", name)
                return "not-holder"
            row = claim_period(
                session, job_id=job_id(source_id), period_start=period, holder=self.holder, now=now
            )
            if row is None:
                logger.info("crawl of %s not started: the period was claimed before", name)
                return "claimed"
            state = approval_state(session, source_id, scope_fingerprint(source))
            if state != "approved":
                detail = f"source {source_id!r} is {state}"
                finish_period(session, row, status="skipped", now=now, detail=detail)
                logger.warning("crawl of %s skipped: %s", name, detail)
                return "skipped"
            if self._dispatcher is not None:
                return self._dispatch(session, row, source_id, period, name)
            # A crawl outlives a scheduler killed with SIGKILL (it runs in its own session);
            # never run a second crawl of the source beside it (one request per host).
            since = now - timedelta(seconds=self._timeout)
            busy = running_crawl(session, source_id=source_id, since=since)
            if busy is not None:
                detail = f"crawl run {busy} of {source_id!r} is still running"
                finish_period(session, row, status="skipped", now=now, detail=detail)
                logger.warning("crawl of %s skipped: %s", name, detail)
                return "skipped"
            row_id = row.id
        logger.info("crawl of %s started by %s", name, self.holder)
        try:
            outcome = self._run_job(source_id, period_start=period, timeout=self._timeout)
        except Exception as exc:  # the job runner is a process boundary
            logger.exception("crawl of %s failed to run", name)
            status, run_id, detail = "failed", None, f"{type(exc).__name__}: {exc}"
        else:
            status = "finished" if outcome.ok else "failed"
            run_id, detail = outcome.run_id, ledger_detail(outcome, self._timeout)
        with transaction(self._factory) as session:
            ledger_row = session.get(ScheduleLedger, row_id)
            assert ledger_row is not None
            finish_period(
                session,
                ledger_row,
                status=status,
                now=self._clock(),
                crawl_run_id=run_id,
                detail=detail,
            )
        logger.info("crawl of %s ended: %s, crawl run %s (%s)", name, status, run_id, detail)
        return status

    def _dispatch(
        self, session: Session, row: ScheduleLedger, source_id: str, period: datetime, name: str
    ) -> str:
        """Queue the claimed period for a worker, in the claim's transaction."""
        assert self._dispatcher is not None
        job = self._dispatcher.defer(
            session, source_id=source_id, period_start=period, ledger_id=row.id
        )
        if job is None:
            detail = f"the crawl job of an earlier period of {source_id!r} is still queued"
            finish_period(session, row, status="skipped", now=self._clock(), detail=detail)
            logger.warning("crawl of %s skipped: %s", name, detail)
            return "skipped"
        row.status, row.detail = DISPATCHED, f"crawl job {job} queued by {self.holder}"
        session.flush()
        logger.info("crawl of %s queued as job %d", name, job)
        return DISPATCHED

    def _on_job_event(self, event: JobEvent) -> None:
        """Run at once a period whose firing found the crawl before it still running.

        `max_instances=1` drops such a firing; its period would go unrun until the next one.
        """
        if not event.job_id.startswith("crawl:"):
            return
        with self._lock:
            if event.code == EVENT_JOB_MAX_INSTANCES:
                self._overrun.add(event.job_id)
                return
            if event.job_id not in self._overrun:
                return
            self._overrun.discard(event.job_id)
            if self._holding and not self._stopping:
                logger.info(
                    "%s: a period fell due during the last crawl; running it now", event.job_id
                )
                with contextlib.suppress(JobLookupError):
                    self._scheduler.modify_job(event.job_id, next_run_time=self._clock())

    def _lease_tick(self) -> None:
        """Take or renew the lease; gain or drop the crawl jobs when that changes.

        It goes on renewing while `shutdown` waits for running crawls, so that no other
        process starts a crawl of the same source meanwhile.
        """
        try:
            with transaction(self._factory) as session:
                now = self._clock()
                held = acquire_lease(
                    session, name=LEASE_NAME, holder=self.holder, now=now, ttl=self._ttl
                )
                if held and not self._holding:
                    for row in abandon_periods(session, holder=self.holder, now=now):
                        logger.warning("%s: %s", row.job_id, row.detail)
        except SQLAlchemyError as exc:
            logger.error("cannot take or renew the scheduler lease, so no crawls start: %s", exc)
            held = False
        with self._lock:
            if held == self._holding:
                return
            self._holding = held
            if held:
                logger.info("%s holds the scheduler lease and schedules the crawls", self.holder)
            else:
                logger.warning("%s lost the scheduler lease; stops scheduling", self.holder)
            self._sync()

    def _refresh(self) -> None:
        """Reload the source files when they changed, then match the jobs to the approvals."""
        with self._lock:
            signature = files_signature(self._files)
            if signature != self._signature:
                self._signature = signature
                try:
                    self._sources = {s.id: s for s in load_all_sources(self._files)}
                except SourceError as exc:
                    logger.error("source files not reloaded, the previous ones stay: %s", exc)
                else:
                    logger.info("source files reloaded: %d sources", len(self._sources))
            self._sync()

    def _sync_commands(self) -> None:
        """Give the periodic commands their jobs while this process holds the lease."""
        wanted = self._holding and not self._stopping
        if wanted == self._command_jobs:
            return
        for command in self._commands:
            if wanted:
                self._scheduler.add_job(
                    command,
                    "interval",
                    seconds=command.every.total_seconds(),
                    id=command.job_id,
                    name=command.job_id,
                    executor="commands",
                    next_run_time=self._clock(),
                )
            else:
                with contextlib.suppress(JobLookupError):
                    self._scheduler.remove_job(command.job_id)
        self._command_jobs = wanted

    def _sync(self) -> None:
        """Give each approved source a job (the holder only); catch up unclaimed periods."""
        self._sync_commands()
        wanted: dict[str, SourceConfig] = {}
        due: set[str] = set()
        now = self._clock()
        if self._holding and not self._stopping:
            with self._factory() as session:
                for source in self._sources.values():
                    state = approval_state(session, source.id, scope_fingerprint(source))
                    if state != "approved":
                        continue
                    wanted[source.id] = source
                    changed = self._jobs.get(source.id) != source.schedule
                    if changed and catch_up_due(session, source, now):
                        due.add(source.id)
        for source_id, schedule in list(self._jobs.items()):
            if source_id not in wanted or wanted[source_id].schedule != schedule:
                with contextlib.suppress(JobLookupError):  # a trigger that ended removed it
                    self._scheduler.remove_job(job_id(source_id))
                del self._jobs[source_id]
                logger.info("crawl job of %r removed", source_id)
        for source_id, source in wanted.items():
            if source_id in self._jobs:
                continue
            extra: dict[str, Any] = {"next_run_time": now} if source_id in due else {}
            self._scheduler.add_job(
                self.run_period,
                trigger_for(source),
                args=[source_id],
                id=job_id(source_id),
                name=job_id(source_id),
                executor="crawls",
                **extra,
            )
            self._jobs[source_id] = source.schedule
            logger.info(
                "crawl job of %r added (%s)%s",
                source_id,
                source.schedule,
                "; its latest period never ran: catching up now" if extra else "",
            )
