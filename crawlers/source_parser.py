"""Turn one source table of a TOML file into a `SourceConfig`, naming the line of every error."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cssselect import GenericTranslator, SelectorError

from crawlers.domains import domain_problem
from crawlers.errors import SourceError
from crawlers.source_config import (
    DEFAULT_MAX_KEYWORDS,
    Discovery,
    Limits,
    Politeness,
    Search,
    SourceConfig,
    in_domains,
)
from storage.errors import ScheduleError
from storage.periods import parse_schedule

# Starts with a letter or digit, so that an id never reads as a command-line option.
SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){LABEL}(\.{LABEL})*$")
# Hidden-service suffixes: SynthWatch crawls the open web only.
HIDDEN_SUFFIXES = (".onion", ".i2p")

SOURCE_KEYS = frozenset(
    {
        "id",
        "name",
        "seeds",
        "allowed_domains",
        "sitemaps",
        "schedule",
        "legal_note",
        "discovery",
        "fields",
        "search",
        "politeness",
        "limits",
    }
)
DISCOVERY_KEYS = frozenset(
    {"index_links", "listing_links", "pagination", "listing_url_pattern", "query_params"}
)
SEARCH_KEYS = frozenset({"url_templates", "keywords", "use_lexicon", "max_keywords"})
POLITENESS_KEYS = frozenset({"download_delay", "concurrent_requests_per_domain", "timeout"})
LIMITS_KEYS = frozenset({"max_pages", "max_depth", "max_pattern_pages", "max_query_variants"})
# The most a source may raise a bound to: beyond it, a crawl is no longer bounded in practice.
MAX_LIMIT = 1_000_000
# A query parameter's name as sites write them: `id`, `product_id`, `p[]`, `item-no`.
QUERY_PARAM = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,64}$")
FIELD_NAMES = ("title", "price", "seller", "description", "posted")
KEYWORD = "{keyword}"
# Bounds of the politeness overrides, in seconds.
MAX_DOWNLOAD_DELAY = 3600.0
MAX_TIMEOUT = 600.0


def toml_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    line = getattr(exc, "lineno", None)  # Python >= 3.14
    if isinstance(line, int):
        return line
    found = re.search(r"\(at line (\d+)", str(exc))
    return int(found.group(1)) if found else None


class Locator:
    """Find the line of a `[[source]]` block, its subtables and keys by scanning the text."""

    _HEADER = re.compile(r"^\s*\[\[\s*source\s*\]\]")
    _TABLE = re.compile(r"^\s*\[\s*source\.([A-Za-z0-9_-]+)\s*\]")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.starts = [n for n, line in enumerate(self.lines) if self._HEADER.match(line)]

    def top_level_key(self, key: str) -> int:
        stop = self.starts[0] if self.starts else len(self.lines)
        return self._find_key(key, 0, stop) or 1

    def block_line(self, index: int) -> int:
        return self.starts[index] + 1 if index < len(self.starts) else 1

    def key_line(self, index: int, table: str | None, key: str) -> int:
        if index >= len(self.starts):
            return 1
        start = self.starts[index]
        stop = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.lines)
        table_start, table_stop = start, stop
        for n in range(start + 1, stop):
            found = self._TABLE.match(self.lines[n])
            if found and table is None:
                table_stop = n
                break
            if found and found.group(1) == table:
                table_start = n
                later = [m for m in range(n + 1, stop) if self._TABLE.match(self.lines[m])]
                table_stop = later[0] if later else stop
                break
        line = self._find_key(key, table_start, table_stop)
        if line is None and table is not None and table_start != start:
            return table_start + 1
        if line is None and table is not None:
            # An inline table (`search = { ... }`): its own key's line.
            line = self._find_key(table, start, stop)
        return line or start + 1

    def _find_key(self, key: str, start: int, stop: int) -> int | None:
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for n in range(start, stop):
            if pattern.match(self.lines[n]):
                return n + 1
        return None


class SourceParser:
    def __init__(self, block: dict[str, Any], index: int, filename: str, locator: Locator):
        self.block, self.index, self.filename, self.locator = block, index, filename, locator
        raw_id = block.get("id")
        self.label = f"source {raw_id!r}" if isinstance(raw_id, str) else f"source #{index + 1}"

    def fail(self, key: str, message: str, table: str | None = None) -> SourceError:
        line = self.locator.key_line(self.index, table, key)
        name = f"{table}.{key}" if table else key
        return SourceError(self.filename, line, f"{self.label}: key {name!r}: {message}")

    def parse(self) -> SourceConfig:
        block = self.block
        for key in sorted(set(block) - SOURCE_KEYS):
            raise self.fail(key, "unknown key")
        source_id = self.text("id")
        if not SOURCE_ID.match(source_id):
            raise self.fail("id", "expected 1-64 characters of a-z, 0-9 and '-' (not first)")
        name = self.text("name")
        domains = self.domains()
        seeds = self.urls("seeds", domains, required=True)
        sitemaps = self.urls("sitemaps", domains, required=False)
        schedule = self.schedule()
        legal_note = self.text("legal_note")
        discovery = self.discovery()
        if not discovery.listing_links and not (sitemaps and discovery.listing_url_pattern):
            raise self.fail(
                "discovery",
                "finds no listings: give listing_links, or sitemaps with listing_url_pattern",
            )
        return SourceConfig(
            id=source_id,
            name=name,
            seeds=seeds,
            allowed_domains=domains,
            schedule=schedule,
            legal_note=legal_note,
            discovery=discovery,
            sitemaps=sitemaps,
            fields=self.fields(),
            search=self.search(domains),
            politeness=self.politeness(),
            limits=self.limits(),
            origin=f"{self.filename}:{self.locator.block_line(self.index)}",
        )

    def require(self, key: str) -> Any:
        """Return a required key's value; a missing key is reported at its block's line."""
        if key not in self.block:
            line = self.locator.block_line(self.index)
            raise SourceError(self.filename, line, f"{self.label}: key {key!r}: missing")
        return self.block[key]

    def text(self, key: str) -> str:
        value = self.require(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "expected a non-empty string")
        return value.strip()

    def domains(self) -> tuple[str, ...]:
        value = self.require("allowed_domains")
        message = "expected a non-empty list of host names (no scheme, port or path)"
        if not isinstance(value, list) or not value:
            raise self.fail("allowed_domains", message)
        domains: list[str] = []
        for item in value:
            if not isinstance(item, str) or not HOSTNAME.match(item.lower().rstrip(".")):
                raise self.fail("allowed_domains", message)
            domain = item.lower().rstrip(".")
            if domain.endswith(HIDDEN_SUFFIXES) or domain in ("onion", "i2p"):
                raise self.fail("allowed_domains", f"{item!r}: .onion/.i2p are never crawled")
            problem = domain_problem(domain)
            if problem is not None:
                raise self.fail("allowed_domains", f"{item!r}: {problem}")
            domains.append(domain)
        return tuple(dict.fromkeys(domains))

    def urls(self, key: str, domains: tuple[str, ...], *, required: bool) -> tuple[str, ...]:
        value = self.require(key) if required else self.block.get(key, [])
        message = "expected a list of http(s) URLs"
        if not isinstance(value, list) or (required and not value):
            raise self.fail(key, message)
        urls: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise self.fail(key, message)
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise self.fail(key, message)
            if not in_domains(parts.hostname, domains):
                raise self.fail(key, f"{item!r} is outside allowed_domains")
            urls.append(item)
        return tuple(dict.fromkeys(urls))

    def schedule(self) -> str:
        try:
            return parse_schedule(self.text("schedule"))
        except ScheduleError as exc:
            raise self.fail("schedule", str(exc)) from exc

    def discovery(self) -> Discovery:
        table = self.block.get("discovery", {})
        if not isinstance(table, dict):
            raise self.fail("discovery", "expected a [source.discovery] table")
        for key in sorted(set(table) - DISCOVERY_KEYS):
            raise self.fail(key, "unknown key", table="discovery")
        pattern = table.get("listing_url_pattern")
        if pattern is not None:
            if not isinstance(pattern, str) or not pattern:
                raise self.fail("listing_url_pattern", "expected a regex", table="discovery")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.fail(
                    "listing_url_pattern", f"invalid regex: {exc}", table="discovery"
                ) from exc
        return Discovery(
            index_links=self.selectors(table, "index_links"),
            listing_links=self.selectors(table, "listing_links"),
            pagination=self.selectors(table, "pagination"),
            listing_url_pattern=pattern,
            query_params=self.query_params(table),
        )

    def query_params(self, table: Mapping[str, Any]) -> tuple[str, ...]:
        value = table.get("query_params", [])
        if not isinstance(value, list) or not all(
            isinstance(v, str) and QUERY_PARAM.match(v) for v in value
        ):
            raise self.fail(
                "query_params",
                "expected a list of query parameter names (letters, digits, _ . - [ ])",
                table="discovery",
            )
        return tuple(dict.fromkeys(value))

    def selectors(self, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "expected a list of CSS selectors", table="discovery")
        for selector in value:
            if not valid_css(selector):
                raise self.fail(key, f"invalid CSS selector {selector!r}", table="discovery")
        return tuple(value)

    def table(self, key: str, known: frozenset[str]) -> dict[str, Any]:
        """Return an optional `[source.<key>]` table whose keys are all known."""
        table = self.block.get(key, {})
        if not isinstance(table, dict):
            raise self.fail(key, f"expected a [source.{key}] table")
        for unknown in sorted(set(table) - known):
            raise self.fail(unknown, "unknown key", table=key)
        return table

    def search(self, domains: tuple[str, ...]) -> Search:
        table = self.table("search", SEARCH_KEYS)
        if not table:
            return Search()
        message = f"expected a list of http(s) URLs, each with {KEYWORD}"
        templates = table.get("url_templates")
        if not isinstance(templates, list) or not templates:
            raise self.fail("url_templates", message, table="search")
        for template in templates:
            if not isinstance(template, str) or KEYWORD not in template:
                raise self.fail("url_templates", message, table="search")
            parts = urlsplit(template.replace(KEYWORD, "x"))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise self.fail("url_templates", message, table="search")
            if not in_domains(parts.hostname, domains):
                raise self.fail(
                    "url_templates", f"{template!r} is outside allowed_domains", table="search"
                )
        keywords = table.get("keywords", [])
        if not isinstance(keywords, list) or not all(
            isinstance(k, str) and k.strip() for k in keywords
        ):
            raise self.fail("keywords", "expected a list of non-empty strings", table="search")
        use_lexicon = table.get("use_lexicon", False)
        if not isinstance(use_lexicon, bool):
            raise self.fail("use_lexicon", "expected true or false", table="search")
        if bool(keywords) == use_lexicon:
            raise self.fail(
                "keywords", "give keywords, or use_lexicon = true (one of them)", table="search"
            )
        max_keywords = table.get("max_keywords", DEFAULT_MAX_KEYWORDS)
        if not _integer(max_keywords) or max_keywords < 1:
            raise self.fail("max_keywords", "expected a whole number of at least 1", table="search")
        return Search(
            url_templates=tuple(dict.fromkeys(templates)),
            keywords=tuple(dict.fromkeys(k.strip() for k in keywords)),
            use_lexicon=use_lexicon,
            max_keywords=max_keywords,
        )

    def politeness(self) -> Politeness:
        table = self.table("politeness", POLITENESS_KEYS)
        delay = self.seconds(table, "download_delay", MAX_DOWNLOAD_DELAY)
        timeout = self.seconds(table, "timeout", MAX_TIMEOUT)
        concurrency = table.get("concurrent_requests_per_domain")
        # 0 would mean "no limit" to Scrapy; more than 1 is more than one request per host.
        if concurrency is not None and (not _integer(concurrency) or concurrency != 1):
            raise self.fail(
                "concurrent_requests_per_domain",
                "expected 1: never more than one request per host at a time",
                table="politeness",
            )
        return Politeness(delay, concurrency, timeout)

    def limits(self) -> Limits:
        table = self.table("limits", LIMITS_KEYS)
        defaults = Limits()
        values: dict[str, int] = {}
        for key in sorted(LIMITS_KEYS):
            value = table.get(key, getattr(defaults, key))
            if not _integer(value) or not 1 <= value <= MAX_LIMIT:
                raise self.fail(
                    key, f"expected a whole number from 1 to {MAX_LIMIT:,}", table="limits"
                )
            values[key] = value
        return Limits(**values)

    def seconds(self, table: Mapping[str, Any], key: str, most: float) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= most:
            raise self.fail(
                key, f"expected seconds above 0 and at most {most:g}", table="politeness"
            )
        return float(value)

    def fields(self) -> tuple[tuple[str, str], ...]:
        table = self.block.get("fields", {})
        if not isinstance(table, dict):
            raise self.fail("fields", "expected a [source.fields] table")
        pairs: list[tuple[str, str]] = []
        for key, selector in table.items():
            if key not in FIELD_NAMES:
                raise self.fail(
                    key, f"unknown field; known: {', '.join(FIELD_NAMES)}", table="fields"
                )
            if not isinstance(selector, str) or not valid_css(selector):
                raise self.fail(key, "expected a CSS selector", table="fields")
            pairs.append((key, selector))
        return tuple(pairs)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def valid_css(selector: str) -> bool:
    """Tell whether a CSS selector compiles."""
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError:
        return False
    return True
