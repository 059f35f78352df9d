from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import (
    CloseSpider,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import HtmlResponse, Response, XmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers.crawlrun import CrawlRunExtension
from crawlers.faults import CrawlFault
from crawlers.items import PageItem, UnchangedListing
from crawlers.loader import spider_class
from crawlers.sources import Discovery, Politeness, Search, SourceConfig
from crawlers.spiders.listing import ListingSpider
from nlp import PageSignals
from tests.conftest import NOW

BASE = "http://shop.example"
SOURCE = SourceConfig(
    id="shop",
    name="Shop",
    seeds=(f"{BASE}/", f"{BASE}/new/"),
    allowed_domains=("shop.example",),
    schedule="interval:1d",
    legal_note="test",
    discovery=Discovery(
        index_links=("nav.categories a",),
        listing_links=("a.card", "div.teaser"),
        pagination=("a[rel=next]",),
        listing_url_pattern=r"^/item/\d+$",
    ),
    sitemaps=(f"{BASE}/sitemap.xml",),
    fields=(("title", "h1"), ("price", ".price"), ("description", ".desc")),
)
INDEX = """<html><body>
<nav class="categories"><a href="/c/solvents">Solvents</a><a href="/c/kits">Kits</a></nav>
<a class="card" href="/item/1">One</a>
<a class="card" href="/item/1#photos">One, photos</a>
<a class="card" href="item/2">Two (relative)</a>
<div class="teaser"><p>Three</p><a href="/item/3">more</a></div>
<a class="card" href="mailto:sales@shop.example">Mail</a>
<a class="card" href="javascript:void(0)">JS</a>
<a class="card" href="https://elsewhere.example/item/9">Elsewhere</a>
<a rel="next" href="/?page=2">Next</a>
<a class="other" href="/about">About</a>
</body></html>"""


def make_spider(
    tmp_path: Path, *, approved: bool = True, source: SourceConfig = SOURCE
) -> ListingSpider:
    settings: dict[str, Any] = {
        "EXTENSIONS": {CrawlRunExtension: 10},
        "SYNTHWATCH_DATABASE_URL": "sqlite://",
        "SYNTHWATCH_HOME": str(tmp_path),
    }
    cls = spider_class(source)
    crawler = get_crawler(cls, settings)
    spider = cls.from_crawler(crawler)
    crawler.spider = spider
    run = crawler.get_extension(CrawlRunExtension)
    assert run is not None
    if approved:
        run.gate_state, run.run_id = "approved", 1
    return spider


async def collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


def urls(results: Any) -> list[str]:
    return [r.url for r in results if isinstance(r, Request)]


def test_start_yields_seeds_and_sitemaps_once_approved(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)

    requests = asyncio.run(collect(spider.start()))

    assert urls(requests) == [f"{BASE}/", f"{BASE}/new/", f"{BASE}/sitemap.xml"]
    assert requests[0].callback == spider.parse_index
    assert requests[2].callback == spider.parse_sitemap


def test_start_sends_nothing_without_an_approved_run(tmp_path: Path) -> None:
    spider = make_spider(tmp_path, approved=False)

    with pytest.raises(CloseSpider) as closed:
        asyncio.run(collect(spider.start()))

    assert closed.value.reason == "not_approved"


def test_index_pages_lead_to_listings_indexes_and_next_pages_once(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    response = HtmlResponse(f"{BASE}/", body=INDEX.encode())

    results = list(spider.parse_index(response))

    listings = [r.url for r in results if r.callback == spider.parse_listing]
    indexes = [r.url for r in results if r.callback == spider.parse_index]
    assert listings == [
        f"{BASE}/item/1",
        f"{BASE}/item/2",
        "https://elsewhere.example/item/9",  # the guard refuses it, with a stat
        f"{BASE}/item/3",
    ]
    assert indexes == [f"{BASE}/c/solvents", f"{BASE}/c/kits", f"{BASE}/?page=2"]
    assert all(r.errback == spider.on_error for r in results)
    # Seen links build no second Request, whatever page links them again.
    assert list(spider.parse_index(response)) == []


SITEMAP_INDEX = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{BASE}/sitemap-1.xml</loc></sitemap>
<sitemap><loc>{BASE}/sitemap-2.xml.gz</loc></sitemap>
</sitemapindex>""".encode()
URLSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{BASE}/item/7</loc></url>
<url><loc>{BASE}/item/7/reviews</loc></url>
<url><loc>{BASE}/about</loc></url>
<url><loc>{BASE}/item/8</loc></url>
</urlset>""".encode()


def test_a_sitemap_index_is_followed(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)

    results = list(spider.parse_sitemap(XmlResponse(f"{BASE}/sitemap.xml", body=SITEMAP_INDEX)))

    assert urls(results) == [f"{BASE}/sitemap-1.xml", f"{BASE}/sitemap-2.xml.gz"]
    assert all(r.callback == spider.parse_sitemap for r in results)


@pytest.mark.parametrize("compress", [False, True])
def test_sitemap_urls_matching_the_pattern_are_listings(tmp_path: Path, compress: bool) -> None:
    spider = make_spider(tmp_path)
    body = gzip.compress(URLSET) if compress else URLSET
    response = Response(f"{BASE}/sitemap-2.xml.gz", body=body)

    results = list(spider.parse_sitemap(response))

    assert urls(results) == [f"{BASE}/item/7", f"{BASE}/item/8"]
    assert all(r.callback == spider.parse_listing for r in results)


def test_a_page_that_is_no_sitemap_is_counted(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)

    assert list(spider.parse_sitemap(HtmlResponse(f"{BASE}/sitemap.xml", body=b"<p>hi</p>"))) == []
    assert spider.crawler.stats.get_value("synthwatch/sitemap/invalid") == 1


def test_a_listing_page_becomes_a_page_item(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    spider.clock = lambda: NOW
    request = Request(f"{BASE}/item/1", headers={"User-Agent": "SynthWatch/0.1.0"})
    body = b'<h1>Etizolam</h1><p class="price">$2</p><div class="desc">Blotters</div>'
    response = HtmlResponse(
        request.url, body=body, headers={"Content-Type": "text/html"}, request=request
    )

    (item,) = spider.parse_listing(response)

    assert isinstance(item, PageItem)
    assert (item.source_id, item.url, item.status, item.body) == ("shop", request.url, 200, body)
    assert ("Content-Type", "text/html") in item.headers
    assert ("User-Agent", "SynthWatch/0.1.0") in item.request_headers
    assert item.fetched_at == NOW
    assert item.title == "Etizolam" and item.text == "Etizolam\n$2\nBlotters"
    assert item.fields == {
        "title": "Etizolam",
        "price": "$2",
        "description": "Blotters",
        "page_signals": {"price_field": "$2"},
    }
    assert item.signals == PageSignals(price_field="$2")
    assert spider.crawler.stats.get_value("synthwatch/extraction/selectors") == 1


def test_loopback_sources_crawl_with_the_short_demo_delay(tmp_path: Path) -> None:
    local = SourceConfig(
        id="local",
        name="Local",
        seeds=("http://127.0.0.1:8421/",),
        allowed_domains=("127.0.0.1",),
        schedule="interval:1d",
        legal_note="test",
        discovery=Discovery(listing_links=("a",)),
    )

    fast = get_crawler(spider_class(local), {"DOWNLOAD_DELAY": 1.0})
    polite = get_crawler(spider_class(SOURCE), {"DOWNLOAD_DELAY": 1.0})

    assert fast.settings.getfloat("DOWNLOAD_DELAY") == 0.05
    assert polite.settings.getfloat("DOWNLOAD_DELAY") == 1.0


def test_search_urls_are_index_pages(tmp_path: Path) -> None:
    search = Search(
        url_templates=(f"{BASE}/search?q={{keyword}}",), keywords=("4-ANPP", "etizolam")
    )
    spider = make_spider(tmp_path, source=replace(SOURCE, search=search))

    requests = asyncio.run(collect(spider.start()))

    assert urls(requests)[-2:] == [f"{BASE}/search?q=4-ANPP", f"{BASE}/search?q=etizolam"]
    assert requests[-1].callback == spider.parse_index


def test_listings_stored_before_are_asked_for_conditionally(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    run = spider.crawler.get_extension(CrawlRunExtension)
    assert run is not None
    run.validators = {
        f"{BASE}/item/1": ('"abc"', "Wed, 21 Oct 2026 07:28:00 GMT"),
        f"{BASE}/item/2": (None, "Wed, 21 Oct 2026 07:28:00 GMT"),
    }
    asyncio.run(collect(spider.start()))

    results = list(spider.parse_index(HtmlResponse(f"{BASE}/", body=INDEX.encode())))

    one, two, _, three = (r for r in results if r.callback == spider.parse_listing)
    assert one.headers[b"If-None-Match"] == b'"abc"'
    assert one.headers[b"If-Modified-Since"] == b"Wed, 21 Oct 2026 07:28:00 GMT"
    assert b"If-None-Match" not in two.headers and b"If-Modified-Since" in two.headers
    assert one.meta["handle_httpstatus_list"] == [304]
    assert b"If-Modified-Since" not in three.headers and "handle_httpstatus_list" not in three.meta


def test_a_304_is_an_unchanged_listing(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    spider.clock = lambda: NOW
    request = Request(f"{BASE}/item/1")

    (item,) = spider.parse_listing(Response(request.url, status=304, request=request))

    assert item == UnchangedListing("shop", f"{BASE}/item/1", spider.clock())


@pytest.mark.parametrize(
    ("exception", "reason"),
    [
        (HttpError(Response(f"{BASE}/item/1", status=500), "HTTP 500"), "http_500"),
        (DownloadTimeoutError("took too long"), "timeout"),
        (DownloadFailedError("Connection was closed cleanly."), "connection_lost"),
        (CrawlFault("retry_after_too_long", "too long"), "retry_after_too_long"),
    ],
)
def test_a_failed_request_is_recorded_once_with_its_reason(
    tmp_path: Path, exception: Exception, reason: str
) -> None:
    spider = make_spider(tmp_path)
    request = Request(f"{BASE}/item/9", meta={"redirect_urls": [f"{BASE}/item/1"]})
    failure = Failure(exception)
    failure.request = request  # type: ignore[attr-defined]

    spider.on_error(failure)

    stats = spider.crawler.stats
    assert stats.get_value("synthwatch/errors") == 1
    assert stats.get_value(f"synthwatch/errors/{reason}") == 1
    # Recorded under the URL first asked for, before the redirect.
    assert stats.get_value("synthwatch/error_urls") == [{"url": f"{BASE}/item/1", "reason": reason}]


def test_refusals_are_not_errors(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    failure = Failure(IgnoreRequest("robots.txt disallows it"))
    failure.request = Request(f"{BASE}/private/1")  # type: ignore[attr-defined]

    spider.on_error(failure)

    assert spider.crawler.stats.get_value("synthwatch/errors") is None


def test_a_redirect_back_to_a_requested_url_is_a_loop(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    loop = Request(f"{BASE}/a", meta={"redirect_urls": [f"{BASE}/a", f"{BASE}/b"]})
    seen = Request(f"{BASE}/item/2", meta={"redirect_urls": [f"{BASE}/old/2"]})

    spider.request_dropped(loop, spider)
    spider.request_dropped(seen, spider)
    spider.request_dropped(Request(f"{BASE}/c"), spider)

    stats = spider.crawler.stats
    assert stats.get_value("synthwatch/error_urls") == [
        {"url": f"{BASE}/a", "reason": "redirect_loop"}
    ]
    assert stats.get_value("synthwatch/redirects/to_seen") == 1


def test_politeness_overrides_apply_to_the_source_only(tmp_path: Path) -> None:
    slow = replace(SOURCE, id="slow", politeness=Politeness(5.0, 1, 12.0))
    defaults = {"DOWNLOAD_DELAY": 1.0, "DOWNLOAD_TIMEOUT": 30, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}

    crawler = get_crawler(spider_class(slow), defaults)
    other = get_crawler(spider_class(SOURCE), defaults)

    assert crawler.settings.getfloat("DOWNLOAD_DELAY") == 5.0
    assert crawler.settings.getfloat("AUTOTHROTTLE_START_DELAY") == 5.0
    assert crawler.settings.getfloat("DOWNLOAD_TIMEOUT") == 12.0
    assert crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1
    assert other.settings.getfloat("DOWNLOAD_DELAY") == 1.0
    assert other.settings.getfloat("DOWNLOAD_TIMEOUT") == 30
