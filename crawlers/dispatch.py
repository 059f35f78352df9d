"""Distributed crawls: the scheduler defers a Procrastinate job per due (source, period) on the
store's PostgreSQL, and `synthwatch worker` processes on any machine run them.

- **The unit is a crawl job**: one source, one period, the ledger row that claimed it
  (`ledger_id`). Its Procrastinate `lock` is the source (one crawl of a source at a time) and so
  is its `queueing_lock` (at most one waiting job per source: a period that falls due while the
  previous one still waits is skipped, as a local scheduler skips it beside a running crawl).
- **Claim and defer commit together** (`Dispatcher.defer` writes through the scheduler's own
  transaction), so a scheduler killed between them leaves neither or both.
- **The worker reports the run** in the ledger row, as the local scheduler does; a row no longer
  `dispatched` means the period was recorded, so a job retried after that does nothing.
- **Politeness across workers**: the crawl runs while its worker holds an advisory lock on each
  registrable domain of the source (`crawlers.crawl_worker`).

Procrastinate is imported here only: a single-machine install never loads it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from crawlers.errors import CrawlerError
from storage.job_queue import queue_schema_present

logger = logging.getLogger(__name__)

TASK_NAME = "synthwatch.crawl"
QUEUE = "crawls"
# Values of SYNTHWATCH_DISPATCH: crawl in local child processes, or defer to workers.
LOCAL, PROCRASTINATE = "local", "procrastinate"
DISPATCH_MODES = (LOCAL, PROCRASTINATE)
SCHEMA_LOCK = "synthwatch-procrastinate-schema"


class DispatchError(CrawlerError):
    """Distributed mode cannot run here (no PostgreSQL, no queue tables)."""


def source_lock(source_id: str) -> str:
    """Return the Procrastinate lock (and queueing lock) of a source's crawl jobs."""
    return f"synthwatch-source:{source_id}"


def require_postgresql(engine: Engine) -> None:
    """Raise DispatchError unless the store is on PostgreSQL."""
    if engine.dialect.name != "postgresql":
        raise DispatchError(
            "SYNTHWATCH_DISPATCH=procrastinate needs the store on PostgreSQL "
            f"(SYNTHWATCH_DATABASE_URL is {engine.dialect.name}); see docs/scale.md"
        )


def require_queue(engine: Engine) -> None:
    """Raise DispatchError unless the store is on PostgreSQL and has the queue's tables."""
    require_postgresql(engine)
    with Session(engine) as session:
        if not queue_schema_present(session):
            raise DispatchError(
                "the crawl job queue's tables are missing: run `synthwatch worker --init` once"
            )


def apply_queue_schema(engine: Engine) -> bool:
    """Create Procrastinate's tables unless they exist; True when this call made them."""
    require_postgresql(engine)
    with Session(engine) as session, session.begin():
        # Two machines initialising at once: the second waits, then finds the tables.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": SCHEMA_LOCK}
        )
        if queue_schema_present(session):
            return False
        driver: Any = session.connection().connection.driver_connection
        driver.execute(SchemaManager.get_schema())
    return True


def libpq_url(database_url: str) -> str:
    """Return the libpq URI of an SQLAlchemy PostgreSQL URL (`postgresql+psycopg://…`)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(database_url: str, *, pool_size: int = 4) -> App:
    """Return a Procrastinate app on the store's database (not opened)."""
    connector = PsycopgConnector(
        conninfo=libpq_url(database_url), min_size=1, max_size=max(2, pool_size)
    )
    return App(connector=connector)


class Dispatcher:
    """Defer crawl jobs through the scheduler's transaction."""

    def __init__(self, app: App) -> None:
        self._app = app

    def defer(
        self, session: Session, *, source_id: str, period_start: datetime, ledger_id: int
    ) -> int | None:
        """Queue the crawl of a claimed period; None when a job of the source already waits."""
        connection: Any = session.connection().connection.driver_connection
        deferrer = self._app.configure_task(
            TASK_NAME,
            queue=QUEUE,
            lock=source_lock(source_id),
            queueing_lock=source_lock(source_id),
            connection=connection,
        )
        try:
            # A savepoint (psycopg's nested transaction): the refused INSERT must not abort the
            # claim's transaction.
            with connection.transaction():
                return deferrer.defer(
                    source_id=source_id,
                    period_start=period_start.isoformat(),
                    ledger_id=ledger_id,
                )
        except AlreadyEnqueued:
            return None
