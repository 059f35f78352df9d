"""The spider requests canonical URLs, within its source's bounds, and records what it stopped."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from scrapy import Request
from scrapy.http import HtmlResponse

from crawlers.items import PageItem
from crawlers.source_config import Limits
from crawlers.sources import Discovery
from tests.crawlers.test_spider import BASE, SOURCE, make_spider


def index(*hrefs: str, css: str = "card") -> HtmlResponse:
    links = "".join(f'<a class="{css}" href="{href}">x</a>' for href in hrefs)
    request = Request(f"{BASE}/", meta={"depth": 0})
    return HtmlResponse(
        f"{BASE}/", body=f"<html><body>{links}</body></html>".encode(), request=request
    )


def test_tracking_variants_and_fragments_of_a_listing_are_one_request(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    response = index(
        "/item/1?utm_source=mail&utm_medium=x",
        "/item/1?fbclid=abc#reviews",
        "/item/1?gclid=1",
        "/item/1",
        "/item/2?b=2&a=1",
        "/item/2?a=1&b=2&utm_campaign=z",
    )

    requests = list(spider.parse_index(response))

    assert [r.url for r in requests] == [f"{BASE}/item/1", f"{BASE}/item/2?a=1&b=2"]


def test_a_trap_pattern_is_stopped_and_recorded(tmp_path: Path) -> None:
    pager = Discovery(pagination=("a.next",))
    source = replace(SOURCE, limits=Limits(max_pattern_pages=3), discovery=pager)
    spider = make_spider(tmp_path, source=source)
    response = index(*(f"/calendar/2026/{m:02}" for m in range(1, 7)), css="next")

    requests = list(spider.parse_index(response))

    assert len(requests) == 3
    stats = spider.crawler.stats
    assert stats.get_value("synthwatch/capped") == 3
    assert stats.get_value("synthwatch/capped/pattern") == 3
    assert stats.get_value("synthwatch/traps") == ["shop.example/calendar/N/N"]
    assert stats.get_value("synthwatch/capped_urls/pattern") == [
        f"{BASE}/calendar/2026/{m:02}" for m in (4, 5, 6)
    ]
    # Capped, so the run saw part of the site: once for the bound, once for the trap.
    assert stats.get_value("synthwatch/incomplete") == 2


def test_links_past_the_depth_bound_are_not_followed(tmp_path: Path) -> None:
    spider = make_spider(tmp_path, source=replace(SOURCE, limits=Limits(max_depth=2)))
    request = Request(f"{BASE}/c/deep", meta={"depth": 2})
    response = HtmlResponse(
        request.url, body=b'<a class="card" href="/item/7">x</a>', request=request
    )

    assert list(spider.parse_index(response)) == []
    assert spider.crawler.stats.get_value("synthwatch/capped/depth") == 1


def test_a_listing_keeps_its_reader_notes_in_its_fields(tmp_path: Path) -> None:
    spider = make_spider(tmp_path)
    # UTF-16 without a byte order mark, declared UTF-8: the bytes win, and that is noted.
    body = "<html><body><h1>Fentanyl</h1><p>$120 a gram</p></body></html>".encode("utf-16-le")
    response = HtmlResponse(
        f"{BASE}/item/1", body=body, headers={"Content-Type": "text/html; charset=utf-8"}
    )

    (item,) = list(spider.parse_listing(response))

    assert isinstance(item, PageItem) and item.title == "Fentanyl"
    assert item.fields["extraction"] == {"encoding": "declared encoding 'utf-8': read as utf-16-le"}
    assert spider.crawler.stats.get_value("synthwatch/extraction_notes/encoding") == 1


def test_a_link_no_request_can_be_built_for_is_recorded_and_the_rest_followed(
    tmp_path: Path,
) -> None:
    spider = make_spider(tmp_path)
    response = index("http://shop.example.0x5d/item/9", "/item/1")

    requests = list(spider.parse_index(response))

    assert [r.url for r in requests] == [f"{BASE}/item/1"]
    stats = spider.crawler.stats
    assert stats.get_value("synthwatch/refused/ip_literal") == 1
    assert stats.get_value("synthwatch/refused_urls/ip_literal") == [
        "http://shop.example.0x5d/item/9"
    ]
