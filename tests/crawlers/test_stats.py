"""Every stats key the crawlers record is documented in one place: `crawlers.stats`."""

from __future__ import annotations

import re
from pathlib import Path

import crawlers
from crawlers import stats

PACKAGE = Path(crawlers.__file__).parent
KEY = re.compile(r"""f?["'](synthwatch/[a-z_/]*)(\{[^}]*\})?""")


def test_every_stats_key_is_documented() -> None:
    documented = stats.__doc__ or ""
    used: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for key, placeholder in KEY.findall(path.read_text()):
            if key != "synthwatch/":  # the namespace itself, not a key
                used.add(key + ("<" if placeholder else ""))

    missing = sorted(
        key
        for key in used
        if (key.removesuffix("<") if key.endswith("<") else f"`{key}`") not in documented
    )

    assert len(used) > 30
    assert missing == []


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
