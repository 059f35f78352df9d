"""robots.txt: a downloader middleware that fetches it once per host and fails closed.

Per RFC 9309 §2.3.1: a 2xx robots.txt gives the rules (parsed by Protego, first 500 KiB); a
4xx ("unavailable") allows everything; a 5xx, a 429, a timeout, a DNS or connection failure
or a refusal by the guard ("unreachable") disallows the whole host for this crawl
(`synthwatch/robots/unreachable`). Disallowed URLs are refused with `IgnoreRequest` and
`synthwatch/refused/robots`. A Crawl-delay raises the host's download delay for the crawl; one
above `SYNTHWATCH_ROBOTS_MAX_CRAWL_DELAY` skips the host (`synthwatch/refused/crawl_delay`).

The robots.txt request goes through the same middlewares as any page, so the guard checks it
and it carries our User-Agent. Still to come (a later issue): Retry-After, a 24-hour cache
across crawls, and treating an unreachable robots.txt as "disallow" only for up to 30 days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from protego import Protego
from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawlers.guard import ROBOTS_REQUEST, record_refusal

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# RFC 9309 §2.5: crawlers must parse at least the first 500 KiB.
MAX_ROBOTS_BYTES = 500 * 1024
# Fetched before any page of its host.
ROBOTS_PRIORITY = 1000


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


def rules_from_response(status: int, body: bytes, agent: str) -> RobotsRules:
    """Decide the rules of a host from its robots.txt response."""
    if 200 <= status < 300:
        parser = Protego.parse(body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace"))
        delay = parser.crawl_delay(agent)
        return RobotsRules(parser=parser, crawl_delay=float(delay) if delay else None)
    if 400 <= status < 500 and status != 429:
        return ALLOW_ALL
    return UNREACHABLE


class RobotsTxtMiddleware:
    """Refuse what robots.txt disallows; honour Crawl-delay; fail closed."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        agent: str,
        max_crawl_delay: float,
        timeout: float,
        refused_urls_max: int,
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.agent = agent
        self.max_crawl_delay = max_crawl_delay
        self.timeout = timeout
        self.refused_urls_max = refused_urls_max
        self._rules: dict[str, RobotsRules] = {}
        self._waiting: dict[str, list[Deferred[RobotsRules]]] = {}
        self._delays: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        middleware = cls(
            crawler,
            agent=settings.get("SYNTHWATCH_ROBOTS_AGENT", "SynthWatch"),
            max_crawl_delay=settings.getfloat("SYNTHWATCH_ROBOTS_MAX_CRAWL_DELAY", 60.0),
            timeout=settings.getfloat("SYNTHWATCH_ROBOTS_TIMEOUT", 20.0),
            refused_urls_max=settings.getint("SYNTHWATCH_REFUSED_URLS_MAX", 50),
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
        """Return the rules of the request's scheme, host and port; fetch them once."""
        parts = urlparse_cached(request)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin in self._rules:
            return self._rules[origin]
        if origin in self._waiting:
            waiter: Deferred[RobotsRules] = Deferred()
            self._waiting[origin].append(waiter)
            return await maybe_deferred_to_future(waiter)
        self._waiting[origin] = []
        rules = await self._fetch(origin)
        self._rules[origin] = rules
        for waiter in self._waiting.pop(origin):
            waiter.callback(rules)
        return rules

    async def _fetch(self, origin: str) -> RobotsRules:
        url = f"{origin}/robots.txt"
        request = Request(
            url,
            priority=ROBOTS_PRIORITY,
            dont_filter=True,
            callback=NO_CALLBACK,
            meta={ROBOTS_REQUEST: True, "download_timeout": self.timeout},
        )
        try:
            response: Response = await self.crawler.engine.download_async(request)
        except Exception as exc:
            rules, why = UNREACHABLE, f"{type(exc).__name__}: {exc}"
        else:
            self.stats.inc_value("synthwatch/robots/fetched")
            rules = rules_from_response(response.status, response.body, self.agent)
            why = f"HTTP {response.status}"
        if rules.unreachable:
            self.stats.inc_value("synthwatch/robots/unreachable")
            logger.warning(
                "robots.txt of %s unreachable (%s): host refused for this crawl", origin, why
            )
        elif rules.crawl_delay is not None and rules.crawl_delay > self.max_crawl_delay:
            self.stats.inc_value("synthwatch/robots/crawl_delay_too_long")
            logger.warning(
                "robots.txt of %s asks a Crawl-delay of %ss (cap %ss): host skipped",
                origin,
                rules.crawl_delay,
                self.max_crawl_delay,
            )
        return rules

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
