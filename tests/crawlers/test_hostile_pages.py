"""Hostile pages are read, never lost: each way the usual reading fails is noted and bounded."""

from __future__ import annotations

import codecs

import pytest
from scrapy.utils.test import get_crawler

from crawlers.html_text import (
    EXTRACTION_FIELD,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    PageReader,
    parse_html,
)
from crawlers.items import PageItem
from crawlers.json_ld import MAX_NESTING
from crawlers.page_signals import MAX_SIGNAL_CHARS
from crawlers.pipelines import ExtractPipeline
from nlp.pipeline import MAX_TEXT_LENGTH
from tests.conftest import NOW
from tests.crawlers.fakes import FailingAnalyser

PAGE = (
    "<html><head><title>Shop</title></head><body><main><h1>Fentanyl citrate</h1>"
    "<p>Fentanyl powder, $120 a gram</p></main></body></html>"
)
OFFER = '{"@type": "Offer", "price": "120", "priceCurrency": "USD"}'


def nested(depth: int, inner: str = "<p>Fentanyl powder, $120 a gram</p>") -> str:
    return "<div>" * depth + inner + "</div>" * depth


@pytest.mark.parametrize(
    ("body", "declared"),
    [
        (codecs.BOM_UTF16_LE + PAGE.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + PAGE.encode("utf-16-be"), "utf-16-be"),
        (PAGE.encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF32_LE + PAGE.encode("utf-32-le"), "utf-32"),
    ],
)
def test_a_utf16_page_is_read(body: bytes, declared: str) -> None:
    # lxml raised LookupError on "utf-16-le", which Scrapy reports for such a page.
    page = PageReader().read(body, declared)

    assert page.text == "Fentanyl citrate\nFentanyl powder, $120 a gram"
    assert page.notes == {}


@pytest.mark.parametrize(
    ("body", "declared", "read_as"),
    [
        (codecs.BOM_UTF16_LE + PAGE.encode("utf-16-le"), "utf-8", "utf-16-le"),
        (PAGE.encode("utf-16-le"), "cp1252", "utf-16-le"),
        (PAGE.encode("utf-16-be"), "utf-8", "utf-16-be"),
        (PAGE.encode(), "x-no-such-encoding", "utf-8"),
    ],
)
def test_bytes_that_contradict_the_declared_encoding_win_and_are_noted(
    body: bytes, declared: str, read_as: str
) -> None:
    page = PageReader().read(body, declared)

    assert page.text == "Fentanyl citrate\nFentanyl powder, $120 a gram"
    assert page.notes["encoding"] == f"declared encoding {declared!r}: read as {read_as}"


def test_content_nested_past_libxml2s_default_limit_is_read_from_the_tree() -> None:
    page = PageReader().read(f"<html><body><h1>Deep</h1>{nested(300)}</body></html>".encode())

    assert page.text == "Deep\nFentanyl powder, $120 a gram"
    assert page.method == "main-text" and page.notes == {}


@pytest.mark.parametrize("depth", [3000, 50_000])
def test_content_nested_past_any_tree_is_read_flat_with_a_note(depth: int) -> None:
    script = f'<script type="application/ld+json">{OFFER}</script>'
    html = f"<html><head>{script}</head><body><h1>Deep</h1>{nested(depth)}<p>after</p></body>"

    page = PageReader().read(html.encode())

    assert page.text == "Deep\nFentanyl powder, $120 a gram\nafter"
    assert page.title == "Deep" and page.method == "flat-text"
    assert "markup_too_deep" in page.notes
    assert page.signals.jsonld_offer and page.signals.offer_price == "120"


def test_content_nested_too_deep_to_judge_keeps_its_boilerplate_with_a_note() -> None:
    # Within libxml2's 2048 levels, past Python's recursion limit.
    html = f"<html><body><aside>Menu</aside>{nested(1500)}</body></html>"

    page = PageReader().read(html.encode())

    assert page.text == "Menu\nFentanyl powder, $120 a gram"
    assert "boilerplate_kept" in page.notes


@pytest.mark.parametrize(
    "script",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"@type": "Product", "name": "x", "a": ' + "[" * 5000 + "]" * 5000 + "}",
        # Parsed by json, but str() of it, or the readers, would recurse as deep.
        '{"@type": "Product", "name": ' + "[" * 900 + '"x"' + "]" * 900 + "}",
    ],
)
def test_a_json_ld_script_nested_too_deep_is_skipped_with_a_note(script: str) -> None:
    html = f'<html><body><script type="application/ld+json">{script}</script>{PAGE}</body></html>'

    page = PageReader().read(html.encode())

    assert "Fentanyl powder, $120 a gram" in page.text
    assert page.notes == {
        "json_ld_too_deep": "1 JSON-LD script(s) nested too deep to read: skipped"
    }


def test_json_ld_as_deep_as_real_pages_is_read() -> None:
    offer = "[" * (MAX_NESTING - 2) + OFFER + "]" * (MAX_NESTING - 2)
    html = f'<html><body><script type="application/ld+json">{offer}</script></body></html>'

    assert PageReader().read(html.encode()).signals.offer_price == "120"


def test_text_past_the_limit_is_cut_and_noted() -> None:
    body = "<html><body><p>" + "Fentanyl $120 " * 400_000 + "</p></body></html>"

    page = PageReader().read(body.encode())

    assert len(page.text) == MAX_TEXT_CHARS < MAX_TEXT_LENGTH
    assert page.notes["text_truncated"] == (
        f"{len('Fentanyl $120 ' * 400_000) - 1} characters; the first {MAX_TEXT_CHARS} kept"
        " and analysed"
    )


def test_a_title_past_the_limit_is_cut_and_noted() -> None:
    page = PageReader().read(f"<html><body><h1>{'x' * 5000}</h1></body></html>".encode())

    assert len(page.title) == MAX_TITLE_CHARS and "title_truncated" in page.notes


def test_parse_html_reads_utf16() -> None:
    root = parse_html(codecs.BOM_UTF16_LE + PAGE.encode("utf-16-le"), "utf-16-le")

    assert root is not None and root.findtext(".//h1") == "Fentanyl citrate"


def item(text: str) -> PageItem:
    return PageItem(
        source_id="shop",
        url="https://shop.example/1",
        status=200,
        headers=[],
        body=b"",
        request_headers=[],
        fetched_at=NOW,
        text=text,
        fields={EXTRACTION_FIELD: {"encoding": "declared encoding 'x': read as utf-8"}},
    )


def test_an_analysis_failure_is_a_recorded_reason_not_a_lost_page() -> None:
    crawler = get_crawler()
    pipeline = ExtractPipeline(FailingAnalyser(), crawler.stats)

    result = pipeline.process_item(item(f"Fentanyl {FailingAnalyser.FAIL_WORD}"))

    assert result.analysis is not None and not result.analysis.offer
    assert result.analysis.reasons[0]["text"].startswith("not analysed: ValueError: [E088]")
    notes = result.fields[EXTRACTION_FIELD]
    assert notes["analysis_failed"].startswith("ValueError: [E088]")
    assert notes["encoding"]  # the reader's notes are kept
    stats = crawler.stats
    assert stats.get_value("synthwatch/errors/analysis") == 1
    assert stats.get_value("synthwatch/extraction_notes/analysis_failed") == 1
    assert stats.get_value("synthwatch/error_urls") == [
        {"url": "https://shop.example/1", "reason": "analysis"}
    ]
    # The listing was seen and stored: its run still saw the whole site.
    assert not stats.get_value("synthwatch/incomplete")


def test_a_price_as_long_as_the_page_is_cut_to_a_signal() -> None:
    html = f'<html><body itemprop="price"><p>{"Fentanyl $120 " * 10_000}</p></body></html>'

    signals = PageReader().read(html.encode()).signals

    assert signals.offer_price is not None and len(signals.offer_price) <= MAX_SIGNAL_CHARS
