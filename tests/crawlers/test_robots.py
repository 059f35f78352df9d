from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.core.downloader import Slot
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError

from crawlers.faults import CrawlFault
from crawlers.guard import ROBOTS_REQUEST
from crawlers.robots import MAX_ROBOTS_BYTES, RobotsTxtMiddleware, parse_limit, rules_from_response
from crawlers.robots_cache import RobotsCache, cache_key
from tests.conftest import NOW

ROBOTS = b"""User-agent: *
Disallow: /private/

User-agent: SynthWatch
Disallow: /b2b/internal/
Crawl-delay: 2
"""


def test_rules_of_a_robots_txt() -> None:
    rules = rules_from_response(200, ROBOTS, "SynthWatch")

    assert rules.allows("http://shop.example/b2b/products/1", "SynthWatch")
    assert not rules.allows("http://shop.example/b2b/internal/prices", "SynthWatch")
    assert rules.crawl_delay == 2.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_an_unavailable_robots_txt_allows_everything(status: int) -> None:
    rules = rules_from_response(status, b"", "SynthWatch")

    assert not rules.unreachable
    assert rules.allows("http://shop.example/anything", "SynthWatch")


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_an_unreachable_robots_txt_disallows_everything(status: int) -> None:
    rules = rules_from_response(status, ROBOTS, "SynthWatch")

    assert rules.unreachable
    assert not rules.allows("http://shop.example/", "SynthWatch")


class FakeDownloader:
    def __init__(self) -> None:
        self.slots: dict[str, Slot] = {"shop.example": Slot(concurrency=1, delay=0.5)}
        self.per_slot_settings: dict[str, dict[str, Any]] = {}

    def get_slot_key(self, request: Request) -> str:
        return request.url.split("/")[2].split(":")[0]


Answer = Response | Exception


class FakeEngine:
    """Answers robots.txt requests from a script (the last answer repeats); records them."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []
        self.downloader = FakeDownloader()

    async def download_async(self, request: Request) -> Response:
        self.requests.append(request)
        await asyncio.sleep(0.01)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Waits:
    """Records the back-offs asked for; answers whether the crawl goes on."""

    def __init__(self, *, closing: bool = False) -> None:
        self.asked: list[float] = []
        self.closing = closing

    async def __call__(self, seconds: float) -> bool:
        self.asked.append(seconds)
        return not self.closing


def make_middleware(
    *answers: Answer,
    retry_delays: tuple[float, ...] = (),
    cache: RobotsCache | None = None,
    clock: Clock | None = None,
    waits: Waits | None = None,
) -> tuple[RobotsTxtMiddleware, FakeEngine, Any]:
    crawler = get_crawler(Spider)
    engine = FakeEngine(*answers)
    crawler.engine = engine  # type: ignore[assignment]
    middleware = RobotsTxtMiddleware(
        crawler,
        agent="SynthWatch",
        max_crawl_delay=60.0,
        timeout=20.0,
        refused_urls_max=50,
        retry_delays=retry_delays,
        cache=cache,
        clock=clock or Clock(),
        wait=waits or Waits(),
    )
    return middleware, engine, crawler.stats


def test_the_middleware_is_built_from_settings(tmp_path: Path) -> None:
    crawler = get_crawler(
        Spider,
        {
            "SYNTHWATCH_HOME": str(tmp_path),
            "SYNTHWATCH_ROBOTS_RETRY_DELAYS": "1.5,4",
            "SYNTHWATCH_ROBOTS_CACHE_SECONDS": 48 * 3600,
        },
    )

    middleware = RobotsTxtMiddleware.from_crawler(crawler)

    assert middleware.retry_delays == (1.5, 4.0)
    assert middleware.cache is not None and middleware.cache.folder == tmp_path / "robots-cache"
    assert middleware.max_age == timedelta(hours=24)  # RFC 9309 §2.4 caps it


def robots_response(status: int, body: bytes = ROBOTS) -> TextResponse:
    url = "http://shop.example/robots.txt"
    return TextResponse(url, status=status, body=body, request=Request(url))


async def outcomes(middleware: RobotsTxtMiddleware, *urls: str) -> list[str]:
    async def one(url: str) -> str:
        try:
            await middleware.process_request(Request(url))
        except IgnoreRequest:
            return "refused"
        return "allowed"

    return list(await asyncio.gather(*(one(url) for url in urls)))


def test_robots_txt_is_fetched_once_per_host_and_obeyed() -> None:
    middleware, engine, stats = make_middleware(robots_response(200))
    urls = [
        "http://shop.example/b2b/products/1",
        "http://shop.example/b2b/internal/prices",
        "http://shop.example/b2b/products/2",
    ]

    assert asyncio.run(outcomes(middleware, *urls)) == ["allowed", "refused", "allowed"]

    assert [r.url for r in engine.requests] == ["http://shop.example/robots.txt"]
    assert engine.requests[0].meta[ROBOTS_REQUEST] is True
    # Scrapy's immediate retries are off: a failure is asked again only after a back-off.
    assert engine.requests[0].meta["dont_retry"] is True
    assert stats.get_value("synthwatch/robots/fetched") == 1
    assert stats.get_value("synthwatch/refused/robots") == 1
    assert stats.get_value("synthwatch/refused_urls/robots") == [urls[1]]


def test_a_url_with_credentials_asks_robots_txt_of_its_host_without_them() -> None:
    middleware, engine, _stats = make_middleware(robots_response(200))
    urls = ["http://user:secret@shop.example/b2b/products/1", "http://shop.example:80/b2b/x"]

    assert asyncio.run(outcomes(middleware, *urls)) == ["allowed", "allowed"]

    assert [r.url for r in engine.requests] == [
        "http://shop.example/robots.txt",
        "http://shop.example:80/robots.txt",
    ]


def test_the_robots_txt_request_itself_is_not_checked_against_robots() -> None:
    middleware, engine, _ = make_middleware(robots_response(200))
    request = Request("http://shop.example/robots.txt", meta={ROBOTS_REQUEST: True})

    asyncio.run(middleware.process_request(request))

    assert engine.requests == []


@pytest.mark.parametrize(
    "answer",
    [
        robots_response(500),
        robots_response(503, b""),
        ConnectionRefusedError("refused"),
        TimeoutError("timed out"),
        IgnoreRequest("refused by the guard"),
    ],
)
def test_an_unreachable_robots_txt_fails_closed(answer: Response | Exception) -> None:
    middleware, _, stats = make_middleware(answer)

    result = asyncio.run(outcomes(middleware, "http://shop.example/", "http://shop.example/a"))

    assert result == ["refused", "refused"]
    assert stats.get_value("synthwatch/robots/unreachable") == 1
    assert stats.get_value("synthwatch/refused/robots") == 2


def test_a_missing_robots_txt_allows_everything() -> None:
    middleware, _, stats = make_middleware(robots_response(404, b"not found"))

    assert asyncio.run(outcomes(middleware, "http://shop.example/private/x")) == ["allowed"]
    assert stats.get_value("synthwatch/robots/unreachable") is None


def test_crawl_delay_raises_the_host_delay() -> None:
    middleware, engine, _ = make_middleware(robots_response(200))

    asyncio.run(outcomes(middleware, "http://shop.example/b2b/products/1"))

    assert engine.downloader.slots["shop.example"].delay == 2.0
    assert engine.downloader.per_slot_settings["shop.example"] == {"delay": 2.0}
    # AutoThrottle lowering the delay after a response is undone.
    engine.downloader.slots["shop.example"].delay = 0.3
    request = Request("http://shop.example/b2b/products/1", meta={"download_slot": "shop.example"})
    middleware.response_downloaded(Response(request.url), request, Spider("x"))
    assert engine.downloader.slots["shop.example"].delay == 2.0


def test_a_crawl_delay_above_the_cap_skips_the_host() -> None:
    middleware, _, stats = make_middleware(
        robots_response(200, b"User-agent: *\nCrawl-delay: 3600\n")
    )

    assert asyncio.run(outcomes(middleware, "http://shop.example/")) == ["refused"]
    assert stats.get_value("synthwatch/robots/crawl_delay_too_long") == 1
    assert stats.get_value("synthwatch/refused/crawl_delay") == 1


GROUPS = b"""User-agent: *
Disallow: /all/

User-agent: OtherBot
Disallow: /

User-agent: SynthWatchBot
Disallow: /

user-agent: synthwatch
Disallow: /ours/
"""


def test_the_group_of_our_product_token_applies_and_only_it() -> None:
    rules = rules_from_response(200, GROUPS, "SynthWatch")

    assert not rules.allows("http://shop.example/ours/1", "SynthWatch")
    # Our group replaces "*" (RFC 9309 §2.2.1); other products' groups are not ours.
    assert rules.allows("http://shop.example/all/1", "SynthWatch")
    assert rules.allows("http://shop.example/listing/1", "SynthWatch")


def test_only_the_first_500_kib_are_parsed_and_never_half_a_line() -> None:
    filler = b"# " + b"x" * 1000 + b"\n"
    head = b"User-agent: *\nDisallow: /\n" + filler * (MAX_ROBOTS_BYTES // len(filler))
    # "Allow: /public/" straddles the limit: cut there it would read "Allow: /p" and let
    # /private/ through.
    pad = MAX_ROBOTS_BYTES - len(head) - len("Allow: /p")
    body = head + b"#" * (pad - 1) + b"\nAllow: /public/\nAllow: /b/\n"

    rules = rules_from_response(200, body, "SynthWatch")

    assert body[:MAX_ROBOTS_BYTES].endswith(b"\nAllow: /p")
    assert parse_limit(body).endswith(b"#\n") and len(parse_limit(body)) < MAX_ROBOTS_BYTES
    assert not rules.allows("http://shop.example/private/1", "SynthWatch")
    assert not rules.allows("http://shop.example/b/1", "SynthWatch")  # past the limit


def test_an_unreachable_robots_txt_is_asked_again_after_each_back_off() -> None:
    waits = Waits()
    middleware, engine, stats = make_middleware(
        robots_response(503, b""),
        TimeoutError("timed out"),
        robots_response(200),
        retry_delays=(15.0, 60.0),
        waits=waits,
    )
    urls = ["http://shop.example/b2b/1", "http://shop.example/b2b/internal/x"]

    assert asyncio.run(outcomes(middleware, *urls)) == ["allowed", "refused"]

    assert len(engine.requests) == 3 and waits.asked == [15.0, 60.0]
    assert stats.get_value("synthwatch/robots/retries") == 2
    assert stats.get_value("synthwatch/robots/unreachable") is None


def test_a_host_still_unreachable_after_the_last_back_off_is_refused() -> None:
    middleware, engine, stats = make_middleware(robots_response(500), retry_delays=(1.0, 2.0))

    result = asyncio.run(outcomes(middleware, "http://shop.example/", "http://shop.example/a"))
    later = asyncio.run(outcomes(middleware, "http://shop.example/b"))

    assert result == ["refused", "refused"] and later == ["refused"]
    assert len(engine.requests) == 3
    assert stats.get_value("synthwatch/robots/unreachable") == 1
    assert stats.get_value("synthwatch/incomplete") == 1


def test_a_robots_txt_the_guard_refuses_is_not_asked_again() -> None:
    middleware, engine, _ = make_middleware(
        IgnoreRequest("redirected out of scope"), retry_delays=(1.0, 2.0)
    )

    assert asyncio.run(outcomes(middleware, "http://shop.example/")) == ["refused"]
    assert len(engine.requests) == 1


def test_a_closing_crawl_stops_waiting_for_robots_txt() -> None:
    middleware, engine, stats = make_middleware(
        robots_response(503), retry_delays=(60.0,), waits=Waits(closing=True)
    )

    assert asyncio.run(outcomes(middleware, "http://shop.example/")) == ["refused"]
    assert len(engine.requests) == 1
    assert stats.get_value("synthwatch/refused/robots") is None  # dropped, not a refusal


def test_rules_are_cached_across_crawls_for_at_most_a_day(tmp_path: Path) -> None:
    cache = RobotsCache(tmp_path / "robots-cache")
    clock = Clock()
    first, _, _ = make_middleware(robots_response(200), cache=cache, clock=clock)
    asyncio.run(outcomes(first, "http://shop.example/b2b/1"))

    clock.now = NOW + timedelta(hours=23)
    second, second_engine, stats = make_middleware(robots_response(500), cache=cache, clock=clock)
    result = asyncio.run(outcomes(second, "http://shop.example/b2b/internal/x"))

    assert result == ["refused"] and second_engine.requests == []
    assert stats.get_value("synthwatch/robots/cached") == 1
    entry = cache.load("http://shop.example", now=clock.now)
    assert entry is not None and entry.status == 200 and entry.fetched_at == NOW

    clock.now = NOW + timedelta(hours=25)
    third, third_engine, _ = make_middleware(robots_response(404, b""), cache=cache, clock=clock)
    assert asyncio.run(outcomes(third, "http://shop.example/b2b/internal/x")) == ["allowed"]
    assert len(third_engine.requests) == 1


def test_an_unreachable_answer_is_not_cached(tmp_path: Path) -> None:
    cache = RobotsCache(tmp_path / "robots-cache")
    middleware, _, _ = make_middleware(robots_response(503), cache=cache)

    asyncio.run(outcomes(middleware, "http://shop.example/"))

    assert cache.load("http://shop.example", now=NOW) is None


def test_rules_older_than_a_day_are_fetched_again_within_a_crawl() -> None:
    clock = Clock()
    middleware, engine, _ = make_middleware(
        robots_response(200), robots_response(200, b"User-agent: *\nDisallow: /\n"), clock=clock
    )

    assert asyncio.run(outcomes(middleware, "http://shop.example/b2b/1")) == ["allowed"]
    clock.now = NOW + timedelta(hours=24)
    assert asyncio.run(outcomes(middleware, "http://shop.example/b2b/1")) == ["refused"]
    assert len(engine.requests) == 2


def test_the_cache_is_keyed_by_scheme_host_and_port(tmp_path: Path) -> None:
    assert cache_key("http://Shop.Example") == "http_shop.example_80"
    assert cache_key("https://shop.example") == "https_shop.example_443"
    assert cache_key("http://127.0.0.1:8421") == "http_127.0.0.1_8421"
    cache = RobotsCache(tmp_path)
    cache.store("http://shop.example", status=200, body=b"User-agent: *\n", now=NOW)

    assert cache.load("https://shop.example", now=NOW) is None
    assert cache.load("http://shop.example:8080", now=NOW) is None
    (tmp_path / "http_shop.example_80.json").write_text("{not json")
    assert cache.load("http://shop.example", now=NOW) is None


def test_a_robots_txt_starting_with_a_byte_order_mark_is_obeyed() -> None:
    rules = rules_from_response(200, b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n", "SynthWatch")

    assert not rules.allows("http://shop.example/listing/1", "SynthWatch")


def test_a_robots_txt_whose_host_name_did_not_resolve_is_asked_again() -> None:
    waits = Waits()
    middleware, engine, _ = make_middleware(
        CrawlFault("dns", "cannot resolve shop.example"),
        robots_response(200),
        retry_delays=(1.0, 2.0),
        waits=waits,
    )

    assert asyncio.run(outcomes(middleware, "http://shop.example/b2b/1")) == ["allowed"]
    assert len(engine.requests) == 2 and waits.asked == [1.0]


def test_a_robots_txt_redirected_too_often_is_not_asked_again() -> None:
    middleware, engine, _ = make_middleware(
        CrawlFault("too_many_redirects", "redirected 6 times"), retry_delays=(1.0, 2.0)
    )

    assert asyncio.run(outcomes(middleware, "http://shop.example/")) == ["refused"]
    assert len(engine.requests) == 1
