"""Crawl the demo marketplace (demo/server.py, demo/sources.toml) as `synthwatch demo` will."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import Capture, CrawlRun, Listing, ListingVersion
from storage.warc import read_capture
from tests.crawlers.harness import REPO, Harness

pytestmark = pytest.mark.slow

DEMO = REPO / "demo"


@pytest.fixture(scope="module")
def demo_server() -> Iterator[Any]:
    from demo.server import DemoServer

    server = DemoServer(port=0)
    server.start()
    yield server
    server.stop()


def expected(source_id: str) -> tuple[set[str], dict[str, dict[str, Any]]]:
    data = tomllib.loads((DEMO / "expected.toml").read_text())
    listings = {
        entry["path"]
        for kind in ("offer", "benign")
        for entry in data.get(kind, [])
        if entry["source"] == source_id
    }
    refused = {e["url"]: e for e in data.get("refused", []) if e["source"] == source_id}
    return listings, refused


@pytest.mark.parametrize("source_id", ["demo-b2b", "demo-classifieds", "demo-forum"])
def test_the_demo_crawl(harness: Harness, demo_server: Any, source_id: str) -> None:
    text = (DEMO / "sources.toml").read_text().replace("{base_url}", demo_server.base_url)
    sources = harness.write_sources(text)
    harness.register_file(sources)
    before = len(demo_server.requests())

    outcome = harness.crawl(source_id, sources, settings={"SYNTHWATCH_ANALYSER": "nlp.Analyser"})

    assert outcome.ok, outcome.log_path.read_text()
    listings, refused = expected(source_id)
    requested = {entry.path for entry in demo_server.requests()[before:]}
    # A login page that only fetching reveals ("fetched") may be requested; nothing else may.
    never = {url for url, e in refused.items() if url.startswith("/") and not e.get("fetched")}
    assert not requested & never
    base = demo_server.base_url
    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None and run.status == "finished"
        stored = {listing.url.removeprefix(base) for listing in session.scalars(select(Listing))}
        assert stored == listings
        flagged = session.scalars(select(ListingVersion).where(ListingVersion.offer)).all()
        assert run.stats.get("synthwatch/flagged", 0) == len(flagged)
        for capture in session.scalars(select(Capture)):
            check = read_capture(harness.home, capture)
            assert check.verified, check.message
        for url, entry in refused.items():
            absolute = url if "://" in url else base + url
            recorded = run.stats.get(f"synthwatch/refused_urls/{entry['reason']}", [])
            # Members areas sit behind the login pages: no selector ever reaches them.
            assert absolute in recorded or (entry["reason"] == "login" and url not in requested)
