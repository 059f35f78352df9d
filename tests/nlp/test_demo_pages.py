"""analyse() agrees with demo/expected.toml on every demo listing page's visible text."""

from __future__ import annotations

import tomllib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from nlp import analyse

DEMO = Path(__file__).resolve().parents[2] / "demo"
EXPECTED = DEMO / "expected.toml"

_HIDDEN = {"head", "script", "style", "template", "noscript"}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
}  # fmt: skip


class _VisibleText(HTMLParser):
    """Collect the text a browser would show, one line per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _pages() -> list[Any]:
    expected = tomllib.loads(EXPECTED.read_text(encoding="utf-8"))
    return [
        pytest.param(entry["path"], kind == "offer", entry.get("substances", []), id=entry["path"])
        for kind in ("offer", "benign")
        for entry in expected.get(kind, [])
    ]


def test_visible_text_helper() -> None:
    html = "<html><head><title>T</title><style>p{}</style></head><body><p>a &amp; b</p>"
    html += "<script>x()</script><div>c<br>d</div></body></html>"
    assert visible_text(html) == "a & b\nc\nd"


@pytest.mark.parametrize(("path", "offer", "substances"), _pages())
def test_demo_page(path: str, offer: bool, substances: list[str]) -> None:
    html = (DEMO / "site" / path.lstrip("/")).read_text(encoding="utf-8")
    analysis = analyse(visible_text(html))
    assert analysis.offer is offer, [r.text for r in analysis.reasons]
    assert set(substances) <= set(analysis.concept_ids)
