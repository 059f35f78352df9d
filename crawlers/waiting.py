"""Waits inside a crawl (robots.txt back-off, Retry-After) that a closing crawl cuts short.

Scrapy closes a crawl only once every request in progress is done, and a request waiting in a
middleware is in progress: a wait of minutes would hold a SIGTERM or a closespider limit up
that long. So waits go in short steps and end early once the engine stops or starts closing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from scrapy.utils.asyncio import sleep

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

STEP = 0.25


def crawl_closing(crawler: Crawler) -> bool:
    """Tell whether the crawl is stopping or closing its spider."""
    engine = crawler.engine
    if engine is None or not engine.running:
        return True
    # Scrapy has no public flag for "closing" (a CloseSpider or closespider_* limit).
    slot = getattr(engine, "_slot", None)
    return slot is None or getattr(slot, "closing", None) is not None


async def pause(crawler: Crawler, seconds: float) -> bool:
    """Wait `seconds`; return False as soon as the crawl is closing, True after the wait."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if crawl_closing(crawler):
            return False
        await sleep(min(STEP, left))
    return not crawl_closing(crawler)
