from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.pipelines import ItemPipelineManager
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from sqlalchemy.orm import Session

from crawlers import settings as project_settings
from crawlers.crawlrun import CrawlRunExtension
from crawlers.errors import ConfigError
from crawlers.items import PageItem, UnchangedListing
from crawlers.loader import spider_class
from crawlers.pipelines import (
    EvidencePipeline,
    ExtractPipeline,
    StorePipeline,
    analysis_record,
    validator,
)
from nlp import PageSignals, analyse
from storage.listings import IndicatorRecord, MentionRecord, shared_identifier_listings
from storage.models import Capture, Listing
from storage.warc import read_capture
from tests.conftest import NOW
from tests.crawlers.fakes import KeywordAnalyser
from tests.crawlers.harness import FAKE_ANALYSER, Harness, resolved, synchronous
from tests.factories import add_listing, add_source, invented_source

SOURCE = invented_source(name="Shop")


def page(
    text: str = "Fentanyl powder, $120 a gram", url: str = "https://shop.example/1"
) -> PageItem:
    return PageItem(
        source_id="shop",
        url=url,
        status=200,
        headers=[("Content-Type", "text/html")],
        body=f"<h1>{text}</h1>".encode(),
        request_headers=[("User-Agent", "SynthWatch/0.1.0")],
        fetched_at=NOW,
        title=text,
        text=text,
    )


def test_an_analysis_is_converted_for_storage() -> None:
    record = analysis_record(KeywordAnalyser().analyse("Fentanyl powder, $120 a gram?"))

    assert record.offer is True and record.score == 0.9
    assert record.mentions == [
        MentionRecord("fentanyl", "Fentanyl", "fentanyl", "US Schedule II", 0, 8, "Fentanyl", 1.0)
    ]
    assert record.indicators == [IndicatorRecord("price", 17, 21, "$120", "")]
    assert record.reasons == [{"text": "names fentanyl", "weight": 0.6}]
    assert record.context == ["question"]


def test_listings_naming_one_session_id_are_linked_as_one_seller(session: Session) -> None:
    # Regression: storage re-read contact text with a copy of the handle grammar that stopped
    # at 40 characters, so a Session id (66 hex digits) never linked two listings.
    session_id = "05" + "3f" * 32
    texts = [
        f"Carfentanil 10g $900, stealth shipping. Session: {session_id}",
        f"Carfentanil in bulk. Contact session id {session_id} for prices.",
    ]
    add_source(session, NOW)
    first, second = (
        add_listing(
            session,
            f"https://shop.example/{n}",
            NOW,
            text=text,
            analysis=analysis_record(analyse(text)),
        ).listing.id
        for n, text in enumerate(texts)
    )

    shared = shared_identifier_listings(session, first)

    assert [(s.listing_id, s.identifiers) for s in shared] == [(second, (f"session:{session_id}",))]


def test_the_extract_pipeline_builds_the_configured_analyser() -> None:
    crawler = get_crawler(
        settings_dict={"SYNTHWATCH_ANALYSER": FAKE_ANALYSER, "SYNTHWATCH_ANALYSER_REBUILD_EVERY": 2}
    )
    pipeline = ExtractPipeline.from_crawler(crawler)

    item = pipeline.process_item(page())

    assert isinstance(pipeline.analyser, KeywordAnalyser)
    assert pipeline.analyser.rebuild_every == 2
    assert item.analysis is not None and item.analysis.offer


def test_the_analyser_bounds_itself_unless_a_rebuild_interval_is_set() -> None:
    crawler = get_crawler(
        settings_dict={
            "SYNTHWATCH_ANALYSER": FAKE_ANALYSER,
            "SYNTHWATCH_ANALYSER_REBUILD_EVERY": project_settings.SYNTHWATCH_ANALYSER_REBUILD_EVERY,
        }
    )

    pipeline = ExtractPipeline.from_crawler(crawler)

    assert isinstance(pipeline.analyser, KeywordAnalyser)
    assert pipeline.analyser.rebuild_every is None


def test_the_real_analyser_fits_the_pipeline() -> None:
    pytest.importorskip("nlp.pipeline")
    pipeline = ExtractPipeline.from_crawler(get_crawler())

    item = pipeline.process_item(page("Carfentanil 5g $120, Wickr: h1a2b3"))

    assert item.analysis is not None
    assert item.analysis.mentions[0].concept_id == "carfentanil"
    assert all(isinstance(r["weight"], float) for r in item.analysis.reasons)


def test_the_page_signals_reach_the_analyser_as_reasons() -> None:
    pytest.importorskip("nlp.pipeline")
    pipeline = ExtractPipeline.from_crawler(get_crawler())
    item = page("Protonitazene 1 g")
    item.signals = PageSignals.of(offer_price="120", offer_currency="USD", add_to_cart=True)

    analysed = pipeline.process_item(item).analysis
    bare = pipeline.process_item(page("Protonitazene 1 g")).analysis

    assert analysed is not None and bare is not None
    reasons = " | ".join(r["text"] for r in analysed.reasons)
    assert "schema.org Offer priced USD 120" in reasons and "add-to-cart" in reasons
    assert analysed.score > bare.score


@pytest.mark.parametrize("pipeline", [EvidencePipeline, StorePipeline])
def test_pipelines_without_the_crawl_run_extension_fail_the_crawl(pipeline: type) -> None:
    # Scrapy's manager leaves out a NotConfigured pipeline and crawls on, keeping nothing.
    crawler = get_crawler(spider_class(SOURCE), {"ITEM_PIPELINES": {pipeline: 100}})

    with pytest.raises(ConfigError, match=r"EXTENSIONS: .*CrawlRunExtension"):
        build_from_crawler(ItemPipelineManager, crawler)


def open_run(harness: Harness) -> tuple[Any, CrawlRunExtension]:
    crawler = get_crawler(
        spider_class(SOURCE),
        {
            "EXTENSIONS": {CrawlRunExtension: 10},
            "SYNTHWATCH_DATABASE_URL": harness.database_url,
            "SYNTHWATCH_HOME": str(harness.home),
            "SYNTHWATCH_ANALYSER": FAKE_ANALYSER,
        },
    )
    run = crawler.get_extension(CrawlRunExtension)
    assert run is not None
    harness.register(SOURCE)
    run.spider_opened(crawler.spidercls.from_crawler(crawler))
    return crawler, run


def test_evidence_extract_store(harness: Harness) -> None:
    crawler, _ = open_run(harness)
    evidence = EvidencePipeline.from_crawler(crawler)
    extract = ExtractPipeline.from_crawler(crawler)
    store = synchronous(StorePipeline.from_crawler(crawler))

    for item in (page(), page("Acetone 1 L", "https://shop.example/2"), page()):
        resolved(store.process_item(extract.process_item(evidence.process_item(item))))
    evidence.close_spider()

    stats = crawler.stats
    assert stats.get_value("synthwatch/listings_stored") == 3
    assert stats.get_value("synthwatch/listings_new_version") == 2
    assert stats.get_value("synthwatch/flagged") == 2
    assert stats.get_value("synthwatch/evidence/records") == 3
    with harness.session_factory() as session:
        captures = session.query(Capture).order_by(Capture.id).all()
        assert len(captures) == 3
        for capture in captures:
            assert read_capture(harness.home, capture).verified
        listing = session.query(Listing).filter_by(url="https://shop.example/1").one()
        assert len(listing.versions) == 1 and listing.case is not None


def test_nothing_is_stored_without_evidence_and_analysis(harness: Harness) -> None:
    crawler, _ = open_run(harness)
    store = synchronous(StorePipeline.from_crawler(crawler))

    with pytest.raises(DropItem):
        resolved(store.process_item(page()))

    with harness.session_factory() as session:
        assert session.query(Listing).count() == 0


def test_no_evidence_is_written_without_an_approved_run(harness: Harness) -> None:
    crawler, run = open_run(harness)
    run.gate_state = "suspended"

    with pytest.raises(DropItem):
        EvidencePipeline.from_crawler(crawler).process_item(page())

    assert not (harness.home / "evidence").exists()


def run_pipelines(crawler: Any, *items: Any) -> None:
    evidence = EvidencePipeline.from_crawler(crawler)
    extract = ExtractPipeline.from_crawler(crawler)
    store = synchronous(StorePipeline.from_crawler(crawler))
    for item in items:
        resolved(store.process_item(extract.process_item(evidence.process_item(item))))
    evidence.close_spider()


def test_new_changed_and_unchanged_listings_are_counted(harness: Harness) -> None:
    crawler, _ = open_run(harness)
    with_validators = page("Acetone 1 L", "https://shop.example/2")
    with_validators.headers += [
        ("ETag", '"v1"'),
        ("Last-Modified", "Tue, 24 Nov 2026 10:00:00 GMT"),
    ]

    run_pipelines(
        crawler,
        page(),
        page(),  # the same text again
        page("Fentanyl powder, $110 a gram"),  # changed
        with_validators,
    )

    stats = crawler.stats
    assert stats.get_value("synthwatch/listings_new") == 2
    assert stats.get_value("synthwatch/listings_changed") == 1
    assert stats.get_value("synthwatch/listings_unchanged") == 1
    assert stats.get_value("synthwatch/listings_new_version") == 3
    assert stats.get_value("synthwatch/listings_stored") == 4
    with harness.session_factory() as session:
        listing = session.query(Listing).filter_by(url="https://shop.example/2").one()
        assert listing.http_etag == '"v1"'
        assert listing.http_last_modified == "Tue, 24 Nov 2026 10:00:00 GMT"


def test_a_304_marks_the_listing_seen_and_keeps_nothing_new(harness: Harness) -> None:
    crawler, _ = open_run(harness)
    run_pipelines(crawler, page())
    later = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    run_pipelines(crawler, UnchangedListing("shop", "https://shop.example/1", later))

    assert crawler.stats.get_value("synthwatch/listings_unchanged") == 1
    assert crawler.stats.get_value("synthwatch/evidence/records") == 1
    with harness.session_factory() as session:
        listing = session.query(Listing).one()
        assert listing.last_seen == later and len(listing.versions) == 1
        assert session.query(Capture).count() == 1


def test_a_304_for_an_unknown_listing_is_an_error(harness: Harness) -> None:
    crawler, _ = open_run(harness)
    store = synchronous(StorePipeline.from_crawler(crawler))

    with pytest.raises(DropItem):
        unknown = UnchangedListing("shop", "https://shop.example/9", datetime.now(UTC))
        resolved(store.process_item(unknown))

    assert crawler.stats.get_value("synthwatch/errors/storage") == 1


def test_validators_too_long_to_store_are_dropped() -> None:
    assert validator('"' + "x" * 600 + '"', 500) is None
    assert validator(None, 500) is None and validator('"ok"', 500) == '"ok"'
