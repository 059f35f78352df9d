"""Record a crawl's stats in Scrapy's stats collector; the keys are `storage.crawl_stats`'s."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from storage.crawl_stats import (
    BLOCKED,
    BLOCKED_URLS,
    COMPLETE_ERRORS,
    COUNTERS,
    ERROR_URLS,
    ERRORS,
    FINISH_REASON,
    INCOMPLETE,
    NAMESPACE,
    SCRAPY_STATS,
    error_key,
    refused_key,
    refused_urls_key,
)

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector


def record_url(stats: StatsCollector, key: str, list_key: str, url: str, limit: int) -> None:
    """Count an event under `key` and keep its URL in the bounded list `list_key`."""
    stats.inc_value(key)
    urls: list[str] = list(stats.get_value(list_key, []))
    if len(urls) < limit and url not in urls:
        urls.append(url)
        stats.set_value(list_key, urls)


def record_refusal(stats: StatsCollector, reason: str, url: str, limit: int) -> None:
    """Count a refusal and keep its URL for the run summary."""
    record_url(stats, refused_key(reason), refused_urls_key(reason), url, limit)


def record_blocked(stats: StatsCollector, url: str, limit: int) -> None:
    """Count a challenge page, which leaves the run incomplete."""
    record_url(stats, BLOCKED, BLOCKED_URLS, url, limit)
    stats.inc_value(INCOMPLETE)


def record_error(stats: StatsCollector, reason: str, url: str, limit: int) -> None:
    """Count a failure per reason and keep `{url, reason}` in the bounded error list."""
    stats.inc_value(ERRORS)
    stats.inc_value(error_key(reason))
    if reason not in COMPLETE_ERRORS:
        stats.inc_value(INCOMPLETE)
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
        if key.startswith(NAMESPACE) or key in SCRAPY_STATS
    )
    summary[FINISH_REASON] = reason
    return dict(sorted(json.loads(json.dumps(summary, default=str)).items()))
