from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage.crawls import crawl_summary, finish_crawl_run, start_crawl_run
from storage.listings import AnalysisRecord, MentionRecord, mark_listing_seen
from tests.factories import add_listing, add_source


def store(session: Session, run_id: int, url: str, offer: bool, now: datetime) -> None:
    mention = MentionRecord("carfentanil", "Carfentanil", "fentanyl", "", 0, 11, "carfentanil", 1.0)
    analysis = AnalysisRecord(score=0.9 if offer else 0.1, offer=offer, mentions=[mention])
    add_listing(session, url, now, run_id=run_id, text=f"carfentanil at {url}", analysis=analysis)


def test_a_summary_counts_listings_a_run_stored_or_found_unchanged(
    session: Session, now: datetime
) -> None:
    add_source(session, now)
    first = start_crawl_run(session, source_id="shop", now=now)
    store(session, first.id, "https://shop.example/a", True, now)
    store(session, first.id, "https://shop.example/b", False, now)
    store(session, first.id, "https://shop.example/gone", False, now)
    finish_crawl_run(session, first, now=now, status="finished", stats={})

    later = now + timedelta(days=1)
    second = start_crawl_run(session, source_id="shop", now=later)
    mark_listing_seen(session, "shop", "https://shop.example/a", later)  # a 304
    store(session, second.id, "https://shop.example/b", False, later)
    stats = {
        "synthwatch/pages_fetched": 3,
        "synthwatch/refused/robots": 2,
        "synthwatch/refused/onion": 0,
    }
    finish_crawl_run(
        session, second, now=later + timedelta(minutes=1), status="finished", stats=stats
    )

    summary = crawl_summary(session, [second.id], now=now)
    assert (summary.pages_fetched, summary.listings_stored, summary.flagged) == (3, 2, 1)
    assert summary.refused == {"robots": 2}
    assert summary.substances == {"carfentanil": 1}
