"""Group commit: when batches start, what a failing item costs, evidence synced before commit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from sqlalchemy import event, select
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

import crawlers.store_batch
from crawlers.items import PageItem, UnchangedListing
from crawlers.pipelines import EvidencePipeline, ExtractPipeline, StorePipeline
from crawlers.runner import CrawlOutcome
from crawlers.store_batch import BatchWriter, Failed, Seen
from storage.audit import verify_chain
from storage.db import make_engine, make_session_factory
from storage.listing_store import MentionRecord
from storage.migrate import upgrade
from storage.models import Capture, Case, CrawlRun, Listing
from storage.warc import read_capture
from tests.crawlers.harness import Harness, MockServer, at_once, resolved
from tests.crawlers.test_pipelines import open_run, page
from tests.factories import source_toml


def writer(
    size: int = 3, seconds: float = 1.0, run: Any = at_once
) -> tuple[BatchWriter[int, str], list[list[int]], Clock]:
    batches: list[list[int]] = []

    def write(items: list[int]) -> list[str]:
        batches.append(items)
        return [f"stored {n}" for n in items]

    clock = Clock()
    return BatchWriter(write, size=size, seconds=seconds, clock=clock, run=run), batches, clock


def test_a_batch_starts_when_full() -> None:
    batch_writer, batches, _ = writer(size=3)
    outcomes = [batch_writer.submit(n) for n in range(4)]

    assert batches == [[0, 1, 2]]
    assert [resolved(wait(d)) for d in outcomes[:3]] == ["stored 0", "stored 1", "stored 2"]
    assert not outcomes[3].called


def test_a_batch_starts_when_its_oldest_item_has_waited_long_enough() -> None:
    batch_writer, batches, clock = writer(size=10, seconds=0.5)
    batch_writer.submit(1)
    clock.advance(0.3)
    batch_writer.submit(2)
    clock.advance(0.19)
    assert batches == []

    clock.advance(0.01)

    assert batches == [[1, 2]]


def test_closing_writes_what_waits_and_fires_once_written() -> None:
    batch_writer, batches, _ = writer(size=10, seconds=60)
    outcome = batch_writer.submit(7)

    closed = batch_writer.close()

    assert batches == [[7]] and resolved(wait(outcome)) == "stored 7"
    assert closed.called


def test_one_batch_is_written_at_a_time_and_the_next_waits_for_it() -> None:
    in_flight: list[Deferred[list[str]]] = []

    def later(write: Any, items: list[int]) -> Deferred[list[str]]:
        done: Deferred[list[str]] = Deferred()
        in_flight.append(done)
        done.addCallback(lambda _: write(items))
        return done

    batch_writer, batches, _ = writer(size=2, run=later)
    for n in range(5):
        batch_writer.submit(n)
    assert len(in_flight) == 1  # 0 and 1 are being written; 2 and 3 wait, though a batch full

    in_flight[0].callback(None)

    assert batches == [[0, 1]] and len(in_flight) == 2
    in_flight[1].callback(None)
    assert batches == [[0, 1], [2, 3]]


def test_a_write_that_raises_fails_each_item_of_its_batch() -> None:
    def broken(items: list[int]) -> list[str]:
        raise RuntimeError("disk on fire")

    batch_writer: BatchWriter[int, str] = BatchWriter(
        broken, size=2, seconds=1, clock=Clock(), run=at_once
    )
    outcomes = [batch_writer.submit(n) for n in range(2)]

    for outcome in outcomes:
        with pytest.raises(RuntimeError, match="disk on fire"):
            resolved(wait(outcome))


async def wait(done: Deferred[Any]) -> Any:
    return await crawlers.store_batch.wait_for(done)


def evidenced(harness: Harness, *items: PageItem) -> tuple[Any, StorePipeline, list[PageItem]]:
    """Open a crawl run; return its crawler, a store pipeline and the items with evidence."""
    crawler, _ = open_run(harness)
    evidence, extract = (
        EvidencePipeline.from_crawler(crawler),
        ExtractPipeline.from_crawler(crawler),
    )
    ready = [extract.process_item(evidence.process_item(item)) for item in items]
    evidence.close_spider()
    return crawler, StorePipeline.from_crawler(crawler), ready


def settled(store: StorePipeline, items: list[Any]) -> list[Any]:
    """Write items as one batch; return each item as the pipeline gives it on, or its drop."""
    results: list[Any] = []
    for item, outcome in zip(items, store.write_batch(items), strict=True):
        try:
            results.append(store.settle(item, outcome))
        except DropItem as exc:
            results.append(exc)
    return results


def test_a_batch_s_evidence_is_synced_before_its_commit(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, store, items = evidenced(
        harness,
        page(),
        page("Acetone 1 L", "https://shop.example/2"),
        page(url="https://shop.example/3"),
    )
    happened: list[str] = []
    real_publish = crawlers.store_batch.publish_evidence

    def sync(evidence: Any, relpaths: Any, *, fsync: bool) -> None:
        relpaths = set(relpaths)
        happened.append(f"sync {sorted(relpaths)}")
        real_publish(evidence, relpaths, fsync=fsync)

    monkeypatch.setattr(crawlers.store_batch, "publish_evidence", sync)
    assert store.run.engine is not None
    event.listen(store.run.engine, "commit", lambda _conn: happened.append("commit"))

    outcomes = store.write_batch(list(items))

    assert happened == [f"sync {[store.run.warc_file]}", "commit"]
    assert all(not isinstance(o, Failed) for o in outcomes)


def test_a_failing_item_costs_only_itself_and_is_recorded(harness: Harness) -> None:
    crawler, store, items = evidenced(
        harness,
        page(url="https://shop.example/1"),
        page(url="https://shop.example/2"),
        page(url="https://shop.example/3"),
    )
    bad = items[1]
    assert bad.analysis is not None
    # A mention without offsets: the database refuses the row (NOT NULL), the batch fails.
    broken = MentionRecord("fentanyl", "Fentanyl", "fentanyl", "", None, None, "x", 1.0)  # type: ignore[arg-type]
    bad.analysis = replace(bad.analysis, mentions=[broken])
    results = settled(store, items)

    assert isinstance(results[1], DropItem) and "not stored" in str(results[1])
    assert results[0] is items[0] and results[2] is items[2]
    assert crawler.stats.get_value("synthwatch/errors/storage") == 1
    assert crawler.stats.get_value("synthwatch/listings_stored") == 2
    with harness.session_factory() as session:
        urls = session.scalars(select(Listing.url).order_by(Listing.url)).all()
        assert urls == ["https://shop.example/1", "https://shop.example/3"]
        assert len(session.scalars(select(Capture)).all()) == 2


def test_a_batch_counts_like_items_stored_one_by_one(harness: Harness) -> None:
    later = page().fetched_at + timedelta(hours=1)
    crawler, store, items = evidenced(
        harness,
        page(),
        page(),
        page("Fentanyl powder, $110 a gram"),
        page("Acetone", "https://shop.example/2"),
    )
    seen = UnchangedListing("shop", "https://shop.example/1", later)

    settled(store, [*items, seen])

    stats = crawler.stats
    assert stats.get_value("synthwatch/listings_new") == 2
    assert stats.get_value("synthwatch/listings_changed") == 1
    assert stats.get_value("synthwatch/listings_unchanged") == 2  # the same text, and the 304
    assert stats.get_value("synthwatch/listings_stored") == 4
    with harness.session_factory() as session:
        listing = session.scalars(select(Listing).where(Listing.url == seen.url)).one()
        assert len(listing.versions) == 2 and listing.last_seen == later


def test_a_304_for_an_unknown_listing_does_not_fail_its_batch(harness: Harness) -> None:
    _, store, items = evidenced(harness, page())
    unknown = UnchangedListing("shop", "https://shop.example/9", page().fetched_at)

    outcomes = store.write_batch([unknown, *items])

    assert outcomes[0] == Seen(known=False) and not isinstance(outcomes[1], Failed)


LISTINGS = 12


def crawl_site(harness: Harness, server: MockServer, settings: dict[str, str]) -> CrawlOutcome:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    links = "".join(f'<a class="listing" href="/item/{n}">Item {n}</a>' for n in range(LISTINGS))
    server.add("/", f"<html><body>{links}</body></html>")
    for n in range(LISTINGS):
        server.add(f"/item/{n}", f"<html><body><h1>Fentanyl {n}</h1><p>${n}0 a gram</p></body>")
    sources = harness.write_sources(source_toml("site", server.base_url, index_links="[]"))
    harness.register_file(sources)
    return harness.crawl("site", sources, settings=settings)


@pytest.fixture
def postgres_harness(tmp_path: Path, postgres_url: str, now: datetime) -> Iterator[Harness]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    try:
        yield Harness(tmp_path, postgres_url, make_session_factory(engine), now)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_crawl_in_one_batch_bigger_than_the_site_stores_every_listing_once(
    request: pytest.FixtureRequest, server: MockServer, database: str
) -> None:
    harness: Harness = request.getfixturevalue(
        "harness" if database == "sqlite" else "postgres_harness"
    )
    settings = {"SYNTHWATCH_STORE_BATCH_SIZE": "1000", "SYNTHWATCH_STORE_BATCH_SECONDS": "0.5"}

    outcome = crawl_site(harness, server, settings)

    assert outcome.ok, outcome.log_path.read_text()
    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None
        assert run.stats["synthwatch/listings_new"] == LISTINGS
        assert run.stats["synthwatch/flagged"] == LISTINGS
        assert len(session.scalars(select(Listing)).all()) == LISTINGS
        assert len(session.scalars(select(Case)).all()) == LISTINGS
        assert verify_chain(session) is None
        for capture in session.scalars(select(Capture)):
            assert read_capture(harness.home, capture).verified
