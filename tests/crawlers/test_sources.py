from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crawlers.errors import SourceError
from crawlers.sources import (
    Discovery,
    Politeness,
    Search,
    load_all_sources,
    load_sources,
    parse_sources,
    scope_fingerprint,
)
from tests.factories import invented_source_toml

REPO = Path(__file__).resolve().parents[2]
VALID = """\
# Two sources.
[[source]]
id = "demo-b2b"
name = "Demo B2B chemical marketplace"
seeds = ["http://127.0.0.1:8421/b2b/"]
allowed_domains = ["127.0.0.1"]
sitemaps = ["http://127.0.0.1:8421/sitemap.xml"]
schedule = "interval:1d"
legal_note = "free text"
[source.discovery]
index_links = ["nav.categories a"]
listing_links = ["a.product-card"]
pagination = ["a[rel=next]"]
listing_url_pattern = "^/b2b/products/"
[source.fields]
title = "h1"
price = ".price"
seller = ".supplier"
description = ".description"
posted = ".posted"

[[source]]
id = "shop"
name = "Shop"
seeds = ["https://www.shop.example/"]
allowed_domains = ["shop.example"]
schedule = "cron:0 6 * * *"
legal_note = "Public catalogue."
[source.discovery]
listing_links = ["a.item"]
"""


def write(tmp_path: Path, text: str, name: str = "sources.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_sources_load(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)

    b2b, shop = load_sources(path)

    assert b2b.id == "demo-b2b" and b2b.origin == f"{path}:2"
    assert b2b.seeds == ("http://127.0.0.1:8421/b2b/",)
    assert b2b.discovery == Discovery(
        index_links=("nav.categories a",),
        listing_links=("a.product-card",),
        pagination=("a[rel=next]",),
        listing_url_pattern="^/b2b/products/",
    )
    assert b2b.field_selectors["price"] == ".price"
    assert shop.sitemaps == () and shop.fields == () and shop.origin == f"{path}:22"
    config = b2b.to_config()
    assert json.loads(json.dumps(config)) == config
    assert config["fields"]["seller"] == ".supplier"


def test_the_demo_sources_load_once_templated(tmp_path: Path) -> None:
    template = REPO / "demo" / "sources.toml"
    text = template.read_text().replace("{base_url}", "http://127.0.0.1:8765")

    sources = load_sources(write(tmp_path, text))

    assert {s.id for s in sources} >= {"demo-b2b"}
    assert all(s.allowed_domains == ("127.0.0.1",) for s in sources)


BROKEN = [
    ('seeds = ["http://127.0.0.1:8421/b2b/"]', "seeds = []", 5, "key 'seeds': expected a list"),
    (
        'seeds = ["http://127.0.0.1:8421/b2b/"]',
        'seeds = ["ftp://127.0.0.1/x"]',
        5,
        "key 'seeds': expected a list of http(s) URLs",
    ),
    (
        'seeds = ["http://127.0.0.1:8421/b2b/"]',
        'seeds = ["http://elsewhere.example/"]',
        5,
        "key 'seeds': 'http://elsewhere.example/' is outside allowed_domains",
    ),
    (
        'allowed_domains = ["127.0.0.1"]',
        'allowed_domains = ["http://127.0.0.1/"]',
        6,
        "key 'allowed_domains': expected a non-empty list of host names",
    ),
    (
        'allowed_domains = ["127.0.0.1"]',
        'allowed_domains = ["127.0.0.1", "market.onion"]',
        6,
        "'market.onion': .onion/.i2p are never crawled",
    ),
    ('schedule = "interval:1d"', 'schedule = "daily"', 8, "key 'schedule': expected"),
    ('schedule = "interval:1d"', 'schedule = "cron:0 6 * *"', 8, "key 'schedule': expected"),
    ('id = "demo-b2b"', 'id = "Demo B2B"', 3, "source 'Demo B2B': key 'id': expected"),
    ('legal_note = "free text"\n', "", 2, "source 'demo-b2b': key 'legal_note': missing"),
    (
        'name = "Demo B2B chemical marketplace"',
        'name = "x"\ncolour = "red"',
        5,
        "'colour': unknown",
    ),
    (
        'pagination = ["a[rel=next]"]',
        'pagination = ["a[rel=next"]',
        13,
        "key 'discovery.pagination': invalid CSS selector",
    ),
    (
        'listing_url_pattern = "^/b2b/products/"',
        'listing_url_pattern = "^/b2b/(products/"',
        14,
        "key 'discovery.listing_url_pattern': invalid regex",
    ),
    ('posted = ".posted"', 'posted = ".posted"\ncolour = ".c"', 21, "'fields.colour': unknown"),
    ('schedule = "interval:1d"', "schedule = 1", 8, "key 'schedule': expected a non-empty"),
]


def test_the_example_error_reads_as_documented(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace('seeds = ["http://127.0.0.1:8421/b2b/"]', "seeds = 3"))

    with pytest.raises(
        SourceError, match=r":5: source 'demo-b2b': key 'seeds': expected a list of"
    ):
        load_sources(path)


def test_toml_syntax_errors_carry_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace('name = "Shop"', 'name = "Shop'))

    with pytest.raises(SourceError, match=rf"^{path}:24: invalid TOML"):
        load_sources(path)


def test_unknown_top_level_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "version = 2\n\n" + VALID)

    with pytest.raises(SourceError, match=rf"^{path}:1: unknown key 'version'"):
        load_sources(path)


def test_a_source_without_a_way_to_find_listings_is_an_error(tmp_path: Path) -> None:
    text = VALID.replace('listing_links = ["a.item"]', 'index_links = ["a.more"]')

    with pytest.raises(SourceError, match="source 'shop': key 'discovery': finds no listings"):
        load_sources(write(tmp_path, text))


def test_source_ids_are_unique_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, VALID, "a.toml")
    second = write(tmp_path, VALID.split("\n\n[[source]]")[0], "b.toml")

    with pytest.raises(SourceError) as error:
        load_all_sources([first, second])

    assert str(error.value) == (
        f"{second}:2: source 'demo-b2b': key 'id': already defined at {first}:2"
    )


def test_the_fingerprint_changes_when_the_scope_widens(tmp_path: Path) -> None:
    source = load_sources(write(tmp_path, VALID))[0]
    base = scope_fingerprint(source)

    widened = [
        replace(source, allowed_domains=(*source.allowed_domains, "cdn.example")),
        replace(source, seeds=(*source.seeds, "http://127.0.0.1:8421/all/")),
        replace(source, sitemaps=(*source.sitemaps, "http://127.0.0.1:8421/more.xml")),
        replace(source, search=Search(url_templates=("http://127.0.0.1:8421/search?q={keyword}",))),
    ]

    assert len({base, *(scope_fingerprint(s) for s in widened)}) == 5
    assert len(base) == 64


def test_the_fingerprint_ignores_what_is_not_scope(tmp_path: Path) -> None:
    source = load_sources(write(tmp_path, VALID))[0]
    same = replace(
        source,
        name="Renamed",
        legal_note="New note",
        seeds=tuple(reversed(source.seeds)),
        fields=(),
        discovery=Discovery(listing_links=("a.card",)),
        search=replace(source.search, keywords=("other",), max_keywords=3),
        politeness=Politeness(download_delay=9.0),
    )

    assert scope_fingerprint(same) == scope_fingerprint(source)


def test_a_wrong_key_is_reported_before_a_missing_one(tmp_path: Path) -> None:
    text = VALID.replace('schedule = "interval:1d"\n', "", 1).replace(
        'seeds = ["http://127.0.0.1:8421/b2b/"]', 'seeds = "http://127.0.0.1:8421/b2b/"'
    )

    with pytest.raises(SourceError, match=r":5: source 'demo-b2b': key 'seeds': expected"):
        load_sources(write(tmp_path, text))


EXTRAS = """[source.search]
url_templates = ["http://127.0.0.1:8421/search?q={keyword}", "http://127.0.0.1:8421/s/{keyword}"]
keywords = ["fentanyl", "etizolam"]
max_keywords = 10
[source.politeness]
download_delay = 2.5
concurrent_requests_per_domain = 1
timeout = 20
"""
WITH_EXTRAS = VALID.replace("[source.fields]\n", EXTRAS + "[source.fields]\n", 1)


def test_search_and_politeness_load(tmp_path: Path) -> None:
    b2b, shop = load_sources(write(tmp_path, WITH_EXTRAS))

    assert b2b.search == Search(
        url_templates=(
            "http://127.0.0.1:8421/search?q={keyword}",
            "http://127.0.0.1:8421/s/{keyword}",
        ),
        keywords=("fentanyl", "etizolam"),
        max_keywords=10,
    )
    assert b2b.search_templates == b2b.search.url_templates
    assert b2b.politeness == Politeness(2.5, 1, 20.0)
    assert b2b.politeness.settings() == {
        "DOWNLOAD_DELAY": 2.5,
        "AUTOTHROTTLE_START_DELAY": 2.5,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_TIMEOUT": 20.0,
    }
    assert shop.search == Search() and shop.politeness.settings() == {}
    config = b2b.to_config()
    assert json.loads(json.dumps(config)) == config
    assert config["search"]["keywords"] == ["fentanyl", "etizolam"]


def test_the_lexicon_may_give_the_keywords(tmp_path: Path) -> None:
    text = WITH_EXTRAS.replace('keywords = ["fentanyl", "etizolam"]', "use_lexicon = true")

    b2b = load_sources(write(tmp_path, text))[0]

    assert b2b.search.use_lexicon and b2b.search.keywords == ()


TEMPLATES = (
    'url_templates = ["http://127.0.0.1:8421/search?q={keyword}", '
    '"http://127.0.0.1:8421/s/{keyword}"]'
)
KEYWORDS = 'keywords = ["fentanyl", "etizolam"]'
CONCURRENCY = "concurrent_requests_per_domain = 1"
BROKEN_EXTRAS = [
    (
        TEMPLATES,
        'url_templates = ["http://127.0.0.1:8421/search?q=fentanyl"]',
        16,
        "key 'search.url_templates': expected a list of http(s) URLs, each with {keyword}",
    ),
    (
        TEMPLATES,
        'url_templates = ["https://elsewhere.example/?q={keyword}"]',
        16,
        "key 'search.url_templates': 'https://elsewhere.example/?q={keyword}' is outside",
    ),
    (
        KEYWORDS,
        'keywords = ["fentanyl"]\nuse_lexicon = true',
        17,
        "key 'search.keywords': give keywords, or use_lexicon = true (one of them)",
    ),
    # No keywords key: the table's own line.
    (KEYWORDS, "use_lexicon = false", 15, "key 'search.keywords': give keywords, or"),
    (KEYWORDS, 'keywords = ["", "x"]', 17, "key 'search.keywords': expected a list"),
    ("max_keywords = 10", "max_keywords = 0", 18, "key 'search.max_keywords': expected a whole"),
    ("max_keywords = 10", 'keyword = "x"', 18, "key 'search.keyword': unknown key"),
    (
        CONCURRENCY,
        "concurrent_requests_per_domain = 2",
        21,
        "key 'politeness.concurrent_requests_per_domain': expected 1: never more than one",
    ),
    (
        CONCURRENCY,
        "concurrent_requests_per_domain = 0",
        21,
        "key 'politeness.concurrent_requests_per_domain': expected 1",
    ),
    ("download_delay = 2.5", "download_delay = -1", 20, "key 'politeness.download_delay': exp"),
    ("download_delay = 2.5", 'download_delay = "2"', 20, "key 'politeness.download_delay'"),
    ("timeout = 20", "timeout = 0", 22, "key 'politeness.timeout': expected seconds above 0"),
    ("timeout = 20", "timeout = true", 22, "key 'politeness.timeout'"),
    ("timeout = 20", "concurrent_requests = 4", 22, "'politeness.concurrent_requests': unknown"),
]


def broken_cases() -> list[Any]:
    """Every broken value, applied to the source it belongs to (search/politeness: extras)."""
    return [
        pytest.param(base, *case, id=f"{case[1][:30]}")
        for base, cases in ((VALID, BROKEN), (WITH_EXTRAS, BROKEN_EXTRAS))
        for case in cases
    ]


@pytest.mark.parametrize(("base", "old", "new", "line", "message"), broken_cases())
def test_source_errors_name_the_file_line_and_key(
    tmp_path: Path, base: str, old: str, new: str, line: int, message: str
) -> None:
    assert old in base
    path = write(tmp_path, base.replace(old, new, 1))

    with pytest.raises(SourceError) as error:
        load_sources(path)

    assert str(error.value).startswith(f"{path}:{line}: source ")
    assert message in str(error.value)


def test_an_inline_search_table_is_reported_at_its_line(tmp_path: Path) -> None:
    inline = 'search = { url_templates = ["http://127.0.0.1:8421/?q=x"], keywords = ["a"] }\n'
    text = VALID.replace("[source.discovery]\n", inline + "[source.discovery]\n", 1)
    path = write(tmp_path, text)

    with pytest.raises(SourceError, match=rf"^{path}:10: source 'demo-b2b': key 'search.url_temp"):
        load_sources(path)


def test_a_sunday_written_as_7_is_a_valid_cron_weekday() -> None:
    text = invented_source_toml(schedule="cron:0 6 * * 7")
    (source,) = parse_sources(text, "sources.toml")
    assert source.schedule == "cron:0 6 * * 7"


@pytest.mark.parametrize(
    ("domain", "problem"),
    [
        ("com", "a public suffix (com)"),
        ("co.uk", "a public suffix (co.uk)"),
        ("github.io", "a public suffix (github.io)"),
        ("example", "a public suffix (example)"),
        ("2130706433", "ends in a number"),
        ("0x5db8d822", "ends in a number"),
        ("shop.example.0177", "ends in a number"),
        ("93.184.216.34", "an IP address"),
        ("10.0.0.1", "an IP address"),
        ("intranet.local", "not under a public suffix"),
        ("corp", "not under a public suffix"),
    ],
)
def test_an_allowed_domain_must_be_a_registrable_domain(
    tmp_path: Path, domain: str, problem: str
) -> None:
    text = VALID.replace('allowed_domains = ["shop.example"]', f'allowed_domains = ["{domain}"]')
    path = write(tmp_path, text)

    with pytest.raises(SourceError) as error:
        load_sources(path)

    message = str(error.value)
    assert message.startswith(f"{path}:26: source 'shop': key 'allowed_domains': '{domain}': ")
    assert problem in message


@pytest.mark.parametrize(
    "domain", ["shop.example", "b.co.uk", "someone.github.io", "localhost", "127.0.0.1"]
)
def test_registrable_domains_and_the_loopback_host_are_accepted(domain: str) -> None:
    text = VALID.replace('allowed_domains = ["shop.example"]', f'allowed_domains = ["{domain}"]')
    text = text.replace("https://www.shop.example/", f"https://{domain}/")

    sources = parse_sources(text, "sources.toml")

    assert sources[1].allowed_domains == (domain,)
