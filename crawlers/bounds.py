"""The bounds of one crawl: pages, depth, and URL patterns that would never end (traps).

A site can link forever: a calendar's "next month", a pager past its last page, one page under
endless query strings. The spider asks `CrawlBounds.refusal` before it builds each request (of
a URL not seen before in the crawl) and requests nothing a bound refuses:

- `pages`: at most `max_pages` requests per crawl (index pages, listings, sitemaps);
- `depth`: at most `max_depth` link hops from a seed, a sitemap or a search page;
- `pattern`: at most `max_pattern_pages` index pages (or sitemaps) of one URL pattern: the
  URL with every run of digits read as one wildcard (`/calendar/2026/01` and
  `/calendar/2031/12` are one pattern, as are `?month=2026-01` and `?month=2031-12`); a
  pattern past its bound is a trap, and no more of its pages are followed;
- `query_variants`: at most `max_query_variants` listing URLs of one path that differ only in
  their query, unless the source names the query parameters that matter (`query_params`, which
  also drops the others from every URL: `crawlers.canonical`).

Listing pages are leaves (the spider follows no link from them), so a pattern bounds only the
pages that are followed. Each refusal is a reason in `storage.crawl_stats` (`capped/<reason>`).
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from crawlers.source_config import Limits
from storage.crawl_stats import CAP_REASONS

__all__ = ["CAP_REASONS", "CrawlBounds", "url_pattern"]

DIGITS = re.compile(r"[0-9]+")


def url_pattern(url: str) -> str:
    """Return a URL's pattern: host, path and query with every run of digits as `N`."""
    parts = urlsplit(url)
    query = "?" + "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    return DIGITS.sub("N", f"{parts.netloc}{parts.path}{query}")


class CrawlBounds:
    """Count one crawl's requests and say which must not be made."""

    def __init__(self, limits: Limits, *, query_params_given: bool = False) -> None:
        self.limits = limits
        self.query_params_given = query_params_given
        self.pages = 0
        self.patterns: Counter[str] = Counter()
        self.variants: Counter[str] = Counter()

    def refusal(self, url: str, depth: int, *, followed: bool) -> str | None:
        """Return the bound that refuses a new URL (`CAP_REASONS`), else count it and None.

        `followed` says the page's links will be followed (an index page or a sitemap).
        """
        limits = self.limits
        if depth > limits.max_depth:
            return "depth"
        if self.pages >= limits.max_pages:
            return "pages"
        pattern = url_pattern(url) if followed else ""
        if followed and self.patterns[pattern] >= limits.max_pattern_pages:
            return "pattern"
        parts = urlsplit(url)
        path = f"{parts.netloc}{parts.path}"
        if not followed and parts.query and not self.query_params_given:
            if self.variants[path] >= limits.max_query_variants:
                return "query_variants"
            self.variants[path] += 1
        if followed:
            self.patterns[pattern] += 1
        self.pages += 1
        return None
