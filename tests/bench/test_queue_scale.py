"""The queue-scale bench (bench.queue_scale) at 200 listings: it stores what it says and every
timed page answers, searches finding something."""

from __future__ import annotations

from sqlalchemy import Engine

from bench.queue_scale import REQUESTS, counts, generate, populate, table, time_requests
from storage.db import make_session_factory


def test_the_generator_is_deterministic_and_mixes_offers_news_and_changes() -> None:
    listings = list(generate(200, seed=3))
    assert listings == list(generate(200, seed=3))
    assert len({item.url for item in listings}) == 200
    offers = [item for item in listings if item.analysis.offer]
    assert 100 < len(offers) < 200  # news and harm-reduction pages too
    assert any(item.revised is not None for item in listings)
    kinds = {i.kind for item in offers for i in item.analysis.indicators}
    assert kinds == {"quantity", "price", "contact", "route"}
    for item in listings:  # spans point at what they name
        for span in (*item.analysis.mentions, *item.analysis.indicators):
            assert item.text[span.start : span.end] == span.text


def test_200_listings_are_stored_and_every_page_is_timed(engine: Engine) -> None:
    factory = make_session_factory(engine)
    populate(factory, 200)

    stored = counts(factory)
    assert stored["listings"] == 200
    assert stored["listing_versions"] > 200
    assert 100 < stored["cases"] < 200
    timings = time_requests(factory, repeat=2)
    assert [t.kind for t in timings] == [kind for kind, _path in REQUESTS]
    assert all(len(t.milliseconds) == 2 and t.p50 > 0 and t.p95 >= t.p50 for t in timings)
    results = {t.kind: t.results for t in timings}
    assert results["queue, page 50"] == stored["cases"]  # state=all: every case
    assert 0 < (results["queue, search"] or 0) < stored["cases"]
    assert 0 < (results["listings, search"] or 0) < stored["listings"]
    assert "| trends (`/trends`) |" in table("sqlite", timings)
