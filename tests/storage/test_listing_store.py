"""Many pages in one call: stored as one after the other would be, in a few statements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.audit import verify_chain
from storage.crawls import start_crawl_run
from storage.db import make_engine, make_session_factory, transaction
from storage.listing_store import (
    AnalysisRecord,
    IndicatorRecord,
    ListingPage,
    MentionRecord,
    mark_listings_seen,
    repeat_rounds,
    store_listings,
)
from storage.migrate import upgrade
from storage.models import (
    AuditEvent,
    Capture,
    Case,
    Indicator,
    LexiconCandidate,
    Listing,
    ListingVersion,
    Mention,
)
from storage.substances import CandidateRecord
from tests.factories import add_capture, add_source


def offer(score: float, text: str = "carfentanil") -> AnalysisRecord:
    return AnalysisRecord(
        score=score,
        offer=True,
        mentions=[
            MentionRecord(
                "carfentanil", "Carfentanil", "fentanyl", "US Schedule II", 0, 11, text, 1.0
            )
        ],
        indicators=[
            IndicatorRecord("price", 12, 16, "$120", "USD 120"),
            IndicatorRecord("contact", 17, 30, "wickr: zx42", "zx42", "wickr:zx42"),
        ],
        reasons=[{"text": "names carfentanil", "weight": 0.6}],
        candidates=[CandidateRecord("QK-7 Pinacone", "buy QK-7 Pinacone")],
    )


BENIGN = AnalysisRecord(score=0.1, offer=False)


def pages(session: Session, now: datetime) -> list[ListingPage]:
    """Return a batch with a repeat, a changed text and a benign page, captures recorded."""
    add_source(session, now)
    later = now + timedelta(minutes=5)
    spec = [
        ("a", "Carfentanil $120", offer(0.9), now),
        ("b", "Customs seized carfentanil", BENIGN, now),
        ("a", "Carfentanil  $120", offer(0.9), later),  # the same text again
        ("a", "Carfentanil $99", offer(0.95), later),  # changed
        ("c", "Carfentanil $80", offer(0.8), later),
    ]
    run_id = start_crawl_run(session, source_id="shop", now=now).id
    return [
        page(session, run_id, path, text, analysis, at, etag=f'"{n}"')
        for n, (path, text, analysis, at) in enumerate(spec)
    ]


def page(
    session: Session,
    run_id: int,
    path: str,
    text: str,
    analysis: AnalysisRecord,
    at: datetime,
    etag: str | None = None,
) -> ListingPage:
    """Return a page of the invented shop to store, its capture recorded."""
    url = f"https://shop.example/{path}"
    capture_id = add_capture(session, run_id, url, at).id
    return ListingPage("shop", url, capture_id, path, text, {}, analysis, at, etag=etag)


def check_batch(factory: sessionmaker[Session], now: datetime) -> None:
    with transaction(factory) as session:
        batch = pages(session, now)
        stored = store_listings(session, batch)

    assert [(s.new_version, s.first_version) for s in stored] == [
        (True, True),
        (True, True),
        (False, False),
        (True, False),
        (True, True),
    ]
    a, b, same, changed, c = stored
    assert same.version_id == a.version_id and same.listing_id == changed.listing_id
    assert a.case_id is not None and changed.case_id == a.case_id and b.case_id is None
    with factory() as session:
        listing = session.get(Listing, a.listing_id)
        assert listing is not None
        assert [v.text for v in listing.versions] == ["Carfentanil $120", "Carfentanil $99"]
        assert listing.first_seen == now and listing.last_seen == now + timedelta(minutes=5)
        assert listing.http_etag == '"3"'
        assert listing.case is not None and listing.case.score == 0.95
        version = listing.versions[-1]
        assert [m.concept_id for m in version.mentions] == ["carfentanil"]
        assert [i.key for i in version.indicators] == [None, "wickr:zx42"]
        assert version.span_counts == {
            "mentions": {"fentanyl": 1},
            "indicators": {"contact": 1, "price": 1},
        }
        captures = session.scalars(select(Capture).order_by(Capture.id)).all()
        assert [cap.listing_id for cap in captures] == [s.listing_id for s in stored]
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.action, e.object_id) for e in events] == [
            ("case.opened", str(a.case_id)),
            ("case.opened", str(c.case_id)),
        ]
        assert events[0].detail == {
            "listing_id": a.listing_id,
            "version_id": a.version_id,
            "score": 0.9,
        }
        assert verify_chain(session) is None
        (candidate,) = session.scalars(select(LexiconCandidate)).all()
        # Counted once per version: three versions named it.
        assert candidate.count == 3 and candidate.first_seen == now
        assert session.scalar(select(func.count(Case.id))) == 2
        assert session.scalar(select(func.count(ListingVersion.id))) == 4


def test_a_batch_is_stored_as_its_pages_one_after_the_other(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    check_batch(session_factory, now)


@pytest.fixture
def postgres_factory(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def test_a_batch_is_stored_as_its_pages_one_after_the_other_on_postgresql(
    postgres_factory: sessionmaker[Session], now: datetime
) -> None:
    check_batch(postgres_factory, now)


def test_a_batch_of_fifty_costs_the_statements_of_a_batch_of_two(
    engine: Engine, session_factory: sessionmaker[Session], now: datetime
) -> None:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        statements.append(sql)

    def store(first: int, count_of: int) -> int:
        found = replace(offer(0.9), offer=False)  # cases (audit rows) are counted elsewhere
        with transaction(session_factory) as session:
            run_id = start_crawl_run(session, source_id="shop", now=now).id
            numbers = range(first, first + count_of)
            batch = [page(session, run_id, str(n), f"text {n}", found, now) for n in numbers]
            session.flush()
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                store_listings(session, batch)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            return len(statements)

    with transaction(session_factory) as session:
        add_source(session, now)
    # The first batch also makes the seller of the pages' identifier, and past eight listings
    # storage.sellers counts the unrelated ones: both before the batches compared.
    store(0, 10)
    assert store(10, 2) == store(100, 50)


def test_unchanged_listings_are_marked_seen_and_unknown_ones_reported(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(session_factory) as session:
        batch = pages(session, now)
        store_listings(session, batch[:2])
    later = now + timedelta(days=1)

    with transaction(session_factory) as session:
        known = mark_listings_seen(
            session,
            [
                ("shop", "https://shop.example/a", later),
                ("shop", "https://shop.example/nowhere", later),
                ("shop", "https://shop.example/b", later),
            ],
        )

    assert known == [True, False, True]
    with session_factory() as session:
        seen = session.scalars(select(Listing.last_seen)).all()
        assert seen == [later, later]


def test_repeats_go_in_later_rounds() -> None:
    keys = [("s", "a"), ("s", "b"), ("s", "a"), ("s", "a"), ("t", "a")]
    assert repeat_rounds(keys) == [[0, 1, 4], [2], [3]]


def test_mentions_and_indicators_are_all_stored(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(session_factory) as session:
        store_listings(session, pages(session, now))
    with session_factory() as session:
        assert session.scalar(select(func.count(Mention.id))) == 3
        assert session.scalar(select(func.count(Indicator.id))) == 6
