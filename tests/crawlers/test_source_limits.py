"""The source keys of a crawl's bounds: `[source.limits]` and `discovery.query_params`."""

from __future__ import annotations

import pytest

from crawlers.errors import SourceError
from crawlers.source_config import Limits
from crawlers.sources import parse_sources
from tests.factories import source_toml

BASE = source_toml("shop", "https://shop.example", index_links=None)


def test_a_source_without_limits_gets_the_defaults() -> None:
    (source,) = parse_sources(BASE, "s.toml")

    assert source.limits == Limits() and source.limits.max_pages == 5000
    assert source.discovery.query_params == ()


def test_a_source_sets_its_limits_and_query_params() -> None:
    text = BASE + 'query_params = ["id", "page", "id"]\n'
    text += "[source.limits]\nmax_pages = 20\nmax_depth = 3\nmax_pattern_pages = 4\n"

    (source,) = parse_sources(text, "s.toml")

    assert source.limits == Limits(max_pages=20, max_depth=3, max_pattern_pages=4)
    assert source.discovery.query_params == ("id", "page")
    config = source.to_config()
    assert config["limits"]["max_depth"] == 3 and config["discovery"]["query_params"] == [
        "id",
        "page",
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[source.limits]\nmax_pages = 0\n", "'limits.max_pages': expected a whole number"),
        ("[source.limits]\nmax_depth = 2.5\n", "'limits.max_depth': expected a whole number"),
        ("[source.limits]\nmax_pages = 10000000\n", "from 1 to 1,000,000"),
        ("[source.limits]\nmax_pages = true\n", "'limits.max_pages'"),
        ("[source.limits]\nmax_urls = 5\n", "'limits.max_urls': unknown key"),
        ('query_params = ["id", ""]\n', "'discovery.query_params': expected a list"),
        ('query_params = "id"\n', "'discovery.query_params': expected a list"),
        ('query_params = ["a b"]\n', "'discovery.query_params'"),
    ],
)
def test_bad_limits_are_refused_at_their_line(extra: str, message: str) -> None:
    text = BASE + extra
    with pytest.raises(SourceError, match=message) as raised:
        parse_sources(text, "s.toml")

    assert raised.value.line == text.count("\n", 0, text.rindex(extra)) + extra.count("\n")
