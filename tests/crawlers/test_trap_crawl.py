"""Trap sites crawled end to end on 127.0.0.1 finish quickly, bounded, and say they were capped."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.crawls import crawl_summary
from storage.models import Case, CrawlRun, Listing
from tests.conftest import NOW
from tests.crawlers.harness import Harness, MockServer
from tests.factories import source_toml

pytestmark = pytest.mark.slow

ROBOTS = "User-agent: *\nAllow: /\n"
MONTHS = 600  # "forever", as far as a test crawl goes: the crawl must stop long before
LIMITS = "[source.limits]\nmax_pattern_pages = 12\n"


def month(n: int) -> str:
    return f"/calendar/{2026 + n // 12}/{n % 12 + 1:02}"


def calendar_site(server: MockServer) -> None:
    server.add("/robots.txt", ROBOTS, headers={"Content-Type": "text/plain"})
    server.add("/", f'<html><body><a rel="next" href="{month(0)}">calendar</a></body></html>')
    for n in range(MONTHS):
        event = f"/item/event-{n}"
        server.add(
            month(n),
            f'<html><body><a class="listing" href="{event}">event</a>'
            f'<a rel="next" href="{month(n + 1)}">next month</a></body></html>',
        )
        server.add(event, f"<html><body><h1>Event {n}</h1><p>Fentanyl, $120</p></body></html>")


def run_stats(harness: Harness, run_id: int | None) -> dict:
    with harness.session_factory() as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None and run.status == "finished"
        return dict(run.stats)


def count(harness: Harness, model: type) -> int:
    with harness.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_calendar_trap_is_stopped_and_recorded(harness: Harness, server: MockServer) -> None:
    calendar_site(server)
    toml = source_toml("calendar", server.base_url, index_links=None) + LIMITS
    sources = harness.write_sources(toml)
    harness.register_file(sources)

    outcome = harness.crawl("calendar", sources, timeout=60)

    assert outcome.ok, outcome.log_path.read_text()
    stats = run_stats(harness, outcome.run_id)
    # Twelve months of the calendar, and the event each links to.
    assert count(harness, Listing) == 12 == stats["synthwatch/listings_stored"]
    assert count(harness, Case) == 12
    assert stats["synthwatch/capped"] == stats["synthwatch/capped/pattern"] == 1
    assert stats["synthwatch/traps"] == ["N.N.N.N:N/calendar/N/N"]
    assert stats["synthwatch/capped_urls/pattern"] == [f"{server.base_url}{month(12)}"]
    assert stats["synthwatch/incomplete"] >= 1  # a capped crawl marks no listing missed
    with harness.session_factory() as session:
        (run,) = crawl_summary(session, [outcome.run_id or 0], now=NOW).runs
    assert run["status"] == "finished" and run["capped"] == 1


def test_the_page_bound_stops_a_crawl(harness: Harness, server: MockServer) -> None:
    calendar_site(server)
    toml = source_toml("calendar", server.base_url, index_links=None)
    sources = harness.write_sources(toml + "[source.limits]\nmax_pages = 9\n")
    harness.register_file(sources)

    outcome = harness.crawl("calendar", sources, timeout=60)

    assert outcome.ok, outcome.log_path.read_text()
    stats = run_stats(harness, outcome.run_id)
    assert count(harness, Listing) <= 9
    assert stats["synthwatch/capped/pages"] >= 1 and stats["synthwatch/capped"] >= 1
    assert len([p for p in server.paths() if p != "/robots.txt"]) == 9


def variants_site(server: MockServer) -> None:
    """One listing linked under 300 query strings: trackers, fragments, order, a session id."""
    server.add("/robots.txt", ROBOTS, headers={"Content-Type": "text/plain"})
    hrefs = [f"/item/one?utm_source=mail{n}&fbclid={n}" for n in range(100)]
    hrefs += [f"/item/one?gclid={n}#reviews-{n}" for n in range(100)]
    hrefs += [f"/item/one?session={n}" for n in range(100)]
    links = "".join(f'<a class="listing" href="{href}">one</a>' for href in hrefs)
    server.add("/", f"<html><body>{links}</body></html>")
    server.add("/item/one", "<html><body><h1>One</h1><p>Fentanyl, $120</p></body></html>")


def test_query_string_variants_of_one_page_are_bounded(
    harness: Harness, server: MockServer
) -> None:
    variants_site(server)
    toml = source_toml("variants", server.base_url, index_links=None)
    sources = harness.write_sources(toml + "[source.limits]\nmax_query_variants = 5\n")
    harness.register_file(sources)

    outcome = harness.crawl("variants", sources, timeout=60)

    assert outcome.ok, outcome.log_path.read_text()
    stats = run_stats(harness, outcome.run_id)
    with harness.session_factory() as session:
        urls = set(session.scalars(select(Listing.url)))
    # The trackers and fragments are one page; five session ids are fetched, then the bound;
    # a session id with the text of the page read before it is that page, not a listing.
    assert f"{server.base_url}/item/one" in urls and len(urls) <= 2
    assert stats["synthwatch/capped/query_variants"] == 95
    assert stats["synthwatch/duplicates/query_variant"] >= 4


def test_query_variants_with_one_text_are_one_listing_by_default(
    harness: Harness, server: MockServer
) -> None:
    variants_site(server)
    sources = harness.write_sources(source_toml("variants", server.base_url, index_links=None))
    harness.register_file(sources)

    outcome = harness.crawl("variants", sources, timeout=60)

    assert outcome.ok, outcome.log_path.read_text()
    stats = run_stats(harness, outcome.run_id)
    with harness.session_factory() as session:
        urls = set(session.scalars(select(Listing.url)))
    # 300 query strings, one text: one listing (two when a session variant came first).
    assert f"{server.base_url}/item/one" in urls and len(urls) <= 2
    assert stats["synthwatch/duplicates/query_variant"] >= 99
    assert stats.get("synthwatch/capped/query_variants", 0) == 0


def test_a_source_naming_its_query_params_gets_one_listing(
    harness: Harness, server: MockServer
) -> None:
    variants_site(server)
    toml = source_toml("variants", server.base_url, index_links=None)
    sources = harness.write_sources(toml + 'query_params = ["id"]\n')
    harness.register_file(sources)

    outcome = harness.crawl("variants", sources, timeout=60)

    assert outcome.ok, outcome.log_path.read_text()
    with harness.session_factory() as session:
        assert list(session.scalars(select(Listing.url))) == [f"{server.base_url}/item/one"]
    assert run_stats(harness, outcome.run_id)["synthwatch/capped"] == 0
