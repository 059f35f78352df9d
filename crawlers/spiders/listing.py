"""The generic, config-driven spider: one subclass per source, built by `crawlers.loader`.

Seeds and site-search result pages are index pages; an index page links to more index pages
(`index_links`, `pagination`) and to listing pages (`listing_links`); sitemaps (a sitemap index
is followed) name listing pages by `listing_url_pattern`. A listing page becomes a `PageItem`.
Each URL is requested once per crawl, in its canonical form (`crawlers.canonical`): links are
deduplicated here, before any Request is built, which measured 2.6x faster than leaving it all
to the scheduler's dupefilter. A crawl is bounded (`crawlers.bounds`, `[source.limits]`): a URL
past a bound is not requested, and is counted as `capped` (the run is then incomplete).
Scrapy's own DEPTH_LIMIT and CLOSESPIDER_PAGECOUNT stay off: they drop silently or close the
crawl mid-flight, where these bounds say what they stopped.

Incremental: a listing stored before with an ETag or Last-Modified is requested with
`If-None-Match` / `If-Modified-Since`; its 304 becomes an `UnchangedListing` (no WARC record, no
analysis). A failed request is recorded once, under the URL first requested, with its reason
(`crawlers.faults`); a source's `[source.politeness]` overrides apply to its spider only.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.exceptions import CloseSpider
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from crawlers.addresses import numeric_host
from crawlers.bounds import CrawlBounds, url_pattern
from crawlers.canonical import canonical_url
from crawlers.crawlrun import GATE_REASON, CrawlRunExtension
from crawlers.faults import failure_reason, first_url
from crawlers.html_text import EXTRACTION_FIELD, PageReader
from crawlers.items import Headers, PageItem, UnchangedListing
from crawlers.page_signals import stored_signals
from crawlers.search import search_urls
from crawlers.sources import SourceConfig
from crawlers.stats import record_error, record_refusal, record_url
from storage import crawl_stats
from storage.clock import Clock, utcnow
from storage.listings import text_fingerprint

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Links that are not navigation; anything else goes to the guard, which records refusals.
NOT_NAVIGATION = ("#", "mailto:", "tel:", "javascript:", "data:")
GZIP_MAGIC = b"\x1f\x8b"


def hrefs(response: TextResponse, selectors: Iterable[str]) -> Iterator[str]:
    """Yield the href of every `<a>` matched by the selectors, or inside a matched element."""
    for selector in selectors:
        for href in response.css(selector).xpath("descendant-or-self::a/@href").getall():
            href = href.strip()
            if href and not href.lower().startswith(NOT_NAVIGATION):
                yield href


def header_pairs(headers: Any) -> Headers:
    """Return Scrapy headers as (name, value) text pairs, one per value."""
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]


def digest(*parts: str) -> bytes:
    """Return 16 bytes naming `parts`: what a crawl remembers of each URL and text it met.

    A 50,000-page crawl keeps one per URL and one per listing; as 16-byte digests (some 80
    bytes with their set entry, where the strings took 200 to 300) they stop its memory from
    climbing with every page. Over 2**32 entries a collision has odds below 1 in 2**64.
    """
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).digest()


def link_depth(response: Response) -> int:
    """Return the depth of the pages a response links to (Scrapy's DepthMiddleware's count)."""
    request = response.request
    return (request.meta.get("depth", 0) if request is not None else 0) + 1


class ListingSpider(Spider):
    """Crawl one source's listing pages; `source` is set on each per-source subclass."""

    name = "listing"
    source: ClassVar[SourceConfig]

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        source = getattr(cls, "source", None)
        if source is None:
            return
        if set(source.allowed_domains) <= LOOPBACK_HOSTS:
            # Our own demo and test servers only; see SYNTHWATCH_LOOPBACK_DOWNLOAD_DELAY.
            delay = settings.getfloat("SYNTHWATCH_LOOPBACK_DOWNLOAD_DELAY", 0.05)
            settings.set("DOWNLOAD_DELAY", delay, priority="spider")
            settings.set("AUTOTHROTTLE_START_DELAY", delay, priority="spider")
        for name, value in source.politeness.settings().items():
            settings.set(name, value, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        return spider

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if getattr(self, "source", None) is None:
            raise ValueError(f"{type(self).__name__} has no source: build it with the loader")
        self.allowed_domains = list(self.source.allowed_domains)
        self.reader = PageReader(self.source.field_selectors)
        pattern = self.source.discovery.listing_url_pattern
        self.listing_url = re.compile(pattern) if pattern else None
        self.seen: set[bytes] = set()  # digests of the canonical URLs requested
        # Digests of (host and path, text fingerprint) of the listings read: a query variant
        # with the same text is the same listing (one page under 300 query strings is one).
        self.texts: set[bytes] = set()
        self.query_params = self.source.discovery.query_params
        self.bounds = CrawlBounds(self.source.limits, query_params_given=bool(self.query_params))
        self.clock: Clock = utcnow
        # URL → (ETag, Last-Modified) of the listings stored before, for conditional GETs.
        self.validators: dict[str, tuple[str | None, str | None]] = {}

    async def start(self) -> AsyncIterator[Any]:
        # The crawl-run extension closes an unapproved crawl before this runs; this is the
        # second lock on the same door, in case the extension was left out of the settings.
        run = self.crawler.get_extension(CrawlRunExtension)
        if run is None or not run.approved:
            logger.error("source %r has no approved crawl run: no request sent", self.name)
            raise CloseSpider(GATE_REASON)
        self.validators = dict(run.validators)
        for url in self.source.seeds:
            if request := self.request(url, self.parse_index):
                yield request
        for url in self.source.sitemaps:
            if request := self.request(url, self.parse_sitemap):
                yield request
        for url in search_urls(self.source.search):
            if request := self.request(url, self.parse_index):
                yield request

    def request(self, url: str, callback: Callable[..., Any], depth: int = 0) -> Request | None:
        """Build a request for a URL not seen before in this crawl and within its bounds.

        `depth` is the new page's link hops from a start page. A listing with stored
        validators is asked for conditionally, and may answer 304.
        """
        url = canonical_url(url, self.query_params)
        key = digest(url)
        if key in self.seen:
            return None
        self.seen.add(key)
        followed = callback != self.parse_listing
        reason = self.bounds.refusal(url, depth, followed=followed)
        if reason is not None:
            self.record_capped(reason, url)
            return None
        try:
            request = Request(url, callback=callback, errback=self.on_error)
        except ValueError:
            # w3lib refuses a host that ends in a number but is no IPv4 address
            # (`shop.example.0x5d`): the guard would refuse it as an IP literal anyway.
            self.record_unrequestable(url)
            return None
        etag, modified = self.validators.get(url, (None, None))
        if callback == self.parse_listing and (etag or modified):
            if etag:
                request.headers[b"If-None-Match"] = etag.encode("latin-1")
            if modified:
                request.headers[b"If-Modified-Since"] = modified.encode("latin-1")
            request.meta["handle_httpstatus_list"] = [304]
        return request

    def parse_index(self, response: Response) -> Iterator[Request]:
        """Follow an index page's listing, index and pagination links."""
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value(crawl_stats.SKIPPED_NOT_TEXT)
            return
        discovery = self.source.discovery
        depth = link_depth(response)
        for selectors, callback in (
            (discovery.listing_links, self.parse_listing),
            (discovery.index_links, self.parse_index),
            (discovery.pagination, self.parse_index),
        ):
            for href in hrefs(response, selectors):
                if request := self.request(response.urljoin(href), callback, depth):
                    yield request

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        """Follow a sitemap index; request the listing URLs of a sitemap."""
        body = self.sitemap_body(response)
        if body is None:
            self.crawler.stats.inc_value(crawl_stats.SITEMAP_INVALID)
            logger.warning("not a sitemap: %s", response.url)
            return
        sitemap = Sitemap(body)
        depth = link_depth(response)
        for entry in sitemap:
            loc = str(entry.get("loc", "")).strip()
            if not loc:
                continue
            if sitemap.type == "sitemapindex":
                request = self.request(loc, self.parse_sitemap, depth)
            elif sitemap.type == "urlset" and self.is_listing_url(loc):
                request = self.request(loc, self.parse_listing, depth)
            else:
                continue
            if request is not None:
                yield request

    def is_listing_url(self, url: str) -> bool:
        """Tell whether a sitemap URL's path matches the source's listing pattern."""
        return self.listing_url is not None and bool(self.listing_url.search(urlsplit(url).path))

    def sitemap_body(self, response: Response) -> bytes | None:
        """Return the sitemap XML of a response (gunzipped if need be), or None."""
        body = response.body
        if body[:2] == GZIP_MAGIC:
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except (OSError, ValueError):
                return None
        head = body[:512].lstrip()
        return body if head.startswith((b"<?xml", b"<urlset", b"<sitemapindex")) else None

    def parse_listing(self, response: Response) -> Iterator[PageItem | UnchangedListing]:
        """Turn a listing page into a PageItem, or its 304 into an UnchangedListing."""
        if response.status == 304:
            url = first_url(response.request) if response.request is not None else response.url
            yield UnchangedListing(source_id=self.source.id, url=url, seen_at=self.clock())
            return
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value(crawl_stats.SKIPPED_NOT_TEXT)
            return
        page = self.reader.read(response.body, response.encoding)
        stats = self.crawler.stats
        if self.is_query_variant(response.url, page.text):
            stats.inc_value(crawl_stats.QUERY_VARIANT_DUPLICATES)
            return
        stats.inc_value(crawl_stats.extraction_key(page.method))
        for note in page.notes:
            stats.inc_value(crawl_stats.extraction_note_key(note))
        notes = {EXTRACTION_FIELD: dict(page.notes)} if page.notes else {}
        request = response.request
        yield PageItem(
            source_id=self.source.id,
            url=response.url,
            status=response.status,
            headers=header_pairs(response.headers),
            body=response.body,
            request_headers=header_pairs(request.headers) if request is not None else [],
            fetched_at=self.clock(),
            method=request.method if request is not None else "GET",
            protocol=response.protocol or "HTTP/1.1",
            title=page.title,
            text=page.text,
            fields=page.fields | stored_signals(page.signals) | notes,
            signals=page.signals,
        )

    def is_query_variant(self, url: str, text: str) -> bool:
        """Tell whether a page with a query has the text of a page of its path read before."""
        parts = urlsplit(url)
        key = digest(f"{parts.netloc}{parts.path}", text_fingerprint(text))
        if key in self.texts:
            return bool(parts.query)
        self.texts.add(key)
        return False

    def on_error(self, failure: Failure) -> None:
        """Record a failed request (refusals and blocks were recorded where they happened)."""
        reason = failure_reason(failure.value) if failure.value is not None else "other"
        if reason is None:
            return
        request = getattr(failure, "request", None)
        url = first_url(request) if request is not None else "?"
        self.record_error(reason, url)
        logger.warning("failed to fetch %s (%s): %s", url, reason, failure.getErrorMessage())

    def request_dropped(self, request: Request, spider: Spider) -> None:
        """Record a redirect the dupefilter dropped: a loop is an error, else a URL seen."""
        redirects = request.meta.get("redirect_urls")
        if not redirects:
            return
        if request.url in redirects:
            self.record_error("redirect_loop", first_url(request))
            logger.warning("redirect loop: %s", " -> ".join([*redirects, request.url]))
        else:
            self.crawler.stats.inc_value(crawl_stats.REDIRECTS_TO_SEEN)

    def record_unrequestable(self, url: str) -> None:
        """Record a link that no request can be built for, as the guard records a refusal."""
        host = (urlsplit(url).hostname or "").rstrip(".")
        reason = "ip_literal" if host and numeric_host(host) else "invalid_url"
        limit = self.crawler.settings.getint("SYNTHWATCH_REFUSED_URLS_MAX", 50)
        record_refusal(self.crawler.stats, reason, url, limit)
        logger.info("no request can be built (%s): %s", reason, url)

    def record_capped(self, reason: str, url: str) -> None:
        """Count a URL a bound kept from being requested, and each trap pattern found.

        The first URL of each bound, and each trap, leaves the run incomplete: a capped crawl
        did not see the whole site, so its misses are not counted.
        """
        stats = self.crawler.stats
        limit = self.crawler.settings.getint("SYNTHWATCH_REFUSED_URLS_MAX", 50)
        key = crawl_stats.capped_key(reason)
        if not stats.get_value(key, 0):
            stats.inc_value(crawl_stats.INCOMPLETE)
            logger.warning("crawl capped (%s): %s and any later ones not requested", reason, url)
        stats.inc_value(crawl_stats.CAPPED)
        record_url(stats, key, crawl_stats.capped_urls_key(reason), url, limit)
        if reason != "pattern":
            return
        trap = url_pattern(url)
        traps: list[str] = list(stats.get_value(crawl_stats.TRAPS, []))
        if trap not in traps and len(traps) < limit:
            stats.set_value(crawl_stats.TRAPS, [*traps, trap])
            stats.inc_value(crawl_stats.INCOMPLETE)
            logger.warning("trap: no more pages of %s followed", trap)

    def record_error(self, reason: str, url: str) -> None:
        """Count a failed URL with its reason in the crawl's stats."""
        limit = self.crawler.settings.getint("SYNTHWATCH_ERROR_URLS_MAX", 200)
        record_error(self.crawler.stats, reason, url, limit)
