"""A validated source and its scope fingerprint, the thing legal approval is bound to."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_KEYWORDS = 50
# Bounds of one crawl (`[source.limits]`, docs/sources.md). At the loosest politeness (one
# request a second) 5,000 pages is about the crawl's one-hour timeout; a site larger than that,
# or paginated deeper, raises them.
DEFAULT_MAX_PAGES = 5000
# Link hops from a seed, a sitemap or a search page; pagination counts, one hop a page.
DEFAULT_MAX_DEPTH = 100
# Index pages of one URL pattern (digits as a wildcard): a calendar or a pager past this many
# pages is a trap, or a site that says so in its source.
DEFAULT_MAX_PATTERN_PAGES = 200
# Listing URLs of one path differing only in their query, for a source without `query_params`.
# High, because a shop addressing products as `product.php?id=N` is common; a page linked under
# many query strings is caught by its text instead (a variant with the text of one already
# read is the same listing: `synthwatch/duplicates/query_variant`).
DEFAULT_MAX_QUERY_VARIANTS = 1000


@dataclass(frozen=True, slots=True)
class Discovery:
    """How listing pages are found: CSS selectors of `<a>` elements and a sitemap URL pattern."""

    index_links: tuple[str, ...] = ()
    listing_links: tuple[str, ...] = ()
    pagination: tuple[str, ...] = ()
    listing_url_pattern: str | None = None
    # Query parameters that name a page; the others are dropped (`crawlers.canonical`).
    query_params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Search:
    """Site-search URLs: each template with `{keyword}` filled from keywords or the lexicon."""

    url_templates: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    use_lexicon: bool = False
    max_keywords: int = DEFAULT_MAX_KEYWORDS


@dataclass(frozen=True, slots=True)
class Politeness:
    """Per-source overrides of the crawl settings; None keeps the default."""

    download_delay: float | None = None
    concurrent_requests_per_domain: int | None = None
    timeout: float | None = None

    def settings(self) -> dict[str, float | int]:
        """Return the Scrapy settings these overrides set."""
        settings: dict[str, float | int] = {}
        if self.download_delay is not None:
            settings["DOWNLOAD_DELAY"] = self.download_delay
            settings["AUTOTHROTTLE_START_DELAY"] = self.download_delay
        if self.concurrent_requests_per_domain is not None:
            settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = self.concurrent_requests_per_domain
        if self.timeout is not None:
            settings["DOWNLOAD_TIMEOUT"] = self.timeout
        return settings


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of one crawl of a source (`crawlers.bounds` enforces them)."""

    max_pages: int = DEFAULT_MAX_PAGES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_pattern_pages: int = DEFAULT_MAX_PATTERN_PAGES
    max_query_variants: int = DEFAULT_MAX_QUERY_VARIANTS


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One validated source; `origin` says where it was defined (`file:line`)."""

    id: str
    name: str
    seeds: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    schedule: str
    legal_note: str
    discovery: Discovery
    sitemaps: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    search: Search = Search()
    politeness: Politeness = Politeness()
    limits: Limits = Limits()
    origin: str = field(default="", compare=False)

    @property
    def search_templates(self) -> tuple[str, ...]:
        """Return the site-search URL templates (part of the scope)."""
        return self.search.url_templates

    @property
    def field_selectors(self) -> dict[str, str]:
        """Return the field selectors as a name → CSS selector mapping."""
        return dict(self.fields)

    def to_config(self) -> dict[str, Any]:
        """Return the source as a JSON-able dict, as storage keeps it in `sources.config`."""
        return {
            "id": self.id,
            "name": self.name,
            "seeds": list(self.seeds),
            "allowed_domains": list(self.allowed_domains),
            "sitemaps": list(self.sitemaps),
            "schedule": self.schedule,
            "legal_note": self.legal_note,
            "discovery": {
                "index_links": list(self.discovery.index_links),
                "listing_links": list(self.discovery.listing_links),
                "pagination": list(self.discovery.pagination),
                "listing_url_pattern": self.discovery.listing_url_pattern,
                "query_params": list(self.discovery.query_params),
            },
            "fields": dict(self.fields),
            "search_templates": list(self.search_templates),
            "search": {
                "keywords": list(self.search.keywords),
                "use_lexicon": self.search.use_lexicon,
                "max_keywords": self.search.max_keywords,
            },
            "politeness": {
                "download_delay": self.politeness.download_delay,
                "concurrent_requests_per_domain": self.politeness.concurrent_requests_per_domain,
                "timeout": self.politeness.timeout,
            },
            "limits": {
                "max_pages": self.limits.max_pages,
                "max_depth": self.limits.max_depth,
                "max_pattern_pages": self.limits.max_pattern_pages,
                "max_query_variants": self.limits.max_query_variants,
            },
        }


def scope_fingerprint(source: SourceConfig) -> str:
    """Return the SHA-256 of the source's scope: domains, seeds, sitemaps, search templates.

    Order and duplicates don't change the scope, so the lists are sorted sets; the keys are
    fixed now (search templates included while still empty) so that fingerprints stay stable.
    """
    scope = {
        "allowed_domains": sorted(set(source.allowed_domains)),
        "search_templates": sorted(set(source.search_templates)),
        "seeds": sorted(set(source.seeds)),
        "sitemaps": sorted(set(source.sitemaps)),
    }
    canonical = json.dumps(scope, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def in_domains(host: str, domains: Iterable[str]) -> bool:
    """Tell whether a host is one of the domains or a subdomain of one."""
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in domains)
