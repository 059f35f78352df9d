"""Read a listing page's title, text and fields from its HTML, with lxml on the hot path.

Each field comes from the source's field selector (text of the first match), else from a
JSON-LD Product or Offer (name → title, description, offers.price/priceCurrency → price and
currency, seller). The text to analyse is those fields, one per line, when they include a
description; otherwise the page's main text, without scripts, styles, navigation and footers.
BeautifulSoup costs ~15x more per page, so it stays out of here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

SKIP_TAGS = ("script", "style", "nav", "footer", "noscript", "template", "svg", "iframe", "head")
BLOCK_TAGS = (
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol", "p", "pre",
    "section", "table", "tr", "ul",
)  # fmt: skip
CELL_TAGS = ("td", "th")
MAIN_XPATH = etree.XPath("(//main | //article | //*[@role='main'])[1]")
JSON_LD_XPATH = etree.XPath("//script[contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json')]")
LISTING_TYPES = ("Product", "Offer")


@dataclass(frozen=True, slots=True)
class PageText:
    """What a listing page says: title, text for extraction, fields, and how they were read."""

    title: str = ""
    text: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    method: str = "empty"


def squash(text: str) -> str:
    """Collapse runs of whitespace into single spaces."""
    return " ".join(text.split())


def element_text(element: Any) -> str:
    """Return an element's text content on one line."""
    return squash(" ".join(element.itertext()))


class PageReader:
    """Read listing pages of one source; its field selectors are compiled once."""

    def __init__(self, field_selectors: Mapping[str, str] | None = None) -> None:
        self._selectors = {
            name: CSSSelector(selector, translator="html")
            for name, selector in (field_selectors or {}).items()
        }

    def read(self, body: bytes, encoding: str = "utf-8") -> PageText:
        """Return the page's title, text and fields."""
        root = parse_html(body, encoding)
        if root is None:
            return PageText()
        selected = self._selected_fields(root)
        fields = {**json_ld_fields(root), **selected}
        title = fields.get("title") or page_title(root)
        if not fields.get("description"):
            # Without the listing's body text, fields are too thin to analyse: read the page.
            return PageText(title, main_text(root), fields, "main-text")
        lines = [title, *(value for name, value in fields.items() if name != "title")]
        text = "\n".join(line for line in lines if line)
        return PageText(title, text, fields, "selectors" if selected else "json-ld")

    def _selected_fields(self, root: Any) -> dict[str, str]:
        fields: dict[str, str] = {}
        for name, selector in self._selectors.items():
            matches = selector(root)
            value = element_text(matches[0]) if matches else ""
            if value:
                fields[name] = value
        return fields


def parse_html(body: bytes, encoding: str = "utf-8") -> Any | None:
    """Parse an HTML document; None when there is nothing to parse."""
    if not body.strip():
        return None
    parser = lxml.html.HTMLParser(encoding=encoding, remove_comments=True)
    try:
        return lxml.html.document_fromstring(body, parser=parser)
    except (etree.ParserError, ValueError, LookupError):
        return None


def page_title(root: Any) -> str:
    """Return the first `<h1>`, else the `<title>`."""
    for path in ("//h1", "//title"):
        found = root.xpath(path)
        if found and (text := element_text(found[0])):
            return text
    return ""


def main_text(root: Any) -> str:
    """Return the readable text of `<main>`/`<article>` (else `<body>`), one block per line.

    Mutates the tree: call it last.
    """
    found = MAIN_XPATH(root)
    body = root.find("body")
    container = found[0] if found else (body if body is not None else root)
    for element in list(container.iter(*SKIP_TAGS)):
        element.drop_tree()
    for element in container.iter(*BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
        if element.tag != "br":
            element.text = "\n" + (element.text or "")
    for element in container.iter(*CELL_TAGS):
        element.tail = " " + (element.tail or "")
    lines = (squash(line) for line in "".join(container.itertext()).split("\n"))
    return "\n".join(line for line in lines if line)


def json_ld_fields(root: Any) -> dict[str, str]:
    """Return title, description, price, currency and seller of the first JSON-LD listing."""
    for script in JSON_LD_XPATH(root):
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        nodes = list(_json_ld_nodes(data))
        for wanted in LISTING_TYPES:
            for node in nodes:
                if wanted in _types(node):
                    fields = _listing_fields(node)
                    if fields.get("title") or fields.get("description"):
                        return fields
    return {}


def _json_ld_nodes(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _json_ld_nodes(item)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _json_ld_nodes(graph)


def _types(node: Mapping[str, Any]) -> set[str]:
    raw = node.get("@type", [])
    names = raw if isinstance(raw, list) else [raw]
    # "Product", "schema:Product" and "https://schema.org/Product" are one type.
    return {str(n).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for n in names}


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name", "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return squash(str(value)) if value is not None else ""


def _listing_fields(node: Mapping[str, Any]) -> dict[str, str]:
    offer: Mapping[str, Any] = node
    product: Mapping[str, Any] = node
    if "Offer" in _types(node):
        item = node.get("itemOffered")
        product = item if isinstance(item, dict) else {}
    else:
        offers = node.get("offers")
        if isinstance(offers, list):
            offers = next((o for o in offers if isinstance(o, dict)), {})
        offer = offers if isinstance(offers, dict) else {}
    price = offer.get("price", offer.get("lowPrice"))
    candidates = {
        "title": _text(product.get("name") or node.get("name")),
        "description": _text(product.get("description") or node.get("description")),
        "price": _text(price),
        "currency": _text(offer.get("priceCurrency")),
        "seller": _text(offer.get("seller") or node.get("seller")),
    }
    return {name: value for name, value in candidates.items() if value}
