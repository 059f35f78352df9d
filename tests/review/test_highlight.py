"""Marking spans in text: escaped, well nested when spans overlap, robust to bad offsets."""

from __future__ import annotations

from html.parser import HTMLParser

import lxml.html
import pytest

from review.highlight import MAX_DEPTH, Span, TextPart, clip, css_token, highlight, text_parts
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


def test_adjacent_spans_are_marked_side_by_side() -> None:
    html = highlight("a<b>c", [Span(0, 2, "x"), Span(2, 4, "y"), Span(4, 5, "z")])

    assert html == (
        '<mark class="x">a&lt;</mark><mark class="y">b&gt;</mark><mark class="z">c</mark>'
    )


def test_a_chain_of_overlaps_reopens_only_what_a_closing_span_covers() -> None:
    text = "0123456789"
    spans = [Span(0, 10, "outer"), Span(1, 5, "a"), Span(3, 7, "b"), Span(6, 9, "c")]

    html = highlight(text, spans)

    assert html == (
        '<mark class="outer">0<mark class="a">12<mark class="b">34</mark></mark>'
        '<mark class="b">5<mark class="c">6</mark></mark><mark class="c">78</mark>9</mark>'
    )
    assert text_of(html) == text


def test_spans_nested_three_deep_and_ending_together_close_together() -> None:
    spans = [Span(0, 6, "l1"), Span(2, 6, "l2"), Span(4, 6, "l3"), Span(1, 2, '&"x')]

    html = highlight("a&b<c>", spans)

    assert html == (
        '<mark class="l1">a<mark class="&amp;&#34;x">&amp;</mark><mark class="l2">b&lt;'
        '<mark class="l3">c&gt;</mark></mark></mark>'
    )


def test_no_more_than_max_depth_marks_are_open_on_a_character() -> None:
    spans = [Span(0, 20 - n, f"s{n}") for n in range(MAX_DEPTH + 3)]

    root = lxml.html.fragment_fromstring(highlight("x" * 20, spans), create_parent="div")

    assert [m.get("class") for m in root.iter("mark")] == [f"s{n}" for n in range(MAX_DEPTH)]
    assert root.text_content() == "x" * 20


def test_every_character_is_inside_the_marks_of_exactly_the_spans_covering_it() -> None:
    text = "".join(chr(97 + n % 26) for n in range(400))
    spans = [Span(n, n + 1 + (n * 7) % 13, f"s{n}") for n in range(0, 390, 3)]

    marked = covering_marks(highlight(text, spans))

    assert "".join(character for character, _ in marked) == text
    for offset, (_, classes) in enumerate(marked):
        assert classes == {s.classes for s in spans if s.start <= offset < s.end}, offset


class _Marks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.characters: list[tuple[str, set[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(dict(attrs)["class"] or "")

    def handle_endtag(self, tag: str) -> None:
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.characters += [(c, set(self.open)) for c in data]


def covering_marks(html: str) -> list[tuple[str, set[str]]]:
    """Return each character of marked HTML with the classes of the marks it is inside."""
    parser = _Marks()
    parser.feed(html)
    parser.close()
    assert parser.open == []  # every mark is closed
    return parser.characters


def test_text_parts_cover_the_text_and_end_at_a_space_when_one_is_near() -> None:
    text = ("word " * 30) + ("x" * 120)  # 150 characters of words, then one long word

    parts = text_parts(text, size=40)

    assert [(p.start, p.end) for p in parts][:3] == [(0, 40), (40, 80), (80, 120)]
    assert "".join(text[p.start : p.end] for p in parts) == text
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert {p.count for p in parts} == {len(parts)}
    assert all(p.end - p.start <= 40 for p in parts)


def test_a_short_or_empty_text_is_one_part() -> None:
    assert text_parts("") == [TextPart(1, 1, 0, 0)]
    assert text_parts("abc") == [TextPart(1, 1, 0, 3)]


def test_clip_keeps_the_spans_on_a_part_cut_to_its_edges() -> None:
    spans = [
        Span(0, 5, "before"),
        Span(8, 12, "across"),
        Span(12, 14, "inside"),
        Span(19, 25, "out"),
    ]

    clipped = clip(spans, TextPart(2, 3, 10, 20))

    assert [(s.start, s.end, s.classes) for s in clipped] == [
        (0, 2, "across"),
        (2, 4, "inside"),
        (9, 10, "out"),
    ]


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
