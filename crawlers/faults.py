"""Why a request failed: one reason per failure, for `synthwatch/errors/<reason>`.

Scrapy's download handlers raise their own exceptions (`DownloadTimeoutError`, ...); its
redirect and decompression middlewares raise a plain `IgnoreRequest`, as the guard and robots
middlewares do for refusals they already recorded. So the two Scrapy middlewares are replaced
here by subclasses that raise `CrawlFault`, an `IgnoreRequest` that carries its reason.
"""

from __future__ import annotations

from scrapy import Request, Spider
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
