"""Retry-After on 429 and 503: pause the host until then, and retry the request.

When a response is downloaded with status 429 or 503 and a `Retry-After` header (seconds or
an HTTP-date; RFC 9110 §10.2.3), its host's downloader slot is paused until that time, before
the slot can send its next request: `slot.lastseen` is moved to the end of the pause, so the
slot's next request waits for the pause and then the usual delay. Requests not yet in the slot
wait here, in `process_request`. The request is then retried, at most
`SYNTHWATCH_RETRY_AFTER_TIMES` times (after that the response goes on as an HTTP error).

A wait longer than `SYNTHWATCH_RETRY_AFTER_MAX` seconds is not waited for: the URL fails as
`retry_after_too_long`, and so does every later request to that host until the pause ends,
which keeps the crawl from ever asking before the server said it may. A 429 without
`Retry-After` pauses for `SYNTHWATCH_RETRY_AFTER_DEFAULT`; a 503 without it is left to
Scrapy's RetryMiddleware. robots.txt requests pause the host too, but `crawlers.robots` decides
about fetching them again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawlers.faults import CrawlFault
from crawlers.guard import ROBOTS_REQUEST
from crawlers.waiting import pause
from storage import crawl_stats
from storage.clock import Clock, utcnow

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

STATUSES = frozenset({429, 503})
TIMES_META = "synthwatch_retry_after_times"


def retry_after_seconds(value: bytes | str | None, now: datetime) -> float | None:
    """Return the seconds a Retry-After value asks to wait (never negative), or None."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" reads as naive; an HTTP-date is GMT anyway
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class RetryAfterMiddleware:
    """Pause a host that answered 429/503 with Retry-After; retry the request afterwards."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        max_times: int,
        max_wait: float,
        default_wait: float,
        monotonic: Callable[[], float] = time.monotonic,
        now: Clock = utcnow,
        wait: Callable[[float], Awaitable[bool]] | None = None,
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.max_times = max_times
        self.max_wait = max_wait
        self.default_wait = default_wait
        self._monotonic = monotonic
        self._now = now
        self._wait = wait or (lambda seconds: pause(crawler, seconds))
        # Slot key (host) → monotonic time before which nothing may be sent to it.
        self.paused_until: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        middleware = cls(
            crawler,
            max_times=settings.getint("SYNTHWATCH_RETRY_AFTER_TIMES", 3),
            max_wait=settings.getfloat("SYNTHWATCH_RETRY_AFTER_MAX", 300.0),
            default_wait=settings.getfloat("SYNTHWATCH_RETRY_AFTER_DEFAULT", 60.0),
        )
        crawler.signals.connect(middleware.response_downloaded, signal=signals.response_downloaded)
        return middleware

    def wait_for(self, response: Response) -> float | None:
        """Return how long a 429/503 asks to wait, or None when it is not ours to handle."""
        if response.status not in STATUSES:
            return None
        wait = retry_after_seconds(response.headers.get(b"Retry-After"), self._now())
        if wait is None and response.status == 429:
            return self.default_wait
        return wait

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        # Sent before the slot frees up for its next request: the pause starts in time.
        wait = self.wait_for(response)
        if wait is None:
            return
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        until = self._monotonic() + wait
        if until > self.paused_until.get(key, 0.0):
            self.paused_until[key] = until
        self.stats.inc_value(crawl_stats.RETRY_AFTER_PAUSED)
        logger.info("%s answered %s: host %s paused %.1fs", request.url, response.status, key, wait)
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.lastseen = max(slot.lastseen, self.paused_until[key])
            # A slot without delay never looks at lastseen; give it a token one.
            slot.delay = slot.delay or 0.001

    async def process_request(self, request: Request) -> None:
        key = self.crawler.engine.downloader.get_slot_key(request)
        remaining = self.paused_until.get(key, 0.0) - self._monotonic()
        if remaining <= 0:
            return
        if remaining > self.max_wait:
            raise self.too_long(request, remaining)
        if not await self._wait(remaining):
            raise IgnoreRequest(f"the crawl is closing: {request.url} not sent")

    def process_response(self, request: Request, response: Response) -> Request | Response:
        wait = self.wait_for(response)
        if wait is None:
            return response
        if wait > self.max_wait:
            raise self.too_long(request, wait)
        if request.meta.get(ROBOTS_REQUEST):
            return response
        times = int(request.meta.get(TIMES_META, 0)) + 1
        if times > self.max_times:
            request.meta["dont_retry"] = True  # not again at once by RetryMiddleware
            return response
        retry = request.copy()
        retry.meta[TIMES_META] = times
        retry.dont_filter = True
        self.stats.inc_value(crawl_stats.RETRY_AFTER_RETRIED)
        return retry

    def too_long(self, request: Request, wait: float) -> CrawlFault:
        """Return the failure of a request its host asked us not to send for too long."""
        logger.warning(
            "%s: Retry-After %.0fs is beyond the %.0fs we wait", request.url, wait, self.max_wait
        )
        return CrawlFault(
            "retry_after_too_long", f"Retry-After {wait:.0f}s for {request.url} is too long"
        )
