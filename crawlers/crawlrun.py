"""The crawl run: opened behind the legal gate when the spider opens, closed with its stats.

When the spider opens, the source is registered (or its definition updated) and the gate is
asked: a source whose approval state for its current scope fingerprint is not `approved`
(`unapproved`, `suspended`, `rescoped`, `unknown`) gets a crawl run marked `failed` that names
the state, stat `synthwatch/gate/refused`, and `CloseSpider("not_approved")` before the
first request of any kind, robots.txt included. An approved source gets a running crawl run
whose WARC file is `evidence/<source>/<run>.warc.gz`; the pipelines write through it.

Runs of the source still marked running when a new one opens were killed: they are marked
interrupted first. The validators (ETag, Last-Modified) of the source's listings are loaded for
the spider's conditional GETs. When the crawl finishes normally and complete
(`synthwatch/incomplete` is 0), listings it did not see get a miss, and those missed by
`SYNTHWATCH_GONE_AFTER` such crawls in a row are marked gone. The run closes with the stats
documented in `storage.crawl_stats` and the seal of its WARC file (length and SHA-256), which
`storage.warc` checks the file against.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import Spider, signals
from scrapy.exceptions import CloseSpider
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from twisted.python.failure import Failure

from crawlers.errors import ConfigError
from crawlers.evidence import warc_relpath
from crawlers.registry import register_source
from crawlers.sources import SourceConfig
from crawlers.stats import record_error, run_stats
from storage import crawl_stats
from storage.clock import Clock, utcnow
from storage.clusters import BATCH as CLUSTER_BATCH
from storage.clusters import cluster_pending
from storage.crawls import finish_crawl_run, interrupt_stale_runs, start_crawl_run
from storage.db import make_engine, make_session_factory, transaction
from storage.errors import StorageError
from storage.evidence_store import EvidenceStore, LocalEvidenceStore, open_evidence_store
from storage.listings import listing_validators, mark_missing_listings
from storage.migrate import require_current
from storage.models import CrawlRun
from storage.sources import approval_state

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

GATE_REASON = "not_approved"
STORAGE_REASON = "storage_error"
GATE_STATES = {
    "unknown": "it is not registered",
    "unapproved": "no user with the legal role has approved it",
    "suspended": "its approval is suspended",
    "rescoped": "its scope changed since it was approved, so it needs a new approval",
}


def gate_error(source_id: str, state: str) -> str:
    """Return the error text of a crawl the legal gate refused."""
    why = GATE_STATES.get(state, "it may not be crawled")
    return f"legal gate: source {source_id!r} is {state}: {why}"


class CrawlRunExtension:
    """Open the crawl run behind the legal gate; close it with the crawl's stats."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        database_url: str,
        home: Path,
        run_file: Path | None = None,
        gone_after: int = 3,
        clock: Clock = utcnow,
        evidence: EvidenceStore | None = None,
    ) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.home = home
        # The WARC file is written under `home`; the store is where it is kept (and read).
        self.evidence: EvidenceStore = evidence or LocalEvidenceStore(home)
        self.run_file = run_file
        self.gone_after = gone_after
        self.clock = clock
        self.validators: dict[str, tuple[str | None, str | None]] = {}
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None
        self.source: SourceConfig | None = None
        self.run_id: int | None = None
        self.warc_file: str | None = None
        self.gate_state: str | None = None
        self.error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        run_file = settings.get("SYNTHWATCH_RUN_FILE") or None
        home = Path(settings["SYNTHWATCH_HOME"])
        try:
            evidence = open_evidence_store(
                home,
                settings.get("SYNTHWATCH_EVIDENCE_URL") or "",
                endpoint_url=settings.get("SYNTHWATCH_S3_ENDPOINT_URL") or "",
            )
        except StorageError as exc:
            raise ConfigError(str(exc)) from exc
        extension = cls(
            crawler,
            database_url=settings["SYNTHWATCH_DATABASE_URL"],
            home=home,
            run_file=Path(run_file) if run_file else None,
            gone_after=max(1, settings.getint("SYNTHWATCH_GONE_AFTER", 3)),
            evidence=evidence,
        )
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.spider_error, signal=signals.spider_error)
        crawler.signals.connect(extension.item_error, signal=signals.item_error)
        return extension

    @property
    def approved(self) -> bool:
        """Tell whether the gate let this crawl start."""
        return self.gate_state == "approved" and self.run_id is not None

    def spider_opened(self, spider: Spider) -> None:
        source = getattr(spider, "source", None)
        if not isinstance(source, SourceConfig):
            self.error = f"spider {spider.name!r} crawls no SynthWatch source"
            logger.error("%s: refusing to crawl", self.error)
            raise CloseSpider(GATE_REASON)
        self.source = source
        try:
            self._open_run(source)
        except (SQLAlchemyError, StorageError) as exc:
            self.error = f"storage: {exc}"
            logger.error("cannot open a crawl run of %r: %s", source.id, exc)
            raise CloseSpider(STORAGE_REASON) from exc
        self._write_run_file("running")
        if not self.approved:
            assert self.gate_state is not None
            self.error = gate_error(source.id, self.gate_state)
            self.crawler.stats.inc_value(crawl_stats.GATE_REFUSED)
            logger.error("%s; no request sent (crawl run %s)", self.error, self.run_id)
            raise CloseSpider(GATE_REASON)
        logger.info(
            "crawl run %s of %r opened; evidence in %s", self.run_id, source.id, self.warc_file
        )

    def _open_run(self, source: SourceConfig) -> None:
        self.engine = make_engine(self.database_url)
        require_current(self.engine)
        self.session_factory = make_session_factory(self.engine)
        now = self.clock()
        with transaction(self.session_factory) as session:
            interrupted = interrupt_stale_runs(session, source_id=source.id, now=now)
            fingerprint = register_source(session, source, now=now)
            state = approval_state(session, source.id, fingerprint)
            run = start_crawl_run(session, source_id=source.id, now=now)
            warc_file = warc_relpath(source.id, run.id) if state == "approved" else None
            run.warc_file = warc_file
            validators = listing_validators(session, source.id) if state == "approved" else {}
            session.flush()
        # Only once the transaction committed does this crawl have a run (and maybe approval).
        self.gate_state, self.run_id, self.warc_file = state, run.id, warc_file
        self.validators = validators
        if interrupted:
            self.crawler.stats.set_value(crawl_stats.INTERRUPTED_RUNS, len(interrupted))
            logger.warning(
                "crawl runs %s of %r never closed (killed?): marked interrupted",
                ", ".join(map(str, interrupted)),
                source.id,
            )

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is None or self.session_factory is None:
            self._write_run_file("failed", reason=reason)
            self._dispose()
            return
        ok = self.approved and (reason == "finished" or reason.startswith("closespider_"))
        status = "finished" if ok else "failed"
        error = self.error or (None if ok else f"crawl closed: {reason}")
        try:
            with transaction(self.session_factory) as session:
                run = session.get(CrawlRun, self.run_id)
                assert run is not None
                now = self.clock()
                # A crawl stopped early (closespider_*) saw part of the site: no misses.
                if ok and reason == "finished":
                    self._count_misses(session, run, now)
                stats = self._close_stats(run, now, reason)
                if run.warc_file and not (self.home / run.warc_file).exists():
                    run.warc_file = None  # no listing was stored, so no evidence was written
                elif run.warc_file:
                    # The pipelines closed the file before this signal: seal it as it is.
                    run.warc_bytes, run.warc_sha256 = self._seal(run.warc_file)
                finish_crawl_run(session, run, now=now, status=status, stats=stats, error=error)
        except (SQLAlchemyError, StorageError):
            logger.exception("cannot close crawl run %s", self.run_id)
        self._cluster_new_versions()
        self._settle_evidence()
        logger.info("crawl run %s %s (%s)", self.run_id, status, reason)
        self._write_run_file(status, reason=reason)
        self._dispose()

    def _cluster_new_versions(self) -> None:
        """Cluster the listing versions stored since the last run (storage.clusters), off the
        store path: a batch per transaction; a failure costs only the clustering, redone later."""
        assert self.session_factory is not None
        try:
            while True:
                with transaction(self.session_factory) as session:
                    report = cluster_pending(session, now=self.clock())
                if report.signed < CLUSTER_BATCH:
                    return
        except (SQLAlchemyError, StorageError):
            logger.exception("cannot cluster the versions of crawl run %s", self.run_id)

    def _seal(self, warc_file: str) -> tuple[int | None, str | None]:
        """Return the evidence file's length and SHA-256, or nothing when it cannot be read."""
        try:
            return LocalEvidenceStore(self.home).seal(warc_file)
        except OSError as exc:
            logger.error("cannot seal %s (verified record by record only): %s", warc_file, exc)
            return None, None

    def _settle_evidence(self) -> None:
        """Hand the closed run's WARC file to the store (an upload, for object storage).

        Every committed capture's bytes are in the store already (`publish`, batch by batch),
        so a failure here costs only the tidying: a worker settles the file later.
        """
        if self.warc_file is None:
            return
        try:
            self.evidence.finish(self.warc_file)
        except (OSError, StorageError) as exc:
            logger.error("evidence %s left in the spool for later: %s", self.warc_file, exc)

    def _count_misses(self, session: Session, run: CrawlRun, now: datetime) -> None:
        """Give a miss to the listings a complete crawl did not see; mark gone the long missed."""
        stats = self.crawler.stats
        partial = int(stats.get_value(crawl_stats.INCOMPLETE, 0))
        if partial:
            logger.info(
                "crawl run %s saw the site partly (%s failures): no misses", run.id, partial
            )
            return
        assert self.source is not None
        missed, gone = mark_missing_listings(
            session,
            source_id=self.source.id,
            run_started=run.started_at,
            gone_after=self.gone_after,
            now=now,
        )
        stats.set_value(crawl_stats.LISTINGS_MISSED, missed)
        stats.set_value(crawl_stats.LISTINGS_GONE, gone)

    def _close_stats(self, run: CrawlRun, now: datetime, reason: str) -> dict[str, Any]:
        stats = self.crawler.stats
        stats.set_value(crawl_stats.REQUESTS, stats.get_value(crawl_stats.SCRAPY_REQUEST_COUNT, 0))
        duration = (now - run.started_at).total_seconds()
        stats.set_value(crawl_stats.DURATION_SECONDS, round(duration, 3))
        return run_stats(stats.get_stats(), reason)

    def spider_error(self, failure: Failure, response: Any, spider: Spider) -> None:
        self._record_error("spider", getattr(response, "url", "?"))

    def item_error(self, item: Any, response: Any, spider: Spider, failure: Failure) -> None:
        self._record_error("pipeline", str(getattr(item, "url", getattr(response, "url", "?"))))

    def _record_error(self, reason: str, url: str) -> None:
        limit = self.crawler.settings.getint("SYNTHWATCH_ERROR_URLS_MAX", 200)
        record_error(self.crawler.stats, reason, url, limit)

    def _write_run_file(self, status: str, reason: str | None = None) -> None:
        if self.run_file is None:
            return
        data = {
            "crawl_run_id": self.run_id,
            "source_id": self.source.id if self.source else None,
            "status": status,
            "gate": self.gate_state,
            "error": self.error,
            "finish_reason": reason,
            "pid": os.getpid(),
        }
        self.run_file.parent.mkdir(parents=True, exist_ok=True)
        # Written whole or not at all: the runner polls this file as the child's handshake.
        partial = self.run_file.with_name(self.run_file.name + ".partial")
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        partial.replace(self.run_file)

    def _dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None
