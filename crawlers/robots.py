"""robots.txt per RFC 9309: a downloader middleware that fetches it per host and fails closed.

Per scheme, host and port (§2.3): a 2xx robots.txt gives the rules of the group matching our
product token, `SYNTHWATCH_ROBOTS_AGENT`, else of `*` (Protego; only the first 500 KiB are
parsed, cut at a line end, §2.5; read as UTF-8, a leading byte order mark dropped); a 4xx
other than 429 ("unavailable") allows everything; a 5xx, a 429, a timeout, a DNS or
connection failure ("unreachable") disallows the whole host (§2.3.1.4). Redirects of
robots.txt are followed, at most REDIRECT_MAX_TIMES (5), each through the guard; more, or a
redirect the guard refuses, counts as unreachable (a failed DNS look-up is asked again).

Unreachable is "for now": the host's requests wait while robots.txt is fetched again after each
back-off of `SYNTHWATCH_ROBOTS_RETRY_DELAYS` (15 s, then 60 s: three attempts in all); if it is
still unreachable they are refused (`synthwatch/refused/robots`) for the rest of the crawl and
the host counts in `synthwatch/robots/unreachable`. Scrapy's own retries are off for robots.txt.

Rules are cached for at most `SYNTHWATCH_ROBOTS_CACHE_SECONDS` (24 h): in memory within a crawl,
and across crawls in `$SYNTHWATCH_HOME/robots-cache/` (`crawlers.robots_cache`).

A Crawl-delay raises the host's download delay for the crawl; one above
`SYNTHWATCH_ROBOTS_MAX_CRAWL_DELAY` skips the host (`synthwatch/refused/crawl_delay`), never
crawling it faster than asked. The robots.txt request goes through the same middlewares as any
page, so the guard checks it and it carries our User-Agent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from protego import Protego
from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawlers.faults import CrawlFault
from crawlers.guard import ROBOTS_REQUEST
from crawlers.robots_cache import RobotsCache
from crawlers.stats import record_refusal
from crawlers.waiting import pause
from storage import crawl_stats
from storage.clock import Clock, utcnow

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# RFC 9309 §2.5: crawlers must parse at least the first 500 KiB.
MAX_ROBOTS_BYTES = 500 * 1024
# Fetched before any page of its host.
ROBOTS_PRIORITY = 1000
CACHE_FOLDER = "robots-cache"


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """What one host's robots.txt lets us fetch in this crawl."""

    parser: Protego | None = None
    unreachable: bool = False
    crawl_delay: float | None = None

    def allows(self, url: str, agent: str) -> bool:
        """Tell whether the agent may fetch this URL."""
        if self.unreachable:
            return False
        return self.parser is None or bool(self.parser.can_fetch(url, agent))


ALLOW_ALL = RobotsRules()
UNREACHABLE = RobotsRules(unreachable=True)


def parse_limit(body: bytes) -> bytes:
    """Return the part of a robots.txt that is parsed: 500 KiB, cut after the last line end.

    A rule cut in half could read as another rule ("Disallow: /" cut to "Disallow:" allows all).
    """
    if len(body) <= MAX_ROBOTS_BYTES:
        return body
    head = body[:MAX_ROBOTS_BYTES]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[: end + 1] if end >= 0 else b""


def rules_from_response(status: int, body: bytes, agent: str) -> RobotsRules:
    """Decide the rules of a host from its robots.txt response."""
    if 200 <= status < 300:
        # utf-8-sig drops a byte order mark, which would hide the first line's rule.
        parser = Protego.parse(parse_limit(body).decode("utf-8-sig", errors="replace"))
        delay = parser.crawl_delay(agent)
        return RobotsRules(parser=parser, crawl_delay=float(delay) if delay else None)
    if 400 <= status < 500 and status != 429:
        return ALLOW_ALL
    return UNREACHABLE


@dataclass(slots=True)
class _Host:
    """The rules of one origin, and how they were got."""

    rules: RobotsRules
    got_at: datetime
    attempts: int
    retryable: bool


class RobotsTxtMiddleware:
    """Refuse what robots.txt disallows; honour Crawl-delay; fail closed, retry later."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        agent: str,
        max_crawl_delay: float,
        timeout: float,
        refused_urls_max: int,
        retry_delays: Sequence[float] = (),
        cache: RobotsCache | None = None,
        max_age: timedelta = timedelta(hours=24),
        clock: Clock = utcnow,
        wait: Callable[[float], Awaitable[bool]] | None = None,
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.agent = agent
        self.max_crawl_delay = max_crawl_delay
        self.timeout = timeout
        self.refused_urls_max = refused_urls_max
        self.retry_delays = tuple(retry_delays)
        self.cache = cache
        self.max_age = min(max_age, timedelta(hours=24))
        self.clock = clock
        self._wait = wait or (lambda seconds: pause(crawler, seconds))
        self._hosts: dict[str, _Host] = {}
        self._waiting: dict[str, list[Deferred[None]]] = {}
        self._delays: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        seconds = settings.getfloat("SYNTHWATCH_ROBOTS_CACHE_SECONDS", 24 * 3600)
        home = settings.get("SYNTHWATCH_HOME")
        cache = None
        if home and seconds > 0:
            cache = RobotsCache(Path(home) / CACHE_FOLDER, max_age=timedelta(seconds=seconds))
        middleware = cls(
            crawler,
            agent=settings.get("SYNTHWATCH_ROBOTS_AGENT", "SynthWatch"),
            max_crawl_delay=settings.getfloat("SYNTHWATCH_ROBOTS_MAX_CRAWL_DELAY", 60.0),
            timeout=settings.getfloat("SYNTHWATCH_ROBOTS_TIMEOUT", 20.0),
            refused_urls_max=settings.getint("SYNTHWATCH_REFUSED_URLS_MAX", 50),
            retry_delays=[float(d) for d in settings.getlist("SYNTHWATCH_ROBOTS_RETRY_DELAYS")],
            cache=cache,
            max_age=timedelta(seconds=seconds) if seconds > 0 else timedelta(hours=24),
        )
        # Connected after AutoThrottle (an extension, built earlier), so this floor wins.
        crawler.signals.connect(middleware.response_downloaded, signal=signals.response_downloaded)
        return middleware

    async def process_request(self, request: Request) -> None:
        if request.meta.get(ROBOTS_REQUEST):
            return
        rules = await self.rules_for(request)
        if not rules.allows(request.url, self.agent):
            record_refusal(self.stats, "robots", request.url, self.refused_urls_max)
            logger.debug("robots.txt disallows %s", request.url)
            raise IgnoreRequest(f"robots.txt disallows {request.url}")
        if rules.crawl_delay is not None and rules.crawl_delay > self.max_crawl_delay:
            record_refusal(self.stats, "crawl_delay", request.url, self.refused_urls_max)
            raise IgnoreRequest(f"Crawl-delay {rules.crawl_delay}s is too long for {request.url}")
        if rules.crawl_delay:
            self._floor_delay(request, rules.crawl_delay)

    async def rules_for(self, request: Request) -> RobotsRules:
        """Return the rules of the request's scheme, host and port; one fetch at a time each."""
        parts = urlparse_cached(request)
        # Not `netloc`: it keeps `user:password@`, which robots.txt is never asked with (and
        # which Twisted would take for part of the host name: "unreachable").
        name = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        origin = f"{parts.scheme}://{name}" + (f":{parts.port}" if parts.port else "")
        while True:
            host = self._hosts.get(origin)
            if host is not None and not self._due(host):
                return host.rules
            if origin in self._waiting:
                waiter: Deferred[None] = Deferred()
                self._waiting[origin].append(waiter)
                await maybe_deferred_to_future(waiter)
                continue
            self._waiting[origin] = []
            try:
                await self._settle(origin, host)
            finally:
                for waiter in self._waiting.pop(origin):
                    waiter.callback(None)

    def _due(self, host: _Host) -> bool:
        """Tell whether an origin's robots.txt must be fetched (again) before it is used."""
        if host.rules.unreachable:
            return host.retryable and host.attempts <= len(self.retry_delays)
        return self.clock() - host.got_at >= self.max_age

    async def _settle(self, origin: str, host: _Host | None) -> None:
        if host is not None and host.rules.unreachable:
            delay = self.retry_delays[host.attempts - 1]
            logger.info("robots.txt of %s unreachable: asking again in %ss", origin, delay)
            if not await self._wait(delay):
                raise IgnoreRequest(f"the crawl is closing: robots.txt of {origin} not asked")
            self.stats.inc_value(crawl_stats.ROBOTS_RETRIES)
            attempts = host.attempts
        else:
            attempts = 0
            cached = self.cache.load(origin, now=self.clock()) if self.cache else None
            if cached is not None:
                self.stats.inc_value(crawl_stats.ROBOTS_CACHED)
                rules = rules_from_response(cached.status, cached.body, self.agent)
                self._hosts[origin] = _Host(rules, cached.fetched_at, 1, retryable=False)
                self._report(origin, rules, f"cached HTTP {cached.status}")
                return
        rules, why, retryable = await self._fetch(origin)
        self._hosts[origin] = host = _Host(rules, self.clock(), attempts + 1, retryable)
        if rules.unreachable and self._due(host):
            logger.info("robots.txt of %s unreachable (%s), attempt %s", origin, why, attempts + 1)
        else:
            self._report(origin, rules, why)

    async def _fetch(self, origin: str) -> tuple[RobotsRules, str, bool]:
        """Fetch an origin's robots.txt; return its rules, why, and whether to ask again."""
        request = Request(
            f"{origin}/robots.txt",
            priority=ROBOTS_PRIORITY,
            dont_filter=True,
            callback=NO_CALLBACK,
            meta={ROBOTS_REQUEST: True, "download_timeout": self.timeout, "dont_retry": True},
        )
        try:
            response: Response = await self.crawler.engine.download_async(request)
        except CrawlFault as exc:
            # A failed DNS look-up may be over by the next attempt; too many redirects not.
            return UNREACHABLE, f"{exc.reason}: {exc}", exc.reason == "dns"
        except IgnoreRequest as exc:
            # Refused by the guard: asking again changes nothing.
            return UNREACHABLE, f"{type(exc).__name__}: {exc}", False
        except Exception as exc:
            return UNREACHABLE, f"{type(exc).__name__}: {exc}", True
        self.stats.inc_value(crawl_stats.ROBOTS_FETCHED)
        rules = rules_from_response(response.status, response.body, self.agent)
        if self.cache is not None and not rules.unreachable:
            body = parse_limit(response.body) if rules.parser is not None else b""
            self.cache.store(origin, status=response.status, body=body, now=self.clock())
        return rules, f"HTTP {response.status}", rules.unreachable

    def _report(self, origin: str, rules: RobotsRules, why: str) -> None:
        """Count and log an origin whose rules refuse it for the rest of the crawl."""
        if rules.unreachable:
            self.stats.inc_value(crawl_stats.ROBOTS_UNREACHABLE)
            self.stats.inc_value(crawl_stats.INCOMPLETE)
            logger.warning(
                "robots.txt of %s unreachable (%s): host refused for this crawl", origin, why
            )
        elif rules.crawl_delay is not None and rules.crawl_delay > self.max_crawl_delay:
            self.stats.inc_value(crawl_stats.ROBOTS_CRAWL_DELAY_TOO_LONG)
            self.stats.inc_value(crawl_stats.INCOMPLETE)
            logger.warning(
                "robots.txt of %s asks a Crawl-delay of %ss (cap %ss): host skipped",
                origin,
                rules.crawl_delay,
                self.max_crawl_delay,
            )

    def _floor_delay(self, request: Request, delay: float) -> None:
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        if self._delays.get(key) != delay:
            self._delays[key] = delay
            # Slots are created (and garbage-collected) lazily: new ones start at the floor.
            downloader.per_slot_settings.setdefault(key, {})["delay"] = delay
            logger.info("honouring Crawl-delay %ss for %s", delay, key)
        slot = downloader.slots.get(key)
        if slot is not None and slot.delay < delay:
            slot.delay = delay

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        key = request.meta.get("download_slot")
        if not isinstance(key, str) or key not in self._delays:
            return
        floor = self._delays[key]
        slot = self.crawler.engine.downloader.slots.get(key)
        if slot is not None and slot.delay < floor:
            slot.delay = floor
