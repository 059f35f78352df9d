from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import CloseSpider
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers.crawlrun import CrawlRunExtension
from crawlers.loader import spider_class
from crawlers.registry import register_source
from crawlers.sources import SourceConfig, scope_fingerprint
from crawlers.spiders.listing import ListingSpider
from storage.crawl_stats import COUNTERS, ERROR_URLS
from storage.crawls import start_crawl_run
from storage.db import transaction
from storage.models import CrawlRun, Listing
from storage.sources import approval_state
from tests.crawlers.harness import Harness
from tests.factories import add_listing, invented_source

LISTINGS_STORED = "synthwatch/listings_stored"

SOURCE = invented_source(name="Shop")


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
        kept = {key for key in run.stats if not key.startswith("synthwatch/")}
        assert kept == {"downloader/response_count", "finish_reason"}
        assert run.stats["synthwatch/listings_stored"] == 3
        assert run.stats["synthwatch/refused_urls/onion"] == ["http://x.onion/"]
        assert run.stats["synthwatch/duration_seconds"] == 0.0
        # Every documented counter is there, 0 when nothing happened.
        assert {key: run.stats[key] for key in COUNTERS if key != LISTINGS_STORED} == dict.fromkeys(
            (key for key in COUNTERS if key != LISTINGS_STORED), 0
        )
        assert run.stats[ERROR_URLS] == []
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

    stats = spider.crawler.stats
    assert stats.get_value("synthwatch/errors") == 2
    assert stats.get_value("synthwatch/errors/spider") == 1
    assert stats.get_value("synthwatch/errors/pipeline") == 1
    assert stats.get_value("synthwatch/incomplete") == 2


def stored_listing(harness: Harness, path: str, seen: datetime, *, etag: str | None = None) -> None:
    """Store a listing of the shop as a crawl before this one would have."""
    url = f"https://shop.example{path}"
    with transaction(harness.session_factory) as session:
        old_run = start_crawl_run(session, source_id="shop", now=seen)
        old_run.status = "finished"
        add_listing(session, url, seen, run_id=old_run.id, title=path, text=path, etag=etag)


def test_opening_a_run_marks_a_killed_one_interrupted(harness: Harness) -> None:
    harness.register(SOURCE)
    killed, killed_spider = open_extension(harness)
    killed.spider_opened(killed_spider)  # its process dies here: the run is never closed

    extension, spider = open_extension(harness)
    extension.spider_opened(spider)

    with harness.session_factory() as session:
        old = session.get(CrawlRun, killed.run_id)
        assert old is not None and old.status == "interrupted" and old.finished_at == harness.now
        assert old.error is not None and "killed" in old.error
        new = session.get(CrawlRun, extension.run_id)
        assert new is not None and new.status == "running"
    assert spider.crawler.stats.get_value("synthwatch/interrupted_runs") == 1


def test_the_validators_of_stored_listings_are_loaded(harness: Harness) -> None:
    harness.register(SOURCE)
    stored_listing(harness, "/1", harness.now - timedelta(days=1), etag='"v1"')
    stored_listing(harness, "/2", harness.now - timedelta(days=1))
    extension, spider = open_extension(harness)

    extension.spider_opened(spider)

    assert extension.validators == {"https://shop.example/1": ('"v1"', None)}


def close_finished(harness: Harness, *, incomplete: int = 0) -> dict[str, Any]:
    extension, spider = open_extension(harness)
    extension.gone_after = 2
    extension.spider_opened(spider)
    spider.crawler.stats.set_value("synthwatch/incomplete", incomplete)
    extension.spider_closed(spider, "finished")
    with harness.session_factory() as session:
        run = session.get(CrawlRun, extension.run_id)
        assert run is not None
        return dict(run.stats)


def test_listings_missed_by_complete_crawls_in_a_row_are_gone(harness: Harness) -> None:
    harness.register(SOURCE)
    stored_listing(harness, "/1", harness.now - timedelta(days=2))

    first = close_finished(harness)
    partial = close_finished(harness, incomplete=1)
    second = close_finished(harness)

    assert (first["synthwatch/listings_missed"], first["synthwatch/listings_gone"]) == (1, 0)
    # A crawl that saw part of the site says nothing about what it did not see.
    assert (partial["synthwatch/listings_missed"], partial["synthwatch/listings_gone"]) == (0, 0)
    assert (second["synthwatch/listings_missed"], second["synthwatch/listings_gone"]) == (1, 1)
    with harness.session_factory() as session:
        listing = session.query(Listing).one()
        assert listing.gone_at == harness.now and listing.missed_crawls == 2


def test_a_crawl_stopped_early_counts_no_misses(harness: Harness) -> None:
    harness.register(SOURCE)
    stored_listing(harness, "/1", harness.now - timedelta(days=2))
    extension, spider = open_extension(harness)
    extension.spider_opened(spider)

    extension.spider_closed(spider, "closespider_timeout")

    with harness.session_factory() as session:
        run = session.get(CrawlRun, extension.run_id)
        assert run is not None and run.status == "finished"
        assert run.stats["synthwatch/listings_missed"] == 0
        assert session.query(Listing).one().missed_crawls == 0


def test_registering_returns_the_fingerprint_and_never_approves(harness: Harness) -> None:
    with harness.session_factory() as session:
        fingerprint = register_source(session, SOURCE, now=harness.now)

        assert fingerprint == scope_fingerprint(SOURCE)
        assert approval_state(session, SOURCE.id, fingerprint) == "unapproved"
