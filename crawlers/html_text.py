"""Read a listing page's title, text, fields and sale signals from its HTML, with lxml.

Each field comes from the source's field selector (text of the first match), else from a
JSON-LD Product or Offer (name → title, description, offers.price/priceCurrency → price and
currency, seller). The text to analyse is those fields, one per line, when they include a
description; otherwise the page's main text: `<main>`/`<article>` (else `<body>`) without
scripts, styles, navigation, footers and boilerplate blocks (`crawlers.boilerplate`). The
page's structure is read as `nlp.PageSignals` (`crawlers.page_signals`).
BeautifulSoup costs ~15x more per page, so it stays out of here.

Hostile pages are read, never dropped, and what was done differently is noted (`notes`, kept
in the version's `extraction` field): the bytes are decoded by Python (a byte order mark, or
UTF-16 bytes, win over the declared encoding; an unknown one reads as UTF-8), because libxml2
knows fewer encodings (`utf-16-le` is a LookupError to lxml); markup nested past libxml2's
depth limit is read flat (`crawlers.flat_text`); and the title, fields and text are cut at
`MAX_TITLE_CHARS`, `MAX_FIELD_CHARS` and `MAX_TEXT_CHARS`.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from crawlers.boilerplate import strip_boilerplate
from crawlers.flat_text import read_flat
from crawlers.json_ld import JsonLdListing, json_ld_fields, listing_of_scripts, read_json_ld
from crawlers.page_signals import page_signals, stated_availability
from nlp import PageSignals

__all__ = ["PageReader", "PageText", "json_ld_fields", "main_text", "page_title", "parse_html"]

SKIP_TAGS = ("script", "style", "nav", "footer", "noscript", "template", "svg", "iframe", "head")
BLOCK_TAGS = (
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol", "p", "pre",
    "section", "table", "tr", "ul",
)  # fmt: skip
CELL_TAGS = ("td", "th")
MAIN_XPATH = etree.XPath("(//main | //article | //*[@role='main'])[1]")
# The most text analysed per listing. A listing's text is a few kilobytes; analysing a megabyte
# takes ~3 s (measured), and nlp refuses texts past nlp.pipeline.MAX_TEXT_LENGTH (5,000,000,
# spaCy's max_length) with a ValueError. The page itself is whole in the WARC evidence.
MAX_TEXT_CHARS = 1_000_000
# A title is a line; a field a paragraph or a price table. Past these a page is hostile.
MAX_TITLE_CHARS = 1_000
MAX_FIELD_CHARS = 100_000
# The listing version's field that keeps the notes (docs/sources.md, "Hostile pages").
EXTRACTION_FIELD = "extraction"
# Byte order marks, which win over any declared encoding (the WHATWG encoding standard's three,
# and UTF-32's, tried first: its little-endian mark begins with UTF-16's).
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
UTF8 = codecs.lookup("utf-8").name


@dataclass(frozen=True, slots=True)
class PageText:
    """What a listing page says: title, text for extraction, fields, how they were read, and
    the sale signals of its structure."""

    title: str = ""
    text: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    method: str = "empty"
    signals: PageSignals = field(default_factory=PageSignals)
    # What was done differently from the usual reading, note → what happened (module doc).
    notes: dict[str, str] = field(default_factory=dict)


def squash(text: str) -> str:
    """Collapse runs of whitespace into single spaces."""
    return " ".join(text.split())


def element_text(element: Any) -> str:
    """Return an element's text content on one line."""
    return squash(" ".join(element.itertext()))


class PageReader:
    """Read listing pages of one source; its field selectors are compiled once."""

    def __init__(
        self, field_selectors: Mapping[str, str] | None = None, *, boilerplate: bool = True
    ) -> None:
        # boilerplate=False keeps every block of the main text (the bench compares both).
        self.boilerplate = boilerplate
        self._selectors = {
            name: CSSSelector(selector, translator="html")
            for name, selector in (field_selectors or {}).items()
        }

    def read(self, body: bytes, encoding: str = "utf-8") -> PageText:
        """Return the page's title, text and fields, and notes of what was done differently."""
        notes: dict[str, str] = {}
        data = utf8_body(body, encoding, notes)
        root, complete = parse_tree(data)
        if not complete:
            notes["markup_too_deep"] = (
                "elements nested past libxml2's depth limit: text read flat, without the tree"
            )
            return bounded(self._read_flat(root, data, notes))
        if root is None:
            return PageText(notes=notes)
        selected = self._selected_fields(root)
        json_ld = read_json_ld(root)
        note_json_ld(json_ld, notes)
        fields = {**json_ld.fields, **selected}
        title = fields.get("title") or page_title(root)
        if fields.get("description"):
            text, method = field_text(title, fields), "selectors" if selected else "json-ld"
        else:
            text, method = "", "main-text"
        # Read before the main text, which drops boilerplate (and its buttons) from the tree.
        signals = page_signals(root, json_ld.offer, selected.get("price"))
        if method == "main-text":
            # Without the listing's body text, fields are too thin to analyse: read the page.
            text = main_text(root, boilerplate=self.boilerplate, notes=notes)
        signals = stated_availability(signals, text)
        return bounded(PageText(title, text, fields, method, signals, notes))

    def _read_flat(self, root: Any | None, data: bytes, notes: dict[str, str]) -> PageText:
        """Read a page whose tree libxml2 gave up on; `root` is the part it parsed, if any."""
        flat = read_flat(data.decode("utf-8", "replace"))
        selected = self._selected_fields(root) if root is not None else {}
        json_ld = listing_of_scripts(flat.json_ld)
        note_json_ld(json_ld, notes)
        fields = {**json_ld.fields, **selected}
        title = fields.get("title") or flat.h1 or flat.title
        if fields.get("description"):
            text, method = field_text(title, fields), "selectors" if selected else "json-ld"
        else:
            text, method = flat.text, "flat-text"
        signals = PageSignals()
        if root is not None:
            signals = page_signals(root, json_ld.offer, selected.get("price"))
        signals = stated_availability(signals, text)
        return PageText(title, text, fields, method, signals, notes)

    def _selected_fields(self, root: Any) -> dict[str, str]:
        fields: dict[str, str] = {}
        for name, selector in self._selectors.items():
            matches = selector(root)
            value = element_text(matches[0]) if matches else ""
            if value:
                fields[name] = value
        return fields


def field_text(title: str, fields: Mapping[str, str]) -> str:
    """Return the text of a listing read from its fields: the title, then each field a line."""
    lines = [title, *(value for name, value in fields.items() if name != "title")]
    return "\n".join(line for line in lines if line)


def note_json_ld(json_ld: JsonLdListing, notes: dict[str, str]) -> None:
    """Note the JSON-LD scripts skipped as nested too deep."""
    if json_ld.too_deep:
        notes["json_ld_too_deep"] = (
            f"{json_ld.too_deep} JSON-LD script(s) nested too deep to read: skipped"
        )


def utf8_body(body: bytes, encoding: str, notes: dict[str, str]) -> bytes:
    """Return the page as UTF-8 bytes, decoding it by Python's codecs if it is not UTF-8.

    A byte order mark wins over the declared encoding (as in browsers), and so do UTF-16
    bytes without one (a NUL in every other byte); an unknown encoding reads as UTF-8.
    """
    try:
        declared = codecs.lookup(encoding).name
    except LookupError:
        declared = None
    actual = declared
    for bom, name in BOMS:
        if body.startswith(bom):
            actual, body = codecs.lookup(name).name, body[len(bom) :]
            break
    else:
        actual = utf16_without_bom(body) or actual
    if declared is None or not same_encoding(declared, actual):
        said = f"read as {actual}" if actual else "read as utf-8"
        notes["encoding"] = f"declared encoding {encoding!r}: {said}"
    if actual in (None, UTF8):
        return body
    return body.decode(actual, "replace").encode("utf-8", "surrogatepass")


def same_encoding(declared: str | None, actual: str | None) -> bool:
    """Tell whether the encoding used is the one declared (`utf-16` leaves the byte order
    to the byte order mark)."""
    if actual == declared:
        return True
    return declared in ("utf-16", "utf-32") and (actual or "").startswith(f"{declared}-")


def utf16_without_bom(body: bytes) -> str | None:
    """Return the UTF-16 byte order of a page whose every other byte is NUL, else None."""
    head = body[:1024]
    if len(head) < 16 or head.count(0) < len(head) // 3:
        return None
    odd, even = head[1::2].count(0), head[0::2].count(0)
    if odd > 0.8 * len(head) // 2 > even:
        return codecs.lookup("utf-16-le").name
    if even > 0.8 * len(head) // 2 > odd:
        return codecs.lookup("utf-16-be").name
    return None


def parse_tree(data: bytes) -> tuple[Any | None, bool]:
    """Parse UTF-8 HTML; return its root (None when nothing parsed) and whether it is whole.

    `huge_tree` lifts libxml2's depth limit from 256 to 2048 elements (and its 10 MB text
    node limit: the body is bounded by DOWNLOAD_MAXSIZE); past that libxml2 stops with a
    resource-limit error, and the tree holds only what came before.
    """
    if not data.strip():
        return None, True
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=True)
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError):
        root = None
    complete = not any(
        error.type_name == "ERR_RESOURCE_LIMIT" or "Excessive depth" in error.message
        for error in parser.error_log
    )
    return root, complete


def parse_html(body: bytes, encoding: str = "utf-8") -> Any | None:
    """Parse an HTML document; None when there is nothing to parse."""
    return parse_tree(utf8_body(body, encoding, {}))[0]


def bounded(page: PageText) -> PageText:
    """Return the page with its title, fields and text cut at the reader's limits, noted."""
    notes = dict(page.notes)
    title, text = page.title, page.text
    if len(title) > MAX_TITLE_CHARS:
        notes["title_truncated"] = cut_note(len(title), MAX_TITLE_CHARS, "kept")
        title = title[:MAX_TITLE_CHARS]
    fields = dict(page.fields)
    for name, value in page.fields.items():
        if len(value) > MAX_FIELD_CHARS:
            notes["field_truncated"] = f"{name}: " + cut_note(len(value), MAX_FIELD_CHARS, "kept")
            fields[name] = value[:MAX_FIELD_CHARS]
    if len(text) > MAX_TEXT_CHARS:
        notes["text_truncated"] = cut_note(len(text), MAX_TEXT_CHARS, "kept and analysed")
        text = text[:MAX_TEXT_CHARS]
    if notes == page.notes:
        return page
    return replace(page, title=title, text=text, fields=fields, notes=notes)


def cut_note(length: int, kept: int, what: str) -> str:
    """Say how a value was cut: `5200000 characters; the first 1000000 kept`."""
    return f"{length} characters; the first {kept} {what}"


def page_title(root: Any) -> str:
    """Return the first `<h1>`, else the `<title>`."""
    for path in ("//h1", "//title"):
        found = root.xpath(path)
        if found and (text := element_text(found[0])):
            return text
    return ""


def main_text(root: Any, *, boilerplate: bool = True, notes: dict[str, str] | None = None) -> str:
    """Return the readable text of `<main>`/`<article>` (else `<body>`), one block per line.

    Mutates the tree: call it last. `notes` receives `boilerplate_kept` when the markup was
    too deep to judge its boilerplate.
    """
    found = MAIN_XPATH(root)
    body = root.find("body")
    container = found[0] if found else (body if body is not None else root)
    for element in list(container.iter(*SKIP_TAGS)):
        element.drop_tree()
    if boilerplate and strip_boilerplate(container) is None and notes is not None:
        notes["boilerplate_kept"] = "nested too deep to judge boilerplate: every block kept"
    for element in container.iter(*BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
        if element.tag != "br":
            element.text = "\n" + (element.text or "")
    for element in container.iter(*CELL_TAGS):
        element.tail = " " + (element.tail or "")
    lines = (squash(line) for line in "".join(container.itertext()).split("\n"))
    return "\n".join(line for line in lines if line)
