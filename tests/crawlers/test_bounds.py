"""The bounds of a crawl: pages, depth, trap patterns and query variants."""

from __future__ import annotations

import pytest

from crawlers.bounds import CrawlBounds, url_pattern
from crawlers.source_config import Limits


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://s.example/calendar/2026/01", "https://s.example/calendar/2031/12"),
        ("https://s.example/events?month=2026-01", "https://s.example/events?month=2140-07"),
        ("https://s.example/c/drugs?page=2", "https://s.example/c/drugs?page=300"),
    ],
)
def test_urls_differing_in_numbers_share_a_pattern(first: str, second: str) -> None:
    assert url_pattern(first) == url_pattern(second)


def test_a_pattern_reads_digits_as_one_wildcard() -> None:
    assert url_pattern("https://s.example/c/2026-01?page=3&b=x") == "s.example/c/N-N?b=x&page=N"


def test_urls_differing_in_words_do_not() -> None:
    assert url_pattern("https://s.example/c/drugs") != url_pattern("https://s.example/c/kits")


def test_a_pattern_past_its_bound_is_a_trap_and_other_patterns_go_on() -> None:
    bounds = CrawlBounds(Limits(max_pattern_pages=3))
    calendar = [f"https://s.example/calendar/2026/{month:02}" for month in range(1, 6)]

    refusals = [bounds.refusal(url, depth=1, followed=True) for url in calendar]

    assert refusals == [None, None, None, "pattern", "pattern"]
    assert bounds.refusal("https://s.example/c/drugs", depth=1, followed=True) is None


def test_listings_are_leaves_not_patterns() -> None:
    bounds = CrawlBounds(Limits(max_pattern_pages=3))

    refusals = {bounds.refusal(f"https://s.example/item/{n}", 1, followed=False) for n in range(50)}

    assert refusals == {None}


def test_the_page_bound_counts_every_request() -> None:
    bounds = CrawlBounds(Limits(max_pages=4))
    urls = [f"https://s.example/{kind}/{n}" for n in range(3) for kind in ("c", "item")]

    refusals = [bounds.refusal(url, 1, followed=url.count("/c/") == 1) for url in urls]

    assert refusals == [None, None, None, None, "pages", "pages"]


def test_the_depth_bound() -> None:
    bounds = CrawlBounds(Limits(max_depth=2))

    assert bounds.refusal("https://s.example/a", 2, followed=True) is None
    assert bounds.refusal("https://s.example/b", 3, followed=True) == "depth"


def test_query_variants_of_one_listing_path_are_bounded() -> None:
    bounds = CrawlBounds(Limits(max_query_variants=2))
    urls = [f"https://s.example/item/x?v={n}" for n in range(4)]

    refusals = [bounds.refusal(url, 1, followed=False) for url in urls]

    assert refusals == [None, None, "query_variants", "query_variants"]
    assert bounds.refusal("https://s.example/item/y?v=1", 1, followed=False) is None


def test_a_source_naming_its_query_params_has_no_query_variant_bound() -> None:
    bounds = CrawlBounds(Limits(max_query_variants=2), query_params_given=True)

    refusals = {
        bounds.refusal(f"https://s.example/p.php?id={n}", 1, followed=False) for n in range(9)
    }

    assert refusals == {None}
