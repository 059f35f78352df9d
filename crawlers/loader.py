"""A Scrapy spider loader that makes one `ListingSpider` per source in `SYNTHWATCH_SOURCES`.

`scrapy crawl <source-id>` and `scrapy list` use it (settings `SPIDER_LOADER_CLASS`).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from scrapy import Request, Spider
from scrapy.utils.httpobj import urlparse_cached

from crawlers.sources import SourceConfig, in_domains, load_all_sources
from crawlers.spiders.listing import ListingSpider

if TYPE_CHECKING:
    from typing import Self

    from scrapy.settings import BaseSettings


def spider_class(source: SourceConfig) -> type[ListingSpider]:
    """Return a ListingSpider subclass that crawls this source."""
    class_name = "ListingSpider_" + source.id.replace("-", "_")
    return type(
        class_name,
        (ListingSpider,),
        {"name": source.id, "source": source, "__module__": ListingSpider.__module__},
    )


class SourceSpiderLoader:
    """Load one spider per source defined in the TOML files of `SYNTHWATCH_SOURCES`."""

    def __init__(self, sources: list[SourceConfig]) -> None:
        self._spiders: dict[str, type[ListingSpider]] = {
            source.id: spider_class(source) for source in sources
        }

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        return cls(load_all_sources(settings.getlist("SYNTHWATCH_SOURCES")))

    def load(self, spider_name: str) -> type[Spider]:
        """Return the spider of a source id; KeyError when there is none."""
        try:
            return self._spiders[spider_name]
        except KeyError:
            raise KeyError(f"Spider not found: {spider_name}") from None

    def list(self) -> list[str]:
        """Return the source ids, sorted."""
        return sorted(self._spiders)

    def find_by_request(self, request: Request) -> builtins.list[str]:
        """Return the sources whose allowed domains cover the request's host."""
        host = urlparse_cached(request).hostname or ""
        return [
            name
            for name, spider in sorted(self._spiders.items())
            if in_domains(host, spider.source.allowed_domains)
        ]
