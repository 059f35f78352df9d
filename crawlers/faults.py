"""Why a request failed: one reason per failure, for `synthwatch/errors/<reason>`.

Scrapy's download handlers raise their own exceptions (`DownloadTimeoutError`, ...); its
redirect and decompression middlewares raise a plain `IgnoreRequest`, as the guard and robots
middlewares do for refusals they already recorded. So the two Scrapy middlewares are replaced
here by subclasses that raise `CrawlFault`, an `IgnoreRequest` that carries its reason.
`DownloadSizeMiddleware` names a body that grew past DOWNLOAD_MAXSIZE without announcing it
(chunked) `too_large`: Scrapy cancels it with an empty `DownloadCancelledError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from scrapy import Request, Spider, signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
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
from twisted.internet import error as tx

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

TIMEOUTS = (DownloadTimeoutError, tx.TimeoutError)
REFUSED = (DownloadConnectionRefusedError, tx.ConnectionRefusedError)
DNS = (CannotResolveHostError, tx.DNSLookupError)
LOST = (
    DownloadFailedError,
    ResponseDataLossError,
    tx.ConnectionLost,
    tx.ConnectionDone,
    tx.ConnectError,
)


class CrawlFault(IgnoreRequest):
    """A request given up for a reason that is an error of the crawl, not a refusal."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def failure_reason(exc: BaseException) -> str | None:
    """Return the error reason of a failed request; None for a refusal recorded elsewhere."""
    if isinstance(exc, CrawlFault):
        return exc.reason
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        return None
    if isinstance(exc, TIMEOUTS):
        return "timeout"
    if isinstance(exc, DownloadCancelledError):
        # Scrapy cancels a download whose (announced or received) size passes DOWNLOAD_MAXSIZE.
        return "too_large" if "max size" in str(exc) else "cancelled"
    if isinstance(exc, REFUSED):
        return "connection_refused"
    if isinstance(exc, DNS):
        return "dns"
    if isinstance(exc, LOST):
        return "connection_lost"
    return "other"


def first_url(request: Request) -> str:
    """Return the URL a request was first made for, before any redirect."""
    redirects = request.meta.get("redirect_urls") or [request.url]
    return str(redirects[0])


class BoundedRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects; the one past REDIRECT_MAX_TIMES fails as `too_many_redirects`."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        try:
            return super().process_response(request, response)
        except CrawlFault:
            raise
        except IgnoreRequest as exc:
            raise CrawlFault("too_many_redirects", f"{exc}: {request.url}") from exc


class BoundedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decoding, which stops at DOWNLOAD_MAXSIZE; fails as `decompression_bomb`."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        try:
            return super().process_response(request, response)
        except CrawlFault:
            raise
        except IgnoreRequest as exc:
            raise CrawlFault("decompression_bomb", str(exc)) from exc


class DownloadSizeMiddleware:
    """Fail a download Scrapy cancelled past DOWNLOAD_MAXSIZE as `too_large`, announced or not.

    Scrapy names the limit in the error only when Content-Length announced too much; a body
    that just keeps coming (chunked) is cancelled with an empty error, which would read as
    `cancelled`. So the bytes each request received are counted (`bytes_received`).
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.received: WeakKeyDictionary[Request, int] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        crawler.signals.connect(middleware.bytes_received, signal=signals.bytes_received)
        return middleware

    def bytes_received(self, data: bytes, request: Request, spider: Spider) -> None:
        self.received[request] = self.received.get(request, 0) + len(data)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        self.received.pop(request, None)
        return response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        received = self.received.pop(request, 0)
        limit = int(request.meta.get("download_maxsize", self.maxsize))
        if isinstance(exception, DownloadCancelledError) and limit and received > limit:
            raise CrawlFault(
                "too_large",
                f"received {received} bytes, more than DOWNLOAD_MAXSIZE ({limit}): {request.url}",
            ) from exception
