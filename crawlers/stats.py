"""The stats a crawl run records (`crawl_runs.stats`), and the helpers that record them.

This is the one place the keys are documented. Every key below exists in a closed run's stats,
with 0 when nothing happened (`<reason>` keys for each reason listed), so that
`synthwatch crawl-runs` can print a stable table. Counters:

- `synthwatch/requests`: requests sent, robots.txt, retries and redirects included
  (Scrapy's `downloader/request_count`, copied when the run closes).
- `synthwatch/pages_fetched`: responses received for pages (robots.txt not counted; a 304 is).
- `synthwatch/listings_stored`: listing pages stored, each with a capture and its WARC record.
- `synthwatch/listings_new`: listings seen for the first time.
- `synthwatch/listings_changed`: known listings whose normalised text changed (a new version).
- `synthwatch/listings_new_version`: new and changed together (a version was written).
- `synthwatch/listings_unchanged`: listings seen again unchanged: a 304 answer to a
  conditional GET (nothing written, nothing analysed) or the same normalised text.
- `synthwatch/listings_missed`: listings of the source this run did not see; counted only when
  the run finished with `synthwatch/incomplete` at 0, else left alone.
- `synthwatch/listings_gone`: listings newly marked gone, having been missed by
  `SYNTHWATCH_GONE_AFTER` such runs in a row.
- `synthwatch/flagged`: stored listings whose analysis reads as an offer.
- `synthwatch/refused/<reason>`: requests refused, per reason: the guard's (`scheme`, `onion`,
  `ip_literal`, `out_of_scope`, `login`, `private_address`), `robots` (robots.txt disallows the
  URL, or the host's robots.txt is unreachable) and `crawl_delay` (the host asks a Crawl-delay
  above `SYNTHWATCH_ROBOTS_MAX_CRAWL_DELAY`).
- `synthwatch/blocked`: pages that were CAPTCHA or WAF challenges (never stored).
- `synthwatch/errors`: URLs that failed, and failures in callbacks and pipelines.
- `synthwatch/errors/<reason>`: the same per reason: `timeout` (DOWNLOAD_TIMEOUT),
  `connection_lost` (reset, closed or failed mid-response), `connection_refused`, `dns`,
  `too_large` (over DOWNLOAD_MAXSIZE), `decompression_bomb` (over DOWNLOAD_MAXSIZE once
  decompressed), `too_many_redirects` (over REDIRECT_MAX_TIMES), `redirect_loop` (redirected
  back to a URL already requested), `retry_after_too_long` (a Retry-After beyond
  `SYNTHWATCH_RETRY_AFTER_MAX`), `cancelled`, `spider` (a callback raised), `pipeline`,
  `evidence` (WARC not written), `storage` (row not stored), `other`; and `http_<status>` for
  an HTTP error status left after retries (created when it happens).
- `synthwatch/incomplete`: failures that leave this run's view of the site partial: every
  error but `http_404` and `http_410`, every block, every host whose robots.txt stayed
  unreachable or whose Crawl-delay is too long. Misses are counted only when it is 0.
- `synthwatch/robots/fetched`, `synthwatch/robots/cached` (rules read from the robots cache),
  `synthwatch/robots/retries` (robots.txt fetched again after a back-off),
  `synthwatch/robots/unreachable` (hosts refused for this run), and
  `synthwatch/robots/crawl_delay_too_long` (hosts skipped).
- `synthwatch/retry_after/paused` (a 429/503 paused its host), `synthwatch/retry_after/retried`.
- `synthwatch/interrupted_runs`: runs of this source still marked running (their process was
  killed) that this run marked interrupted when it opened.
- `synthwatch/gate/refused`: 1 when the legal gate refused the crawl.
- `synthwatch/duration_seconds`: from the run's start to its close.

Other counters, created when they happen: `synthwatch/evidence/records`,
`synthwatch/extraction/<method>` (how a listing's text was read), `synthwatch/skipped/not_text`,
`synthwatch/sitemap/invalid`, `synthwatch/guard/credentials_stripped`,
`synthwatch/redirects/to_seen` (a redirect to a URL this crawl already requested: not fetched
twice, not an error).

Lists, each bounded: `synthwatch/refused_urls/<reason>` and `synthwatch/blocked_urls` (URLs, at
most `SYNTHWATCH_REFUSED_URLS_MAX` per key) and `synthwatch/error_urls` (`{"url", "reason"}`
objects, at most `SYNTHWATCH_ERROR_URLS_MAX`; the URL is the one first requested, before any
redirect). Beside them the closed run keeps Scrapy's `downloader/request_count`,
`downloader/response_count`, `item_scraped_count`, `item_dropped_count`,
`elapsed_time_seconds`, and `finish_reason`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

REFUSAL_REASONS = (
    "scheme",
    "onion",
    "ip_literal",
    "out_of_scope",
    "login",
    "private_address",
    "robots",
    "crawl_delay",
)
ERROR_REASONS = (
    "timeout",
    "connection_lost",
    "connection_refused",
    "dns",
    "too_large",
    "decompression_bomb",
    "too_many_redirects",
    "redirect_loop",
    "retry_after_too_long",
    "cancelled",
    "spider",
    "pipeline",
    "evidence",
    "storage",
    "other",
)
# A listing that answers 404 or 410 is really not there: its miss is news, not a gap.
COMPLETE_ERRORS = frozenset({"http_404", "http_410"})
COUNTERS = (
    "synthwatch/requests",
    "synthwatch/pages_fetched",
    "synthwatch/listings_stored",
    "synthwatch/listings_new",
    "synthwatch/listings_changed",
    "synthwatch/listings_new_version",
    "synthwatch/listings_unchanged",
    "synthwatch/listings_missed",
    "synthwatch/listings_gone",
    "synthwatch/flagged",
    "synthwatch/blocked",
    "synthwatch/errors",
    "synthwatch/incomplete",
    "synthwatch/robots/fetched",
    "synthwatch/robots/cached",
    "synthwatch/robots/retries",
    "synthwatch/robots/unreachable",
    "synthwatch/robots/crawl_delay_too_long",
    "synthwatch/retry_after/paused",
    "synthwatch/retry_after/retried",
    "synthwatch/interrupted_runs",
    "synthwatch/gate/refused",
    "synthwatch/duration_seconds",
    *(f"synthwatch/refused/{reason}" for reason in REFUSAL_REASONS),
    *(f"synthwatch/errors/{reason}" for reason in ERROR_REASONS),
)
ERROR_URLS = "synthwatch/error_urls"
# Scrapy's own stats that belong in the run summary beside the `synthwatch/*` keys.
SCRAPY_STATS = (
    "downloader/request_count",
    "downloader/response_count",
    "item_scraped_count",
    "item_dropped_count",
    "elapsed_time_seconds",
)


def record_url(stats: StatsCollector, key: str, list_key: str, url: str, limit: int) -> None:
    """Count an event under `key` and keep its URL in the bounded list `list_key`."""
    stats.inc_value(key)
    urls: list[str] = list(stats.get_value(list_key, []))
    if len(urls) < limit and url not in urls:
        urls.append(url)
        stats.set_value(list_key, urls)


def record_refusal(stats: StatsCollector, reason: str, url: str, limit: int) -> None:
    """Count a refusal and keep its URL for the run summary."""
    record_url(
        stats, f"synthwatch/refused/{reason}", f"synthwatch/refused_urls/{reason}", url, limit
    )


def record_blocked(stats: StatsCollector, url: str, limit: int) -> None:
    """Count a challenge page, which leaves the run incomplete."""
    record_url(stats, "synthwatch/blocked", "synthwatch/blocked_urls", url, limit)
    stats.inc_value("synthwatch/incomplete")


def record_error(stats: StatsCollector, reason: str, url: str, limit: int) -> None:
    """Count a failure per reason and keep `{url, reason}` in the bounded error list."""
    stats.inc_value("synthwatch/errors")
    stats.inc_value(f"synthwatch/errors/{reason}")
    if reason not in COMPLETE_ERRORS:
        stats.inc_value("synthwatch/incomplete")
    entries: list[dict[str, str]] = list(stats.get_value(ERROR_URLS, []))
    if len(entries) < limit:
        entries.append({"url": url, "reason": reason})
        stats.set_value(ERROR_URLS, entries)


def run_stats(stats: dict[str, Any], reason: str) -> dict[str, Any]:
    """Return the JSON-able summary of a crawl's stats, every documented counter present."""
    summary: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
    summary[ERROR_URLS] = []
    summary.update(
        (key, value)
        for key, value in stats.items()
        if key.startswith("synthwatch/") or key in SCRAPY_STATS
    )
    summary["finish_reason"] = reason
    return dict(sorted(json.loads(json.dumps(summary, default=str)).items()))
