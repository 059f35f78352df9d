from __future__ import annotations

import pytest

from crawlers.html_text import PageReader, parse_html
from crawlers.page_signals import has_cart_button, stored_signals
from nlp import PageSignals

GRAPH = """<html><head><script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "WebSite", "name": "Example shop"},
  {"@type": "https://schema.org/Product", "name": "Isotonitazene powder",
   "offers": {"@type": "AggregateOffer", "priceCurrency": "EUR", "offerCount": 3,
              "offers": [{"@type": "Offer", "availability": "https://schema.org/InStock"},
                         {"@type": "Offer", "price": "80.00", "priceCurrency": "EUR",
                          "availability": "https://schema.org/InStock"}]}}
]}</script></head><body><h1>Isotonitazene powder</h1><p>Lab tested.</p></body></html>"""


def signals_of(html: str, selectors: dict[str, str] | None = None) -> PageSignals:
    return PageReader(selectors).read(html.encode()).signals


def test_a_json_ld_product_with_nested_offers_gives_its_priced_offer() -> None:
    assert signals_of(GRAPH) == PageSignals(
        jsonld_offer=True,
        offer_price="80.00",
        offer_currency="EUR",
        availability="https://schema.org/InStock",
    )


def test_an_aggregate_offer_gives_its_low_price() -> None:
    html = """<script type="application/ld+json">[{"@type": "Product", "name": "X",
      "offers": {"@type": "AggregateOffer", "lowPrice": 12, "highPrice": 40,
                 "priceCurrency": "USD"}}]</script><p>x</p>"""

    signals = signals_of(html)

    assert (signals.jsonld_offer, signals.offer_price, signals.offer_currency) == (
        True,
        "12",
        "USD",
    )


def test_a_product_without_an_offer_is_no_offer() -> None:
    html = '<script type="application/ld+json">{"@type": "Product", "name": "X"}</script><p>x</p>'

    assert signals_of(html) == PageSignals()


@pytest.mark.parametrize(
    "markup",
    [
        '<div itemscope itemtype="https://schema.org/Offer"><span itemprop="price" content="49.9">'
        '49,90</span><meta itemprop="priceCurrency" content="EUR">'
        '<link itemprop="availability" href="https://schema.org/InStock"></div>',
        '<meta property="product:price:amount" content="49.9">'
        '<meta property="product:price:currency" content="EUR">'
        '<meta property="product:availability" content="https://schema.org/InStock">',
    ],
    ids=["microdata", "open-graph"],
)
def test_microdata_and_open_graph_offers(markup: str) -> None:
    assert signals_of(f"<html><head></head><body>{markup}<p>x</p></body></html>") == PageSignals(
        jsonld_offer=True,
        offer_price="49.9",
        offer_currency="EUR",
        availability="https://schema.org/InStock",
    )


def test_the_price_field_is_what_the_price_selector_found() -> None:
    html = '<h1>Etizolam</h1><p class="price"> $2 a blotter </p><div class="d">Blotters</div>'

    signals = signals_of(html, {"price": ".price", "description": ".d"})

    assert signals.price_field == "$2 a blotter"


@pytest.mark.parametrize(
    "button",
    [
        '<form action="/cart/add" method="post"><input name="qty" value="1"></form>',
        '<form action="/p/1"><button type="submit">In den Warenkorb</button></form>',
        '<form><input type="submit" value="Añadir al carrito"></form>',
        '<button name="add-to-cart" value="17">Add</button>',
        '<button class="single_add_to_cart_button">Add</button>',
        '<a class="btn btn-primary" href="/p/1">Buy now</a>',
        '<a href="/add_basket/2160"><b>add to cart</b></a>',
        '<form action="/p/1"><input type="submit" value="В корзину"></form>',  # noqa: RUF001
    ],
)
def test_add_to_cart_forms_and_buttons(button: str) -> None:
    assert has_cart_button(parse_html(f"<html><body><h1>Item</h1>{button}</body></html>".encode()))


@pytest.mark.parametrize(
    "markup",
    [
        '<nav><a class="btn" href="/cart">Cart (0)</a> <a class="btn" href="/b">Buy now</a></nav>',
        '<form action="/search"><input name="q"><button>Search</button></form>',
        '<a href="/guides/buying">A buying guide</a>',
        '<input type="text" name="add_to_cart_note">',
        '<footer><a class="button" href="/p">Add to cart</a></footer>',
    ],
)
def test_no_cart_button(markup: str) -> None:
    assert not has_cart_button(parse_html(f"<html><body>{markup}</body></html>".encode()))


@pytest.mark.parametrize(
    ("text", "availability"),
    [
        ("<p>3 in stock</p>", "In stock"),
        ("<p>Stock: 12</p>", "In stock"),
        ("<p>Auf Lager</p>", "In stock"),
        ("<p>Out of stock</p>", None),
        ("<p>Not in stock</p>", None),
        ("<p>Stock: 0</p>", None),
    ],
)
def test_an_in_stock_statement_in_the_text(text: str, availability: str | None) -> None:
    assert signals_of(f"<h1>Item</h1>{text}").availability == availability


def test_the_offer_availability_comes_before_the_text() -> None:
    html = """<script type="application/ld+json">{"@type": "Offer", "price": 5,
      "availability": "https://schema.org/OutOfStock"}</script><p>In stock soon</p>"""

    signals = signals_of(html)

    assert signals.availability == "https://schema.org/OutOfStock" and not signals.in_stock


def test_stored_signals_keep_only_what_was_found() -> None:
    assert stored_signals(PageSignals()) == {}
    assert stored_signals(PageSignals.of(add_to_cart=True, price_field="$2")) == {
        "page_signals": {"add_to_cart": True, "price_field": "$2"}
    }
