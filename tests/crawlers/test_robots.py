from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.core.downloader import Slot
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError

from crawlers.guard import ROBOTS_REQUEST
from crawlers.robots import RobotsTxtMiddleware, rules_from_response

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


class FakeEngine:
    """Answers robots.txt requests from a script; records them."""

    def __init__(self, answer: Response | Exception) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.downloader = FakeDownloader()

    async def download_async(self, request: Request) -> Response:
        self.requests.append(request)
        await asyncio.sleep(0.01)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def make_middleware(answer: Response | Exception) -> tuple[RobotsTxtMiddleware, FakeEngine, Any]:
    crawler = get_crawler(Spider)
    engine = FakeEngine(answer)
    crawler.engine = engine  # type: ignore[assignment]
    return RobotsTxtMiddleware.from_crawler(crawler), engine, crawler.stats


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
    assert stats.get_value("synthwatch/robots/fetched") == 1
    assert stats.get_value("synthwatch/refused/robots") == 1
    assert stats.get_value("synthwatch/refused_urls/robots") == [urls[1]]


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
