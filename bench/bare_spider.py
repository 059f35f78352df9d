"""The baseline: bare Scrapy following a source's selectors, with none of SynthWatch's components.

Run as a child process by ``bench.throughput`` (`bench.crawl_runs`):
``python -m bench.bare_spider SOURCES_FILE SOURCE_ID`` prints one JSON object with the pages
fetched, Scrapy's elapsed seconds and the CPU seconds this process had spent when the spider
opened (its start-up, which the caller subtracts from the child's whole CPU).
"""

from __future__ import annotations

import json
import re
import resource
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urldefrag, urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.utils.sitemap import Sitemap

from crawlers.sources import SourceConfig, load_sources

# The same politeness the pipeline run gets (bench.crawl_runs.FAST), and nothing else of ours.
BARE_SETTINGS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": True,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "USER_AGENT": "SynthWatch-bench (+loopback only)",
}


class BareSpider(Spider):
    name = "bare"

    def __init__(self, source: SourceConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.allowed_domains = list(source.allowed_domains)
        self.pattern = re.compile(source.discovery.listing_url_pattern or "$^")
        self.seen: set[str] = set()

    async def start(self) -> AsyncIterator[Request]:
        for url in self.source.sitemaps:
            yield Request(url, callback=self.parse_sitemap)
        for url in self.source.seeds:
            yield Request(url, callback=self.parse_index)

    def follow(
        self, response: Response, selectors: tuple[str, ...], callback: Any
    ) -> Iterator[Request]:
        for selector in selectors:
            for href in response.css(selector).xpath("descendant-or-self::a/@href").getall():
                url = urldefrag(response.urljoin(href.strip())).url
                # Loopback only: links off the demo server are never requested, not even resolved.
                if urlsplit(url).hostname not in self.allowed_domains:
                    continue
                if url not in self.seen:
                    self.seen.add(url)
                    yield Request(url, callback=callback)

    def parse_index(self, response: Response) -> Iterator[Request]:
        discovery = self.source.discovery
        yield from self.follow(response, discovery.listing_links, self.parse_listing)
        yield from self.follow(
            response, discovery.index_links + discovery.pagination, self.parse_index
        )

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        for entry in Sitemap(response.body):
            url = entry["loc"]
            if self.pattern.search(urlsplit(url).path) and url not in self.seen:
                self.seen.add(url)
                yield Request(url, callback=self.parse_listing)

    def parse_listing(self, response: Response) -> None:
        self.crawler.stats.inc_value("bench/listings")


def main(argv: list[str]) -> int:
    path, source_id = argv
    (source,) = [s for s in load_sources(path) if s.id == source_id]
    process = CrawlerProcess({**BARE_SETTINGS, "LOG_INSTALL_ROOT_HANDLER": False})
    crawler = process.create_crawler(BareSpider)
    opened: list[float] = []

    def spider_opened() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        opened.append(usage.ru_utime + usage.ru_stime)

    crawler.signals.connect(spider_opened, signal=signals.spider_opened)
    process.crawl(crawler, source=source)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(
        json.dumps(
            {
                "pages": stats.get("downloader/response_count", 0),
                "listings": stats.get("bench/listings", 0),
                "elapsed": stats.get("elapsed_time_seconds", 0.0),
                "cpu_at_open": opened[0] if opened else 0.0,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
