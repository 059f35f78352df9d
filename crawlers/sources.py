"""Source definitions: `[[source]]` blocks in TOML files, validated into `SourceConfig`.

A source says where a site starts (seeds, sitemaps, site-search URLs), which hosts may be
fetched (allowed_domains and their subdomains), how listing pages are found (discovery
selectors), how politely to crawl it and, optionally, where a listing's fields are. Its *scope*
is bound to legal approval by `scope_fingerprint`: widening the scope makes a new fingerprint
that needs a new approval. docs/sources.md documents every key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from crawlers.errors import SourceError
from crawlers.source_config import (
    Discovery,
    Politeness,
    Search,
    SourceConfig,
    in_domains,
    scope_fingerprint,
)
from crawlers.source_parser import (
    HIDDEN_SUFFIXES,
    KEYWORD,
    SOURCE_ID,
    Locator,
    SourceParser,
    toml_error_line,
)

__all__ = [
    "HIDDEN_SUFFIXES",
    "KEYWORD",
    "SOURCE_ID",
    "Discovery",
    "Politeness",
    "Search",
    "SourceConfig",
    "in_domains",
    "load_all_sources",
    "load_sources",
    "parse_sources",
    "scope_fingerprint",
]


def load_sources(path: Path | str) -> list[SourceConfig]:
    """Load and validate the `[[source]]` blocks of one TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(str(path), None, f"cannot read source file: {exc}") from exc
    return parse_sources(text, str(path))


def load_all_sources(paths: Iterable[Path | str]) -> list[SourceConfig]:
    """Load several source files; a source id must be unique across all of them."""
    sources: list[SourceConfig] = []
    seen: dict[str, str] = {}
    for path in paths:
        for source in load_sources(path):
            if source.id in seen:
                file, _, line = source.origin.rpartition(":")
                raise SourceError(
                    file,
                    int(line),
                    f"source {source.id!r}: key 'id': already defined at {seen[source.id]}",
                )
            seen[source.id] = source.origin
            sources.append(source)
    return sources


def parse_sources(text: str, filename: str) -> list[SourceConfig]:
    """Validate the sources of a TOML text; errors name `filename`, the line and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(filename, toml_error_line(exc), f"invalid TOML: {exc}") from exc
    locator = Locator(text)
    unknown = sorted(set(data) - {"source"})
    if unknown:
        line = locator.top_level_key(unknown[0])
        raise SourceError(filename, line, f"unknown key {unknown[0]!r}: expected [[source]] blocks")
    blocks = data.get("source", [])
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise SourceError(filename, 1, "key 'source': expected [[source]] blocks")
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        source = SourceParser(block, index, filename, locator).parse()
        if source.id in seen:
            raise SourceError(
                filename,
                locator.key_line(index, None, "id"),
                f"source {source.id!r}: key 'id': duplicate source id",
            )
        seen.add(source.id)
        sources.append(source)
    return sources


def files_signature(files: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """Return the files' modification times and sizes (-1 for a missing file)."""
    marks = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            marks.append((str(path), -1, -1))
        else:
            marks.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(marks)
