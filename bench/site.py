"""A generated shop of ~30 KB pages to crawl: one index, paginated categories, item pages.

`SiteSpec.for_pages(2001)` is the site of issue 13: an index, 100 category pages (10 categories,
19 items a page, `a[rel=next]` pagination) and 1,900 item pages, each with ~2 KB of listing text
(`bench.listing_text`: offers and benign listings) inside the markup a real shop page carries
(inline CSS, icons, navigation, related items, scripts). `novel=True` gives every item ~400
tokens never seen before instead. Pages are rendered on request from the seed and the path, so
a site of any size costs no memory; the same seed always gives the same bytes.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from bench import listing_text

CATEGORIES = (
    "opioids", "benzos", "stimulants", "cannabinoids", "precursors",
    "lab-supplies", "garden", "music", "bikes", "news",
)  # fmt: skip
PER_PAGE = 19
RELATED = 12
ROBOTS = b"User-agent: *\nAllow: /\n"


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """What to generate: how many item pages, of which text, from which seed."""

    items: int
    novel: bool = False
    seed: int = 13

    @classmethod
    def for_pages(cls, pages: int, *, novel: bool = False, seed: int = 13) -> SiteSpec:
        """Return the spec whose site has about `pages` pages (index and categories included)."""
        # Each category page lists PER_PAGE items: of every PER_PAGE + 1 pages, one is an index.
        items = round((pages - 1) * PER_PAGE / (PER_PAGE + 1))
        return cls(items=max(len(CATEGORIES), items), novel=novel, seed=seed)

    def category_items(self, category: int) -> list[int]:
        """Return the item numbers listed in a category, in order."""
        return list(range(category, self.items, len(CATEGORIES)))

    def category_pages(self, category: int) -> int:
        """Return how many pages a category's listing takes."""
        return max(1, -(-len(self.category_items(category)) // PER_PAGE))

    @property
    def pages(self) -> int:
        """Return the number of HTML pages: the index, every category page and every item."""
        return 1 + sum(self.category_pages(c) for c in range(len(CATEGORIES))) + self.items


@dataclass(frozen=True, slots=True)
class Item:
    number: int
    title: str
    text: str
    offer: bool
    price: str
    seller: str


class GeneratedSite:
    """Render the pages of one `SiteSpec`; `page(path)` is None for a path it does not have."""

    def __init__(self, spec: SiteSpec) -> None:
        self.spec = spec
        rng = random.Random(f"{spec.seed}:shell")
        self._head = _head(rng)
        self._scripts = _scripts(rng)
        self._icons = _icons(rng)
        # A category page shows the items it links to, crawled next: each is made once.
        self.item: Callable[[int], Item] = lru_cache(maxsize=4096)(self._make_item)

    def _make_item(self, number: int) -> Item:
        """Return item `number`'s invented listing."""
        rng = random.Random(f"{self.spec.seed}:item:{number}:{self.spec.novel}")
        if self.spec.novel:
            title, text = listing_text.novel(rng)
            offer = True
        else:
            title, text, offer = listing_text.listing(rng)
        price = f"${rng.randrange(12, 4000)}.{rng.randrange(0, 100):02d}"
        return Item(number, title, text, offer, price, listing_text.handle(rng))

    def page(self, path: str) -> bytes | None:
        """Return the body of the page at a URL path, or None."""
        if path == "/robots.txt":
            return ROBOTS
        if path in ("/", "/index.html"):
            return self._index()
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "item" and parts[1].endswith(".html"):
            number = _number(parts[1][:-5])
            if number is not None and number < self.spec.items:
                return self._item_page(self.item(number))
        if len(parts) == 3 and parts[0] == "c" and parts[1] in CATEGORIES:
            category = CATEGORIES.index(parts[1])
            number = _number(parts[2].removesuffix(".html"))
            if number is not None and 1 <= number <= self.spec.category_pages(category):
                return self._category_page(category, number)
        return None

    def _shell(self, title: str, body: str) -> bytes:
        nav = " ".join(
            f'<a href="/c/{c}/1.html" class="nav-link">{c.replace("-", " ").title()}</a>'
            for c in CATEGORIES
        )
        page = (
            f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)} | Bench Bazaar</title>\n{self._head}</head>\n"
            f'<body>\n<header class="site-header">{self._icons}'
            f'<a class="brand" href="/">Bench Bazaar</a>\n'
            f'<form class="search" method="get" action="/search"><input name="q"></form>\n'
            f'<nav class="categories">{nav}</nav>\n</header>\n<main>\n{body}\n</main>\n'
            f"{_FOOTER}{self._scripts}</body>\n</html>\n"
        )
        return page.encode("utf-8")

    def _index(self) -> bytes:
        cards = "\n".join(self._card(self.item(n)) for n in range(min(24, self.spec.items)))
        body = f'<h1>Bench Bazaar</h1>\n<section class="featured">\n{cards}\n</section>'
        return self._shell("Home", body)

    def _card(self, item: Item) -> str:
        blurb = html.escape(item.text[:160])
        return (
            f'<div class="card"><a class="item-card" href="/item/{item.number}.html">'
            f'<img src="/img/{item.number}.jpg" alt="" width="160" height="120" loading="lazy">'
            f"<h3>{html.escape(item.title)}</h3></a>"
            f'<p class="blurb">{blurb}</p><span class="card-price">{item.price}</span></div>'
        )

    def _category_page(self, category: int, number: int) -> bytes:
        name = CATEGORIES[category]
        numbers = self.spec.category_items(category)[(number - 1) * PER_PAGE : number * PER_PAGE]
        cards = "\n".join(self._card(self.item(n)) for n in numbers)
        last = self.spec.category_pages(category)
        links = (
            [f'<a rel="prev" href="/c/{name}/{number - 1}.html">&lsaquo;</a>'] if number > 1 else []
        )
        links += [
            f'<a href="/c/{name}/{n}.html">{n}</a>'
            for n in range(max(1, number - 3), min(last, number + 3) + 1)
        ]
        if number < last:
            links.append(f'<a rel="next" href="/c/{name}/{number + 1}.html">&rsaquo;</a>')
        body = (
            f"<h1>{name.title()}, page {number} of {last}</h1>\n"
            f'<section class="grid">\n{cards}\n</section>\n'
            f'<nav class="pager">{" ".join(links)}</nav>'
        )
        return self._shell(f"{name.title()} page {number}", body)

    def _item_page(self, item: Item) -> bytes:
        rng = random.Random(f"{self.spec.seed}:related:{item.number}")
        related = "\n".join(
            f'<li><a class="related" href="/item/{n}.html">Item {n}</a></li>'
            for n in rng.sample(range(self.spec.items), min(RELATED, self.spec.items))
        )
        paragraphs = "\n".join(f"<p>{html.escape(line)}</p>" for line in item.text.split("\n"))
        cart = (
            '<form class="add-to-cart" method="post" action="/cart">'
            f'<input type="hidden" name="item" value="{item.number}">'
            '<button type="submit">Add to cart</button></form>'
            if item.offer
            else ""
        )
        body = (
            f'<p class="breadcrumb"><a href="/">Home</a> &rsaquo; Item {item.number}</p>\n'
            f'<article class="listing">\n<h1>{html.escape(item.title)}</h1>\n'
            f'<p class="price">{item.price}</p>\n'
            f'<p>Seller: <span class="seller">{item.seller}</span></p>\n'
            f'<p class="posted"><time datetime="2026-11-{item.number % 28 + 1:02d}">'
            f"2026-11-{item.number % 28 + 1:02d}</time></p>\n"
            f'<div class="description">\n{paragraphs}\n</div>\n{cart}\n'
            f"{_specs(rng, item.number)}</article>\n"
            f'<aside class="related-items"><h2>Related</h2><ul>\n{related}\n</ul></aside>'
        )
        return self._shell(item.title, body)


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 9 else None


def _specs(rng: random.Random, number: int) -> str:
    rows = "".join(
        f'<tr class="spec-row"><th scope="row">{name}</th>'
        f'<td class="spec-value" data-spec="{name.lower()}">{value}</td></tr>\n'
        for name, value in (
            ("SKU", f"BB-{number:06d}"),
            ("Weight", f"{rng.randrange(1, 900)} g"),
            ("Dimensions", f"{rng.randrange(5, 40)} x {rng.randrange(5, 40)} cm"),
            ("Warehouse", rng.choice(("North", "South", "East", "West"))),
            ("Dispatch", f"{rng.randrange(1, 5)} working days"),
            ("Batch", f"{rng.randrange(100, 999)}-{rng.randrange(10, 99)}"),
        )
    )
    return f'<table class="specs"><caption>Details</caption>\n{rows}</table>\n'


def _head(rng: random.Random) -> str:
    # Inline critical CSS, as shop themes ship it: most of a real page's bytes are markup.
    rules = "\n".join(
        f".{listing_text.word(rng)}-{n}{{margin:{rng.randrange(0, 40)}px {rng.randrange(0, 40)}px;"
        f"color:#{rng.randrange(0, 0xFFFFFF):06x};font-size:{rng.randrange(10, 24)}px}}"
        for n in range(150)
    )
    return (
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="stylesheet" href="/static/theme.css">\n'
        f"<style>\n{rules}\n</style>\n"
    )


def _scripts(rng: random.Random) -> str:
    strings = {
        f"{listing_text.word(rng)}.{listing_text.word(rng)}": listing_text.word(rng, 4)
        for _ in range(420)
    }
    blob = json.dumps({"locale": "en", "strings": strings}, separators=(",", ":"))
    return f'<script>window.__shop={blob};</script>\n<script src="/static/app.js" defer></script>\n'


def _icons(rng: random.Random) -> str:
    paths = " ".join(
        f'<path d="M{rng.randrange(0, 24)} {rng.randrange(0, 24)}L{rng.randrange(0, 24)} '
        f'{rng.randrange(0, 24)}Z"/>'
        for _ in range(60)
    )
    return f'<svg class="icons" viewBox="0 0 24 24" aria-hidden="true">{paths}</svg>\n'


_FOOTER = (
    '<footer class="site-footer">\n<p>'
    + " ".join(
        f'<a href="/help/{topic}.html">{topic.title()}</a>'
        for topic in ("about", "contact", "shipping", "returns", "privacy", "terms", "faq")
    )
    + "</p>\n<p>Invented benchmark content for SynthWatch, served on 127.0.0.1. Not a real "
    "shop: every product, seller, handle, phone number and address on it is made up.</p>\n"
    "</footer>\n"
)
