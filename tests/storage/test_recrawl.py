from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage.crawls import interrupt_stale_runs, start_crawl_run
from storage.listings import (
    find_listing,
    listing_validators,
    mark_listing_seen,
    mark_missing_listings,
)
from storage.models import CrawlRun
from tests.factories import add_listing, add_source


def stored_listing(session: Session, now: datetime, url: str, etag: str | None = None) -> None:
    modified = "Wed, 01 Jan 2025 00:00:00 GMT" if etag else None
    add_listing(session, url, now, text=f"text of {url}", etag=etag, last_modified=modified)


def test_validators_are_kept_for_a_conditional_get(session: Session, now: datetime) -> None:
    add_source(session, now)
    stored_listing(session, now, "https://shop.example/a", etag='"abc"')
    stored_listing(session, now, "https://shop.example/b")
    assert listing_validators(session, "shop") == {
        "https://shop.example/a": ('"abc"', "Wed, 01 Jan 2025 00:00:00 GMT")
    }


def test_a_listing_missed_by_enough_finished_crawls_is_gone(
    session: Session, now: datetime
) -> None:
    add_source(session, now)
    stored_listing(session, now, "https://shop.example/a")
    stored_listing(session, now, "https://shop.example/b")
    for n in (1, 2):
        crawl = now + timedelta(days=n)
        assert mark_listing_seen(session, "shop", "https://shop.example/a", crawl)
        missed, gone = mark_missing_listings(
            session, source_id="shop", run_started=crawl, gone_after=2, now=crawl
        )
        assert (missed, gone) == (1, 0 if n == 1 else 1)
    a = find_listing(session, "shop", "https://shop.example/a")
    b = find_listing(session, "shop", "https://shop.example/b")
    assert a is not None and a.gone_at is None and a.missed_crawls == 0
    assert b is not None and b.gone_at == now + timedelta(days=2)


def test_a_gone_listing_seen_again_comes_back(session: Session, now: datetime) -> None:
    add_source(session, now)
    stored_listing(session, now, "https://shop.example/a")
    later = now + timedelta(days=1)
    mark_missing_listings(session, source_id="shop", run_started=later, gone_after=1, now=later)
    stored_listing(session, later + timedelta(days=1), "https://shop.example/a")
    listing = find_listing(session, "shop", "https://shop.example/a")
    assert listing is not None and listing.gone_at is None


def test_unknown_listings_are_not_marked_seen(session: Session, now: datetime) -> None:
    add_source(session, now)
    assert not mark_listing_seen(session, "shop", "https://shop.example/new", now)


def test_runs_left_running_are_interrupted(session: Session, now: datetime) -> None:
    add_source(session, now)
    stale = start_crawl_run(session, source_id="shop", now=now)
    assert interrupt_stale_runs(session, source_id="shop", now=now) == [stale.id]
    run = session.get(CrawlRun, stale.id)
    assert run is not None and run.status == "interrupted" and run.error
