"""Measure the main-content step on the saved real market pages in ../shared/data/html_pages.

Extractors, each on every page (no field selectors, as a new source is crawled):
- old:          the page reader before issue 10 (main text without boilerplate removal, no
                page signals), rebuilt here from today's functions;
- no-boilerplate: today's reader with `boilerplate=False` (signals, every block kept);
- new:          today's reader (`crawlers.html_text.PageReader`);
- trafilatura / justext, when importable (reference only, never a runtime dependency;
  install them apart, e.g. `pip install --target DIR trafilatura justext`, and pass
  `--extra-path DIR`), given today's signals too.
Printed per extractor: pages whose analysis is an offer; the share of sidebar lines (the
market's category menu and top navigation, found by a per-market XPath below) that leak into
the text; distinct substance concepts named per page; and the cost per page as a ratio
against `old`, measured in the same process. Nothing here is copied into the project.

Run: .venv/bin/python -m bench.main_content [--extra-path DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from crawlers.html_text import PageReader, PageText, main_text, page_title, parse_html
from crawlers.json_ld import json_ld_fields
from nlp import Analyser, PageSignals

PAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "html_pages"
# Where each market keeps its boilerplate (category menus, top navigation), and its listings:
# Yellow Brick's unclosed menu items hold the whole page, so lines of listings are not menu.
SIDEBARS = {
    "cypher-market-drugs": "//div[contains(@class, 'col-md-3')] | //nav",
    "yellow-brick": "//*[@id='catlist'] | //*[@id='skyline']",
    "single_listing_pages": "//nav | //ul[.//span[@class='footnote']]",
}
LISTINGS = {
    "cypher-market-drugs": "//div[contains(@class, 'col-md-9')]",
    "yellow-brick": "//*[@id='listing']",
    "single_listing_pages": "//h1",
}
Extractor = Callable[[bytes], PageText]


def old_reader(body: bytes) -> PageText:
    """Read a page as before issue 10: fields or the main text, no boilerplate step."""
    root = parse_html(body)
    if root is None:
        return PageText()
    fields = json_ld_fields(root)
    title = fields.get("title") or page_title(root)
    if fields.get("description"):
        lines = [title, *(value for name, value in fields.items() if name != "title")]
        return PageText(title, "\n".join(line for line in lines if line), fields, "json-ld")
    return PageText(title, main_text(root, boilerplate=False), fields, "main-text")


def with_reference(extract: Callable[[bytes], str]) -> Extractor:
    """Return an extractor giving a reference library's text and today's signals."""
    reader = PageReader()

    def read(body: bytes) -> PageText:
        ours = reader.read(body)
        return PageText(ours.title, extract(body), ours.fields, "reference", ours.signals)

    return read


def reference_extractors() -> dict[str, Extractor]:
    """Return trafilatura and justext extractors, for those that import."""
    found: dict[str, Extractor] = {}
    try:
        import trafilatura
    except ImportError:
        print("trafilatura: not importable, skipped")
    else:
        found["trafilatura"] = with_reference(
            lambda body: trafilatura.extract(body.decode("utf-8", "replace")) or ""
        )
    try:
        import justext
    except ImportError:
        print("justext: not importable, skipped")
    else:
        stoplist = justext.get_stoplist("English")
        found["justext"] = with_reference(
            lambda body: "\n".join(
                p.text for p in justext.justext(body, stoplist) if not p.is_boilerplate
            )
        )
    return found


def sidebar_lines(path: Path, body: bytes) -> set[str]:
    """Return the lines of the market's menus on a page that no listing of it has."""
    root = parse_html(body)
    if root is None:
        return set()
    menus, listings = (
        {line for element in etree.XPath(paths[path.parent.name])(root) for line in lines(element)}
        for paths in (SIDEBARS, LISTINGS)
    )
    return menus - listings


def lines(element: Any) -> Iterator[str]:
    """Yield an element's text pieces of 3+ letters, on one line each."""
    for text in element.itertext():
        line = " ".join(text.split())
        if sum(c.isalpha() for c in line) >= 3:
            yield line


@dataclass
class Row:
    name: str
    offers: int = 0
    leaked: int = 0
    sidebar: int = 0
    concepts: int = 0
    seconds: float = 0.0


def measure(
    name: str,
    extract: Extractor,
    pages: list[tuple[Path, bytes, set[str]]],
    analyser: Analyser,
    repeat: int,
) -> Row:
    """Analyse every page's text as one extractor reads it; time the extraction alone."""
    row = Row(name)
    start = time.perf_counter()
    for _ in range(repeat):
        read = [extract(body) for _, body, _ in pages]
    row.seconds = (time.perf_counter() - start) / repeat
    for (_, _, sidebar), page in zip(pages, read, strict=True):
        signals = page.signals if name != "old" else PageSignals()
        analysis = analyser.analyse(page.text, signals)
        row.offers += analysis.offer
        lines = {" ".join(line.split()) for line in page.text.splitlines()}
        row.leaked += len(sidebar & lines)
        row.sidebar += len(sidebar)
        row.concepts += len({m.concept_id for m in analysis.mentions})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra-path", help="a folder holding trafilatura and justext")
    parser.add_argument("--repeat", type=int, default=5, help="extraction rounds timed")
    args = parser.parse_args()
    if args.extra_path:
        sys.path.append(args.extra_path)
    if not PAGES.is_dir():
        raise SystemExit(f"{PAGES} is absent")
    pages = [
        (path, body, sidebar_lines(path, body))
        for path in sorted(PAGES.glob("*/*.htm*"))
        if (body := path.read_bytes())
    ]
    extractors: dict[str, Extractor] = {
        "old": old_reader,
        "no-boilerplate": PageReader(boilerplate=False).read,
        "new": PageReader().read,
        **reference_extractors(),
    }
    analyser = Analyser()
    analyser.analyse("warm up")
    rows = [measure(n, e, pages, analyser, args.repeat) for n, e in extractors.items()]
    base = rows[0].seconds
    print(f"{len(pages)} saved market pages ({', '.join(sorted(SIDEBARS))}), no field selectors")
    print(f"{'extractor':<16}{'offers':>9}{'sidebar leak':>14}{'concepts/page':>15}"
          f"{'ms/page':>9}{'x old':>7}")  # fmt: skip
    for row in rows:
        per_page = row.seconds / len(pages) * 1000
        print(
            f"{row.name:<16}{row.offers:>5}/{len(pages):<3}"
            f"{row.leaked / max(row.sidebar, 1):>14.1%}{row.concepts / len(pages):>15.1f}"
            f"{per_page:>9.2f}{row.seconds / base:>7.2f}"
        )


if __name__ == "__main__":
    main()
