"""Each way a request can fail has one reason (unit tests; tests/crawlers/test_faults.py crawls)."""

from __future__ import annotations

import gzip

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.internet import error as tx

from crawlers.faults import (
    BoundedHttpCompressionMiddleware,
    BoundedRedirectMiddleware,
    CrawlFault,
    failure_reason,
    first_url,
)

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (DownloadTimeoutError("Getting x took longer than 1 seconds."), "timeout"),
        (tx.TimeoutError(), "timeout"),
        (
            DownloadCancelledError(
                "Expected to receive 11534336 bytes which is larger than download max size "
                "(10485760) in request <GET http://shop.example/item/huge>."
            ),
            "too_large",
        ),
        (DownloadCancelledError(""), "cancelled"),
        (DownloadConnectionRefusedError("refused"), "connection_refused"),
        (CannotResolveHostError("no such host"), "dns"),
        (
            DownloadFailedError("[<twisted.python.failure.Failure ConnectionLost>]"),
            "connection_lost",
        ),
        (ResponseDataLossError(), "connection_lost"),
        (tx.ConnectionLost(), "connection_lost"),
        (HttpError(Response("http://shop.example/", status=410), "HTTP 410"), "http_410"),
        (CrawlFault("retry_after_too_long", "x"), "retry_after_too_long"),
        (IgnoreRequest("refused by the guard"), None),
        (ValueError("odd"), "other"),
    ],
)
def test_failure_reasons(exc: Exception, reason: str | None) -> None:
    assert failure_reason(exc) == reason


def test_a_gzip_bomb_is_aborted_as_such() -> None:
    crawler = get_crawler(Spider, {"DOWNLOAD_MAXSIZE": 10 * MIB})
    middleware = BoundedHttpCompressionMiddleware.from_crawler(crawler)
    request = Request("http://shop.example/item/bomb")
    bomb = gzip.compress(b"\0" * (11 * MIB))
    response = Response(
        request.url, body=bomb, headers={"Content-Encoding": "gzip"}, request=request
    )

    with pytest.raises(CrawlFault) as fault:
        middleware.process_response(request, response)

    assert len(bomb) < 20 * 1024 and fault.value.reason == "decompression_bomb"


def test_a_small_gzip_page_is_decoded() -> None:
    middleware = BoundedHttpCompressionMiddleware.from_crawler(get_crawler(Spider))
    request = Request("http://shop.example/item/1")
    response = Response(
        request.url, body=gzip.compress(b"<p>hi</p>"), headers={"Content-Encoding": "gzip"}
    )

    assert middleware.process_response(request, response).body == b"<p>hi</p>"


def test_the_sixth_redirect_fails_as_too_many() -> None:
    middleware = BoundedRedirectMiddleware.from_crawler(
        get_crawler(Spider, {"REDIRECT_MAX_TIMES": 5})
    )
    request = Request("http://shop.example/r/0")
    for n in range(1, 6):
        moved = Response(request.url, status=302, headers={"Location": f"/r/{n}"})
        request = middleware.process_response(request, moved)  # type: ignore[assignment]
        assert isinstance(request, Request)

    moved = Response(request.url, status=302, headers={"Location": "/r/6"})
    with pytest.raises(CrawlFault) as fault:
        middleware.process_response(request, moved)

    assert fault.value.reason == "too_many_redirects"
    assert first_url(request) == "http://shop.example/r/0"
