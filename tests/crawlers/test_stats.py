"""Recording a crawl's stats: bounded URL lists, every counter present when a run closes."""

from __future__ import annotations

from crawlers import stats


def test_a_closed_run_has_every_counter() -> None:
    summary = stats.run_stats({"synthwatch/errors": 2, "scheduler/enqueued": 9}, "finished")

    assert summary["synthwatch/errors"] == 2 and "scheduler/enqueued" not in summary
    assert summary["synthwatch/refused/robots"] == 0
    assert summary["synthwatch/errors/timeout"] == 0
    assert summary["synthwatch/listings_new"] == 0
    assert summary["synthwatch/error_urls"] == []
    assert summary["finish_reason"] == "finished"


def test_errors_are_kept_with_their_url_up_to_a_limit() -> None:
    from scrapy.utils.test import get_crawler

    collector = get_crawler().stats
    for n in range(3):
        stats.record_error(collector, "timeout", f"https://shop.example/{n}", 2)
    stats.record_error(collector, "http_404", "https://shop.example/gone", 2)

    assert collector.get_value("synthwatch/errors") == 4
    assert collector.get_value("synthwatch/errors/timeout") == 3
    assert collector.get_value("synthwatch/error_urls") == [
        {"url": "https://shop.example/0", "reason": "timeout"},
        {"url": "https://shop.example/1", "reason": "timeout"},
    ]
    # A listing that is not there any more leaves the run complete.
    assert collector.get_value("synthwatch/incomplete") == 3
