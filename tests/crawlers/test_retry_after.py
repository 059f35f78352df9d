from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.core.downloader import Slot
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawlers.faults import CrawlFault
from crawlers.guard import ROBOTS_REQUEST
from crawlers.retry_after import TIMES_META, RetryAfterMiddleware, retry_after_seconds
from tests.conftest import NOW

URL = "http://shop.example/item/1"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (b"120", 120.0),
        ("0", 0.0),
        ("Wed, 25 Nov 2026 12:00:30 GMT", 30.0),
        ("Wed, 25 Nov 2026 11:00:00 GMT", 0.0),  # already past
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_values(value: bytes | str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


class FakeDownloader:
    def __init__(self) -> None:
        self.slots: dict[str, Slot] = {"shop.example": Slot(concurrency=1, delay=0.5)}

    def get_slot_key(self, request: Request) -> str:
        return request.url.split("/")[2].split(":")[0]


class FakeEngine:
    def __init__(self) -> None:
        self.downloader = FakeDownloader()


class Time:
    """A monotonic clock the waits move forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return True


def make_middleware(**kwargs: Any) -> tuple[RetryAfterMiddleware, Time, Any]:
    crawler = get_crawler(Spider)
    crawler.engine = FakeEngine()  # type: ignore[assignment]
    clock = Time()
    options: dict[str, Any] = {"max_times": 3, "max_wait": 300.0, "default_wait": 60.0}
    middleware = RetryAfterMiddleware(
        crawler,
        **(options | kwargs),
        monotonic=clock,
        now=lambda: NOW,
        wait=clock.wait,
    )
    return middleware, clock, crawler


def answer(request: Request, status: int, retry_after: str | None = None) -> Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Response(request.url, status=status, headers=headers, request=request)


def downloaded(middleware: RetryAfterMiddleware, request: Request, response: Response) -> Any:
    """What the downloader does: the signal first, then the middleware chain."""
    middleware.response_downloaded(response, request, Spider("x"))
    return middleware.process_response(request, response)


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_pauses_the_host_and_retries_the_request(status: int) -> None:
    middleware, clock, crawler = make_middleware()
    request = Request(URL)

    retry = downloaded(middleware, request, answer(request, status, "2"))

    assert isinstance(retry, Request) and retry.url == URL and retry.dont_filter
    assert retry.meta[TIMES_META] == 1
    slot = crawler.engine.downloader.slots["shop.example"]
    # The slot sends nothing before the pause ends (its delay comes on top).
    assert slot.lastseen == clock.now + 2
    # Requests still to reach the slot wait here; other hosts do not.
    asyncio.run(middleware.process_request(Request("http://shop.example/item/2")))
    assert clock.waits == [2.0]
    asyncio.run(middleware.process_request(Request("http://other.example/")))
    assert clock.waits == [2.0]
    assert crawler.stats.get_value("synthwatch/retry_after/paused") == 1
    assert crawler.stats.get_value("synthwatch/retry_after/retried") == 1


def test_an_http_date_is_honoured() -> None:
    middleware, clock, _ = make_middleware()
    request = Request(URL)

    downloaded(middleware, request, answer(request, 503, "Wed, 25 Nov 2026 12:01:00 GMT"))

    assert middleware.paused_until["shop.example"] == clock.now + 60


def test_a_503_without_retry_after_is_left_to_scrapys_retries() -> None:
    middleware, _, _ = make_middleware()
    request = Request(URL)
    response = answer(request, 503)

    assert downloaded(middleware, request, response) is response
    assert middleware.paused_until == {}


def test_a_429_without_retry_after_waits_the_default() -> None:
    middleware, clock, _ = make_middleware(default_wait=60.0)
    request = Request(URL)

    assert isinstance(downloaded(middleware, request, answer(request, 429)), Request)
    assert middleware.paused_until["shop.example"] == clock.now + 60


def test_retries_are_bounded() -> None:
    middleware, _, _ = make_middleware(max_times=2)
    request = Request(URL)
    for _ in range(2):
        retried = downloaded(middleware, request, answer(request, 429, "1"))
        assert isinstance(retried, Request)
        request = retried

    last = answer(request, 429, "1")
    assert downloaded(middleware, request, last) is last  # goes on as an HTTP error
    assert request.meta["dont_retry"] is True


def test_a_wait_beyond_the_cap_is_an_error_and_the_host_stays_paused() -> None:
    middleware, clock, _ = make_middleware(max_wait=300.0)
    request = Request(URL)

    with pytest.raises(CrawlFault) as fault:
        downloaded(middleware, request, answer(request, 503, "86400"))
    with pytest.raises(CrawlFault) as later:
        asyncio.run(middleware.process_request(Request("http://shop.example/item/2")))

    assert fault.value.reason == later.value.reason == "retry_after_too_long"
    assert clock.waits == []  # never asked before the server said it may


def test_robots_txt_pauses_the_host_but_is_not_retried_here() -> None:
    middleware, _, _ = make_middleware()
    request = Request("http://shop.example/robots.txt", meta={ROBOTS_REQUEST: True})
    response = answer(request, 503, "5")

    assert downloaded(middleware, request, response) is response
    assert "shop.example" in middleware.paused_until


def test_a_closing_crawl_stops_waiting() -> None:
    middleware, _, _ = make_middleware()
    request = Request(URL)
    downloaded(middleware, request, answer(request, 429, "30"))

    async def closing(seconds: float) -> bool:
        return False

    middleware._wait = closing
    with pytest.raises(IgnoreRequest):
        asyncio.run(middleware.process_request(Request("http://shop.example/item/2")))
