"""Marking spans in text: escaped, well nested when spans overlap, robust to bad offsets."""

from __future__ import annotations

import lxml.html
import pytest

from review.highlight import Span, css_token, highlight
from review.links import safe_href


def marks(html: str) -> list[tuple[str, str]]:
    """Return (class, text) of every mark, outermost first, in document order."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    return [(m.get("class"), m.text_content()) for m in root.iter("mark")]


def text_of(html: str) -> str:
    return lxml.html.fragment_fromstring(html, create_parent="div").text_content()


def test_a_span_is_wrapped_in_a_mark() -> None:
    html = highlight("buy fentanyl now", [Span(4, 12, "mention", (("data-concept", "f"),))])

    assert html == 'buy <mark class="mention" data-concept="f">fentanyl</mark> now'


def test_every_text_segment_is_escaped() -> None:
    text = "<b>x</b> & <script>alert(1)</script>"

    html = highlight(text, [Span(0, 8, "a")])

    assert "<script>" not in html and "<b>" not in html
    assert text_of(html) == text
    assert marks(html) == [("a", "<b>x</b>")]


def test_attribute_values_are_escaped() -> None:
    html = highlight("abc", [Span(0, 3, "a", (("title", '"><script>x</script>'),))])

    root = lxml.html.fragment_fromstring(html, create_parent="div")
    assert root.xpath("//script") == []
    assert root.xpath("string(//mark/@title)") == '"><script>x</script>'


def test_attribute_names_are_restricted() -> None:
    with pytest.raises(ValueError, match="onclick"):
        Span(0, 1, "a", (("onclick", "alert(1)"),))


def test_nested_spans_nest() -> None:
    html = highlight("4-fluoro fentanyl base", [Span(9, 17, "inner"), Span(0, 17, "outer")])

    assert html == '<mark class="outer">4-fluoro <mark class="inner">fentanyl</mark></mark> base'


def test_partly_overlapping_spans_are_split_and_stay_well_nested() -> None:
    text = "Protonitazene HCl"

    html = highlight(text, [Span(0, 13, "mention"), Span(5, 17, "indicator")])

    assert html == (
        '<mark class="mention">Proto<mark class="indicator">nitazene</mark></mark>'
        '<mark class="indicator"> HCl</mark>'
    )
    assert text_of(html) == text


def test_same_stretch_puts_the_lower_rank_outside() -> None:
    html = highlight("xyz", [Span(0, 3, "indicator", rank=1), Span(0, 3, "mention", rank=0)])

    assert marks(html) == [("mention", "xyz"), ("indicator", "xyz")]


def test_spans_outside_the_text_or_empty_are_ignored() -> None:
    html = highlight(
        "short", [Span(2, 99, "a"), Span(-1, 2, "b"), Span(3, 3, "c"), Span(4, 2, "d")]
    )

    assert html == "short"


def test_duplicate_spans_are_marked_once() -> None:
    assert marks(highlight("abc", [Span(0, 1, "a"), Span(0, 1, "a")])) == [("a", "a")]


def test_an_empty_text_gives_empty_html() -> None:
    assert highlight("", []) == ""


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("opioid", "opioid"),
        ("Synthetic cannabinoid", "synthetic-cannabinoid"),
        ("designer_benzodiazepine", "designer-benzodiazepine"),
        ('"><script>', "script"),
        ("", "other"),
    ],
)
def test_css_token(value: str, token: str) -> None:
    assert css_token(value) == token


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("http://shop.example/item/1", "http://shop.example/item/1"),
        ("HTTPS://shop.example/?q=a&b=c", "HTTPS://shop.example/?q=a&b=c"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("//shop.example/item", None),
        ("/relative", None),
        ("http:///no-host", None),
        ("http://shop.example/a b", None),
        ("http:\\\\evil.example", None),
        ("", None),
        (None, None),
    ],
)
def test_only_absolute_http_urls_become_links(url: str | None, href: str | None) -> None:
    assert safe_href(url) == href
