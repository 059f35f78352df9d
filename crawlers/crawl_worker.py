"""`synthwatch worker`: a Procrastinate worker running crawl jobs as child processes, K at a time.

Each job is `run_crawl` (own process group, timeout) of its source, started only once this
worker holds an advisory lock on every registrable domain of the source, so two workers never
crawl one host at once, even for two sources sharing it. The child dies with the worker
(`die_with_parent`), and the locks with the worker's database connection.

Nothing lost: every worker sends a heartbeat each `heartbeat` seconds; a job whose worker sent
none for `stalled_after` seconds is stalled, and some worker's recovery pass (every
`recover_every` seconds, one worker at a time) queues it again, so a job whose worker was killed
with SIGKILL runs again within `stalled_after + recover_every` seconds plus a fetch poll. A
crawl that ends badly is retried after `retry_wait` seconds; attempts (stalls included) are
capped at `max_attempts`, after which the ledger row records the period as failed, which the
digest's source problems list.

Evidence: with object storage, a crawl uploads its WARC bytes batch by batch and the whole file
when its run closes (`storage.evidence_store`). A file a crawl left in this machine's spool
(killed, or the final upload failed) is uploaded by `settle_spool`, which the worker runs when
it starts and before each job, once the file's run is no longer running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from procrastinate import App, JobContext, RetryStrategy
from procrastinate.jobs import Status
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from crawlers.dispatch import QUEUE, TASK_NAME, make_app
from crawlers.domains import registrable_domain
from crawlers.job_state import default_holder, ledger_detail
from crawlers.jobs import RunJob
from crawlers.runner import CrawlOutcome, run_crawl
from crawlers.sources import load_all_sources, scope_fingerprint
from storage.clock import utcnow
from storage.db import make_engine, make_session_factory, transaction
from storage.errors import StorageError
from storage.evidence_store import EvidenceStore
from storage.job_queue import DISPATCHED, note_worker, try_lock_domains, unlock_domains
from storage.models import CrawlRun, ScheduleLedger
from storage.schedule import finish_period
from storage.sources import approval_state

logger = logging.getLogger(__name__)

RECOVERY_LOCK = "synthwatch-stalled-recovery"
# Server-side TCP keepalive of the lock connection: a machine that vanishes (no FIN) loses its
# domain locks within about idle + interval * count seconds.
KEEPALIVE = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


class CrawlAttemptFailed(Exception):
    """A crawl attempt ended badly; Procrastinate retries it while attempts remain."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker runs its crawl jobs; times in seconds."""

    database_url: str
    sources: tuple[Path, ...]
    crawls: int = 2
    timeout: float = 3600.0
    max_attempts: int = 3
    retry_wait: int = 30
    heartbeat: float = 10.0
    stalled_after: float = 30.0
    recover_every: float = 10.0
    poll: float = 5.0
    lock_poll: float = 1.0
    name: str = field(default_factory=default_holder)
    env: Mapping[str, str] | None = None
    allow_loopback: bool = False
    settings: Mapping[str, str] | None = None
    # The evidence store, for the files crawls leave in this machine's spool.
    evidence: EvidenceStore | None = None


@dataclass(frozen=True, slots=True)
class WorkerCrawl:
    """The worker's default job: `run_crawl` in a child process that dies with the worker."""

    config: WorkerConfig

    def __call__(self, source_id: str, *, period_start: datetime, timeout: float) -> CrawlOutcome:
        """Crawl and wait for the child, at most `timeout` seconds."""
        return run_crawl(
            source_id,
            sources=list(self.config.sources),
            env=self.config.env,
            timeout=timeout,
            allow_loopback=self.config.allow_loopback,
            settings=self.config.settings,
            die_with_parent=True,
        )


class CrawlWorker:
    """Run crawl jobs from the queue and report each in its ledger row."""

    def __init__(self, config: WorkerConfig, *, run_job: RunJob | None = None) -> None:
        self.config = config
        self._engine = make_engine(config.database_url)
        self._locks_engine = make_engine(config.database_url, poolclass=NullPool)
        self._factory: sessionmaker[Session] = make_session_factory(self._engine)
        self._run_job: RunJob = run_job or WorkerCrawl(config)
        self.app: App = make_app(config.database_url, pool_size=config.crawls + 3)
        self.app.task(
            name=TASK_NAME,
            queue=QUEUE,
            pass_context=True,
            retry=RetryStrategy(max_attempts=config.max_attempts - 1, wait=config.retry_wait),
        )(self.crawl)

    # ------------------------------------------------------------------ one job

    def crawl(self, context: JobContext, source_id: str, period_start: str, ledger_id: int) -> str:
        """Crawl one claimed period unless it was recorded; raise to have it retried."""
        assert context.job is not None
        attempt = context.job.attempts + 1
        period = datetime.fromisoformat(period_start)
        name = f"{source_id!r} period {period:%Y-%m-%dT%H:%M:%SZ}"
        try:
            outcome = self._attempt(source_id, period, ledger_id, attempt)
        except Exception as exc:  # a job is a process boundary
            logger.exception("crawl of %s: attempt %d failed to run", name, attempt)
            detail = f"{type(exc).__name__}: {exc}"
            self._failed(ledger_id, attempt, detail)
            raise CrawlAttemptFailed(detail) from exc
        if outcome is None or outcome.ok:
            return "recorded" if outcome is None else "finished"
        detail = ledger_detail(outcome, self.config.timeout)
        self._failed(ledger_id, attempt, detail, run_id=outcome.run_id)
        raise CrawlAttemptFailed(detail)

    def _attempt(
        self, source_id: str, period: datetime, ledger_id: int, attempt: int
    ) -> CrawlOutcome | None:
        """Run the crawl and record it finished; None when there was nothing to do."""
        self.settle_spool()
        sources = {s.id: s for s in load_all_sources(self.config.sources)}
        with transaction(self._factory) as session:
            row = note_worker(
                session,
                ledger_id,
                worker=self.config.name,
                attempt=attempt,
                attempts=self.config.max_attempts,
            )
            if row is None:
                logger.info(
                    "period %d of %r was recorded before; nothing to do", ledger_id, source_id
                )
                return None
            source = sources.get(source_id)
            if source is None:
                raise CrawlAttemptFailed(f"source {source_id!r} is not in this worker's files")
            state = approval_state(session, source_id, scope_fingerprint(source))
            if state != "approved":
                finish_period(
                    session,
                    row,
                    status="skipped",
                    now=utcnow(),
                    detail=f"source {source_id!r} is {state}",
                )
                return None
        domains = sorted({registrable_domain(d) for d in source.allowed_domains})
        with self._domain_locks(domains):
            outcome = self._run_job(source_id, period_start=period, timeout=self.config.timeout)
        if outcome.ok:
            self._finish(
                ledger_id, "finished", ledger_detail(outcome, self.config.timeout), outcome.run_id
            )
        return outcome

    @contextlib.contextmanager
    def _domain_locks(self, domains: list[str]) -> Iterator[None]:
        """Hold an advisory lock on each domain while the block runs; wait for them first."""
        with self._locks_engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            for setting, value in KEEPALIVE.items():
                connection.execute(text(f"SET {setting} = {int(value)}"))
            waited = 0.0
            while (busy := try_lock_domains(connection, domains)) is not None:
                if not waited:
                    logger.info("waiting for %s: another worker crawls it", busy)
                time.sleep(self.config.lock_poll)
                waited += self.config.lock_poll
            try:
                yield
            finally:
                unlock_domains(connection, domains)

    def _failed(self, ledger_id: int, attempt: int, detail: str, run_id: int | None = None) -> None:
        """Record a failed attempt; the last one closes the ledger row as failed."""
        if attempt >= self.config.max_attempts:
            self._finish(ledger_id, "failed", f"failed {attempt} times; last: {detail}", run_id)
            return
        with transaction(self._factory) as session:
            row = session.get(ScheduleLedger, ledger_id)
            if row is not None and row.status == DISPATCHED:
                row.detail = f"attempt {attempt} failed, retrying: {detail}"

    def _finish(self, ledger_id: int, status: str, detail: str, run_id: int | None) -> None:
        with transaction(self._factory) as session:
            row = session.get(ScheduleLedger, ledger_id)
            if row is not None and row.status == DISPATCHED:
                finish_period(
                    session, row, status=status, now=utcnow(), crawl_run_id=run_id, detail=detail
                )

    def settle_spool(self) -> list[str]:
        """Upload the WARC files left in this machine's spool whose runs no longer run."""
        store = self.config.evidence
        waiting = store.spooled() if store is not None else []
        if store is None or not waiting:
            return []
        with self._factory() as session:
            runs = session.execute(
                select(CrawlRun.warc_file, CrawlRun.status).where(CrawlRun.warc_file.in_(waiting))
            ).all()
        settled = []
        for warc_file, status in runs:
            if status == "running" or warc_file is None:
                continue  # a crawl of this machine writing it, or one killed, not yet interrupted
            try:
                store.finish(warc_file)
            except (OSError, StorageError) as exc:
                logger.warning("evidence %s stays in the spool: %s", warc_file, exc)
                continue
            settled.append(warc_file)
        if settled:
            logger.info("uploaded %d WARC files left in the spool", len(settled))
        return settled

    # ------------------------------------------------------------------ stalled jobs

    async def recover_stalled(self) -> list[int]:
        """Queue again the jobs of workers without a heartbeat; fail those out of attempts.

        One worker at a time (an advisory lock), so a job is never queued twice.
        """
        recovered: list[int] = []
        with self._locks_engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            key = {"k": RECOVERY_LOCK}
            if not connection.scalar(
                text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), key
            ):
                return recovered
            try:
                manager = self.app.job_manager
                stalled = await manager.get_stalled_jobs(
                    task_name=TASK_NAME, seconds_since_heartbeat=self.config.stalled_after
                )
                for job in stalled:
                    assert job.id is not None
                    attempt = job.attempts + 1
                    ledger_id = int(job.task_kwargs.get("ledger_id") or 0)  # type: ignore[arg-type]
                    detail = f"its worker stopped sending heartbeats (attempt {attempt})"
                    if attempt >= self.config.max_attempts:
                        await manager.finish_job_by_id_async(
                            job.id, Status.FAILED, delete_job=False
                        )
                        await asyncio.to_thread(self._failed, ledger_id, attempt, detail)
                    else:
                        await manager.retry_job_by_id_async(job.id, retry_at=utcnow())
                        await asyncio.to_thread(self._failed, ledger_id, attempt, detail)
                    logger.warning(
                        "crawl job %d: %s; %s",
                        job.id,
                        detail,
                        "failed" if attempt >= self.config.max_attempts else "queued again",
                    )
                    recovered.append(job.id)
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), key)
        return recovered

    async def _recovery_loop(self) -> None:
        while True:
            try:
                await self.recover_stalled()
            except Exception:  # a side task must survive a database hiccup
                logger.exception("stalled-job recovery failed; trying again")
            await asyncio.sleep(self.config.recover_every)

    # ------------------------------------------------------------------ the process

    async def serve_async(self) -> None:
        """Run jobs until SIGTERM or SIGINT (running crawls finish first)."""
        # Crawls are sync tasks run in the loop's default executor: give it K threads.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(self.config.crawls + 2, thread_name_prefix="crawl")
        )
        try:
            await asyncio.to_thread(self.settle_spool)
        except Exception:  # the evidence store may be down; each job tries again
            logger.exception("cannot settle the evidence spool; trying again before each job")
        async with self.app.open_async():
            recovery = asyncio.create_task(self._recovery_loop(), name="stalled-recovery")
            try:
                await self.app.run_worker_async(
                    queues=[QUEUE],
                    concurrency=self.config.crawls,
                    name=self.config.name,
                    update_heartbeat_interval=self.config.heartbeat,
                    stalled_worker_timeout=self.config.stalled_after,
                    fetch_job_polling_interval=self.config.poll,
                    delete_jobs="successful",
                )
            finally:
                recovery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recovery

    def serve(self) -> None:
        """Run `serve_async` in a new event loop."""
        try:
            asyncio.run(self.serve_async())
        finally:
            self.dispose()

    def dispose(self) -> None:
        self._engine.dispose()
        self._locks_engine.dispose()


def stalled_detection(config: WorkerConfig) -> timedelta:
    """Return the longest a killed worker's job waits before it is queued again."""
    return timedelta(seconds=config.stalled_after + config.recover_every + config.poll)
