from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from scrapy.exceptions import CloseSpider
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers.crawlrun import CrawlRunExtension
from crawlers.loader import spider_class
from crawlers.registry import register_source
from crawlers.sources import Discovery, SourceConfig, scope_fingerprint
from crawlers.spiders.listing import ListingSpider
from storage.models import CrawlRun
from storage.repository import approval_state
from tests.crawlers.harness import Harness

SOURCE = SourceConfig(
    id="shop",
    name="Shop",
    seeds=("https://shop.example/",),
    allowed_domains=("shop.example",),
    schedule="interval:1d",
    legal_note="test",
    discovery=Discovery(listing_links=("a.item",)),
)


def open_extension(
    harness: Harness, source: SourceConfig = SOURCE
) -> tuple[CrawlRunExtension, ListingSpider]:
    crawler = get_crawler(
        spider_class(source),
        {
            "EXTENSIONS": {CrawlRunExtension: 10},
            "SYNTHWATCH_DATABASE_URL": harness.database_url,
            "SYNTHWATCH_HOME": str(harness.home),
            "SYNTHWATCH_RUN_FILE": str(harness.tmp_path / "run.json"),
        },
    )
    extension = crawler.get_extension(CrawlRunExtension)
    assert extension is not None
    extension.clock = lambda: harness.now
    spider = crawler.spidercls.from_crawler(crawler)
    assert isinstance(spider, ListingSpider)
    return extension, spider


def test_an_approved_source_opens_a_running_crawl_run(harness: Harness) -> None:
    harness.register(SOURCE)
    extension, spider = open_extension(harness)

    extension.spider_opened(spider)

    assert extension.approved
    with harness.session_factory() as session:
        run = session.get(CrawlRun, extension.run_id)
        assert run is not None and run.status == "running"
        assert run.warc_file == f"evidence/shop/{run.id}.warc.gz"
    assert '"status": "running"' in (harness.tmp_path / "run.json").read_text()


@pytest.mark.parametrize("state", ["unapproved", "suspended", "rescoped"])
def test_the_gate_refuses_and_records_a_failed_run(harness: Harness, state: str) -> None:
    harness.register(SOURCE, state=state)
    extension, spider = open_extension(harness)

    with pytest.raises(CloseSpider) as closed:
        extension.spider_opened(spider)
    extension.spider_closed(spider, closed.value.reason)

    assert closed.value.reason == "not_approved"
    assert not extension.approved
    assert spider.crawler.stats.get_value("synthwatch/gate/refused") == 1
    with harness.session_factory() as session:
        run = session.get(CrawlRun, extension.run_id)
        assert run is not None and run.status == "failed" and run.warc_file is None
        assert run.error is not None and f"source 'shop' is {state}" in run.error
        assert run.stats["synthwatch/gate/refused"] == 1
        assert run.stats["finish_reason"] == "not_approved"


def test_a_source_never_approved_is_registered_and_refused(harness: Harness) -> None:
    extension, spider = open_extension(harness)

    with pytest.raises(CloseSpider):
        extension.spider_opened(spider)

    assert extension.gate_state == "unapproved"


def test_widening_the_scope_of_an_approved_source_needs_a_new_approval(harness: Harness) -> None:
    harness.register(SOURCE)
    wider = replace(SOURCE, allowed_domains=(*SOURCE.allowed_domains, "cdn.example"))
    extension, spider = open_extension(harness, wider)

    with pytest.raises(CloseSpider):
        extension.spider_opened(spider)

    assert extension.gate_state == "rescoped"


def test_a_finished_crawl_records_its_stats(harness: Harness, now: datetime) -> None:
    harness.register(SOURCE)
    extension, spider = open_extension(harness)
    extension.spider_opened(spider)
    stats = spider.crawler.stats
    stats.set_value("synthwatch/listings_stored", 3)
    stats.set_value("synthwatch/refused_urls/onion", ["http://x.onion/"])
    stats.set_value("downloader/response_count", 9)
    stats.set_value("start_time", now)
    stats.set_value("scheduler/enqueued", 12)

    extension.spider_closed(spider, "finished")

    with harness.session_factory() as session:
        run = session.get(CrawlRun, extension.run_id)
        assert run is not None and run.status == "finished" and run.error is None
        assert run.finished_at == now
        assert run.stats == {
            "downloader/response_count": 9,
            "finish_reason": "finished",
            "synthwatch/listings_stored": 3,
            "synthwatch/refused_urls/onion": ["http://x.onion/"],
        }
        assert run.warc_file is None  # nothing was stored, so no WARC file exists


def test_a_crawl_closed_early_is_a_failed_run(harness: Harness) -> None:
    harness.register(SOURCE)
    extension, spider = open_extension(harness)
    extension.spider_opened(spider)

    extension.spider_closed(spider, "shutdown")

    with harness.session_factory() as session:
        run = session.get(CrawlRun, extension.run_id)
        assert run is not None and run.status == "failed" and run.error == "crawl closed: shutdown"


def test_an_unmigrated_database_stops_the_crawl(harness: Harness, tmp_path: Path) -> None:
    harness.database_url = f"sqlite:///{tmp_path / 'empty.db'}"
    extension, spider = open_extension(harness)

    with pytest.raises(CloseSpider) as closed:
        extension.spider_opened(spider)
    extension.spider_closed(spider, closed.value.reason)

    assert closed.value.reason == "storage_error"
    assert '"status": "failed"' in (harness.tmp_path / "run.json").read_text()


def test_failures_in_callbacks_and_pipelines_are_counted(harness: Harness) -> None:
    extension, spider = open_extension(harness)
    failure = Failure(ValueError("broken page"))

    extension.spider_error(failure, None, spider)
    extension.item_error(object(), None, spider, failure)

    assert spider.crawler.stats.get_value("synthwatch/errors") == 2


def test_registering_returns_the_fingerprint_and_never_approves(harness: Harness) -> None:
    with harness.session_factory() as session:
        fingerprint = register_source(session, SOURCE, now=harness.now)

        assert fingerprint == scope_fingerprint(SOURCE)
        assert approval_state(session, SOURCE.id, fingerprint) == "unapproved"
