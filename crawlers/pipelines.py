"""Item pipelines, in this order: evidence (WARC) → extract (nlp) → store (database).

The order is the evidence invariant: a page's WARC records are written before its text is
analysed, and synced to disk before its listing row commits. A page without evidence is
dropped, never stored. A page the analyser fails on is stored with its evidence, unanalysed
(score 0), with the error in its `extraction` field and the run's errors (`analysis`): a
hostile page must not escape storage by breaking the analyser. An `UnchangedListing` (a 304)
passes evidence and extraction untouched: the store only records that it was seen.

The store commits in batches (group commit, `crawlers.store_batch`): one transaction and one
WARC fsync per batch of `SYNTHWATCH_STORE_BATCH_SIZE` items or `SYNTHWATCH_STORE_BATCH_SECONDS`,
written on a thread of its own; an item is stored (and counted) once its batch committed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from scrapy.exceptions import DropItem
from scrapy.utils.misc import load_object

from crawlers import __version__
from crawlers.crawlrun import CrawlRunExtension
from crawlers.errors import ConfigError, EvidenceError
from crawlers.evidence import WarcEvidenceWriter
from crawlers.html_text import EXTRACTION_FIELD
from crawlers.items import PageItem, UnchangedListing
from crawlers.stats import record_error
from crawlers.store_batch import (
    BatchWriter,
    Failed,
    Outcome,
    Seen,
    StoreItem,
    wait_for,
    write_batch,
)
from crawlers.store_batch import validator as validator
from nlp import Analysis, PageSignals
from storage import crawl_stats
from storage.listings import AnalysisRecord, IndicatorRecord, MentionRecord
from storage.substances import CandidateRecord

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def crawl_run_of(crawler: Crawler) -> CrawlRunExtension:
    """Return the crawl-run extension the pipelines write through; fail the crawl without it."""
    run = crawler.get_extension(CrawlRunExtension)
    if run is None:
        # Not NotConfigured: Scrapy would leave the pipeline out with a warning and crawl on,
        # keeping neither evidence nor listings.
        raise ConfigError(
            "EXTENSIONS: the SynthWatch pipelines need crawlers.crawlrun.CrawlRunExtension,"
            " which is not enabled"
        )
    return run


class EvidencePipeline:
    """Write each listing page's request and response to the crawl run's WARC file."""

    def __init__(
        self, run: CrawlRunExtension, stats: StatsCollector, *, fsync: bool, errors_max: int = 200
    ) -> None:
        self.run = run
        self.stats = stats
        self.fsync = fsync
        self.errors_max = errors_max
        self.writer: WarcEvidenceWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        return cls(
            crawl_run_of(crawler),
            crawler.stats,
            fsync=settings.getbool("SYNTHWATCH_EVIDENCE_FSYNC", True),
            errors_max=settings.getint("SYNTHWATCH_ERROR_URLS_MAX", 200),
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        if not self.run.approved or self.run.warc_file is None:
            raise DropItem(f"no approved crawl run to keep evidence of {item.url}")
        if self.writer is None:
            self.writer = WarcEvidenceWriter(
                self.run.home,
                self.run.warc_file,
                fsync=self.fsync,
                software=f"SynthWatch/{__version__} (Scrapy, warcio)",
            )
        try:
            item.evidence = self.writer.write(item)
        except EvidenceError as exc:
            record_error(self.stats, "evidence", item.url, self.errors_max)
            raise DropItem(f"evidence of {item.url} not written: {exc}") from exc
        self.stats.inc_value(crawl_stats.EVIDENCE_RECORDS)
        return item

    def close_spider(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Analyser(Protocol):
    """What the extract pipeline needs of `nlp.Analyser` (tests substitute a lighter one)."""

    def analyse(self, text: str, signals: PageSignals | None = None) -> Analysis: ...


def analysis_record(analysis: Analysis) -> AnalysisRecord:
    """Convert an `nlp.Analysis` into the record storage keeps."""
    return AnalysisRecord(
        score=float(analysis.score),
        offer=bool(analysis.offer),
        mentions=[
            MentionRecord(
                concept_id=m.concept_id,
                name=m.name,
                substance_class=m.substance_class,
                control=m.control,
                start=m.start,
                end=m.end,
                text=m.text,
                confidence=float(m.confidence),
                method=m.method,
            )
            for m in analysis.mentions
        ],
        indicators=[
            IndicatorRecord(
                kind=i.kind,
                start=i.start,
                end=i.end,
                text=i.text,
                value=i.value,
                key=i.key,
            )
            for i in analysis.indicators
        ],
        reasons=[{"text": r.text, "weight": float(r.weight)} for r in analysis.reasons],
        context=list(analysis.context),
        candidates=[CandidateRecord(term=c.term, context=c.context) for c in analysis.candidates],
    )


class ExtractPipeline:
    """Analyse each listing's text with `nlp` (the class named by `SYNTHWATCH_ANALYSER`).

    The analyser bounds its spaCy StringStore itself, rebuilding its pipeline once enough new
    strings were interned. `SYNTHWATCH_ANALYSER_REBUILD_EVERY` (unset by default) adds a
    rebuild every N documents; 0 or empty leaves it unset.
    """

    def __init__(self, analyser: Analyser, stats: StatsCollector, errors_max: int = 200) -> None:
        self.analyser = analyser
        self.stats = stats
        self.errors_max = errors_max

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        factory = load_object(settings.get("SYNTHWATCH_ANALYSER", "nlp.Analyser"))
        rebuild_every = settings.getint("SYNTHWATCH_ANALYSER_REBUILD_EVERY", 0) or None
        errors_max = settings.getint("SYNTHWATCH_ERROR_URLS_MAX", 200)
        return cls(factory(rebuild_every=rebuild_every), crawler.stats, errors_max)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        try:
            item.analysis = analysis_record(self.analyser.analyse(item.text, item.signals))
        except Exception as exc:
            # Broad on purpose: whatever the page made the analyser raise, its evidence is on
            # disk and the listing is stored, with the failure as its recorded reason.
            logger.exception("analysis of %s failed: stored unanalysed", item.url)
            self.unanalysed(item, f"{type(exc).__name__}: {exc}"[:500])
        return item

    def unanalysed(self, item: PageItem, error: str) -> None:
        """Give an item a score-0 analysis that says why it has none, and record the error."""
        item.analysis = AnalysisRecord(
            score=0.0, offer=False, reasons=[{"text": f"not analysed: {error}", "weight": 0.0}]
        )
        notes = dict(item.fields.get(EXTRACTION_FIELD) or {})
        notes["analysis_failed"] = error
        item.fields = {**item.fields, EXTRACTION_FIELD: notes}
        self.stats.inc_value(crawl_stats.extraction_note_key("analysis_failed"))
        record_error(self.stats, "analysis", item.url, self.errors_max)


class StorePipeline:
    """Record each item's capture and listing, a committed transaction per batch of items."""

    def __init__(
        self,
        run: CrawlRunExtension,
        stats: StatsCollector,
        errors_max: int = 200,
        *,
        batch_size: int = 100,
        batch_seconds: float = 0.5,
        fsync: bool = True,
    ) -> None:
        self.run = run
        self.stats = stats
        self.errors_max = errors_max
        self.fsync = fsync
        self.writer: BatchWriter[StoreItem, Outcome] = BatchWriter(
            self.write_batch, size=batch_size, seconds=batch_seconds
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        return cls(
            crawl_run_of(crawler),
            crawler.stats,
            settings.getint("SYNTHWATCH_ERROR_URLS_MAX", 200),
            batch_size=settings.getint("SYNTHWATCH_STORE_BATCH_SIZE", 100),
            batch_seconds=settings.getfloat("SYNTHWATCH_STORE_BATCH_SECONDS", 0.5),
            fsync=settings.getbool("SYNTHWATCH_EVIDENCE_FSYNC", True),
        )

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem | UnchangedListing):
            return item
        self.check(item)
        outcome = await wait_for(self.writer.submit(item))
        return self.settle(item, outcome)

    async def close_spider(self) -> None:
        # Scrapy calls this once no item is in flight; what still waits is written now.
        await wait_for(self.writer.close())

    def check(self, item: StoreItem) -> None:
        """Drop an item that cannot be stored, before it waits for a batch."""
        if isinstance(item, UnchangedListing):
            if self.run.session_factory is None or not self.run.approved:
                raise DropItem(f"no crawl run to record {item.url} in")
            return
        if item.evidence is None or item.analysis is None:
            # Only a pipeline left out of the settings leaves one unset.
            raise DropItem(f"{item.url} has no evidence or analysis: not stored")
        if self.run.session_factory is None or self.run.run_id is None:
            raise DropItem(f"no crawl run to store {item.url} in")

    def write_batch(self, items: list[StoreItem]) -> list[Outcome]:
        """Store a batch (on the writer thread): see `crawlers.store_batch.write_batch`."""
        factory, run_id = self.run.session_factory, self.run.run_id
        assert factory is not None and run_id is not None  # checked before items wait
        return write_batch(
            factory, run_id, items, home=self.run.home, fsync=self.fsync, evidence=self.run.evidence
        )

    def settle(self, item: StoreItem, outcome: Outcome) -> StoreItem:
        """Count what storing an item did (on the reactor thread), or drop it with why."""
        if isinstance(outcome, Failed):
            record_error(self.stats, "storage", item.url, self.errors_max)
            verb = "recorded as seen" if isinstance(item, UnchangedListing) else "stored"
            raise DropItem(f"{item.url} not {verb}: {outcome.error}")
        if isinstance(outcome, Seen):
            if not outcome.known:
                # Only listings with stored validators are asked conditionally, so this is odd.
                logger.warning("304 for %s, which is not a stored listing", item.url)
                record_error(self.stats, "storage", item.url, self.errors_max)
                raise DropItem(f"304 for unknown listing {item.url}")
            self.stats.inc_value(crawl_stats.LISTINGS_UNCHANGED)
            return item
        self.stats.inc_value(crawl_stats.LISTINGS_STORED)
        if outcome.new_version:
            self.stats.inc_value(crawl_stats.LISTINGS_NEW_VERSION)
            self.stats.inc_value(
                crawl_stats.LISTINGS_NEW if outcome.first_version else crawl_stats.LISTINGS_CHANGED
            )
        else:
            self.stats.inc_value(crawl_stats.LISTINGS_UNCHANGED)
        if isinstance(item, PageItem) and item.analysis is not None and item.analysis.offer:
            self.stats.inc_value(crawl_stats.FLAGGED)
        return item
