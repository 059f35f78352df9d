"""Read what a page's structure says about a sale, as `nlp.PageSignals` (nlp never sees HTML).

- a schema.org Offer: in JSON-LD (`crawlers.json_ld`), else in microdata/RDFa/Open Graph
  (`itemprop="price"`, `property="product:price:amount"`, ...), with price, currency and
  availability;
- the price the source's `price` field selector found;
- an add-to-cart or buy form or button, by form action or by a button's text, name, value,
  class or id (`CART_WORDS`), outside navigation and footers;
- availability: the Offer's, else an "in stock" statement in the page's text (`IN_STOCK`).
The signals present are also kept in the listing version's fields, under `page_signals`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from lxml import etree

from crawlers.json_ld import Node, currency_of, price_of
from nlp import PageSignals

# The listing version's field that keeps the signals found (docs/sources.md).
PAGE_SIGNALS_FIELD = "page_signals"
# Buy buttons in the languages of the markets we watch; matched in lower case, with `-`, `_`
# and runs of spaces read as one space, so "add-to-cart", "add_to_cart" and "Add to cart" match.
CART_WORDS = (
    "add to cart", "add to basket", "add to bag", "addtocart", "add cart", "buy now", "buy it now",
    "in den warenkorb", "jetzt kaufen", "añadir al carrito", "comprar ahora", "ajouter au panier",
    "acheter maintenant", "aggiungi al carrello", "in winkelwagen", "adicionar ao carrinho",
    "dodaj do koszyka", "sepete ekle", "в корзину", "купить",
)  # fmt: skip
CART_RE = re.compile("|".join(re.escape(w) for w in CART_WORDS))
# Form actions of carts: /cart/add, /basket.php?action=add, ?add-to-cart=12, /checkout.
CART_ACTION = re.compile(r"cart|basket|checkout|warenkorb|carrito|panier|carrello", re.I)
BUTTON_TYPES = frozenset({"submit", "button", "image"})
# Links styled or addressed as a buy button; other links are read by nobody here.
BUTTON_LINK = re.compile(r"btn|button|cart|basket|buy|kaufen|comprar|acheter", re.I)
# A cart link in the site's navigation is a menu entry, not this page's offer.
NOT_THE_PAGE = ("nav", "footer", "header")
# A price, currency or availability is a few words; a hostile page may make one its whole text
# (an itemprop="price" on <body>), which nlp would read and the version's fields keep.
MAX_SIGNAL_CHARS = 200
# Measured 2x faster than //*[@itemprop or @property] on the saved market pages.
STRUCTURED = etree.XPath("//@itemprop/.. | //@property/..")
PRICE_PROPS = frozenset(
    {"price", "lowprice", "schema:price", "product:price:amount", "og:price:amount"}
)
CURRENCY_PROPS = frozenset(
    {"pricecurrency", "schema:pricecurrency", "product:price:currency", "og:price:currency"}
)
AVAILABILITY_PROPS = frozenset({"availability", "schema:availability", "product:availability"})
# "In stock", "3 in stock", "Stock: 12", "Auf Lager", never "out of stock" or "not in stock".
IN_STOCK = re.compile(
    r"(?<!out of )(?<!not )\b(?:in stock|auf lager|en stock|op voorraad|in magazzino"
    r"|em estoque|w magazynie|в наличии)\b|\bstock\s*:\s*[1-9]",
    re.I,
)


def stored_signals(signals: PageSignals) -> dict[str, dict[str, Any]]:
    """Return the fields that keep a page's signals for the analyst: those present, if any."""
    present = {name: value for name, value in signals.to_dict().items() if value}
    return {PAGE_SIGNALS_FIELD: present} if present else {}


def page_signals(root: Any, offer: Node | None, price_field: str | None) -> PageSignals:
    """Return the page's sale signals: its JSON-LD `offer`, structured data and buttons."""
    price = currency = availability = None
    if offer is not None:
        price, currency = price_of(offer), currency_of(offer)
        availability = offer.get("availability")
    jsonld_offer = offer is not None
    if offer is None or price is None:
        props = structured_offer(root)
        if props.get("price") is not None:
            jsonld_offer = True
            price = props["price"]
            currency = currency or props.get("currency")
        availability = availability or props.get("availability")
    return PageSignals.of(
        jsonld_offer=jsonld_offer,
        offer_price=short(price),
        offer_currency=short(currency),
        availability=short(availability),
        price_field=short(price_field),
        add_to_cart=has_cart_button(root),
    )


def short(value: Any) -> Any:
    """Return a signal's value, as text cut at `MAX_SIGNAL_CHARS` unless it is a number."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_SIGNAL_CHARS]


def stated_availability(signals: PageSignals, text: str) -> PageSignals:
    """Return the signals with the text's "in stock" statement when the markup gave none."""
    if signals.availability is not None or not IN_STOCK.search(text):
        return signals
    # One wording for every language and "Stock: 12", so that nlp reads it as in stock.
    return replace(signals, availability="In stock")


def structured_offer(root: Any) -> dict[str, str]:
    """Return price, currency and availability given as microdata, RDFa or Open Graph."""
    found: dict[str, str] = {}
    for element in STRUCTURED(root):
        for prop in (element.get("itemprop") or element.get("property") or "").lower().split():
            name = (
                "price" if prop in PRICE_PROPS
                else "currency" if prop in CURRENCY_PROPS
                else "availability" if prop in AVAILABILITY_PROPS
                else None
            )  # fmt: skip
            if name is None or name in found:
                continue
            value = element.get("content") or element.get("href") or element.text_content()
            if value := " ".join(value.split()):
                found[name] = value
    return found


def has_cart_button(root: Any) -> bool:
    """Tell whether the page has an add-to-cart or buy form or button."""
    for element in root.iter("form", "button", "input", "a"):
        tag = element.tag
        if tag == "form":
            found = bool(CART_ACTION.search(element.get("action") or ""))
        elif is_button(element):
            found = is_cart_wording(element)
        else:
            continue
        if found and next(element.iterancestors(*NOT_THE_PAGE), None) is None:
            return True
    return False


def is_button(element: Any) -> bool:
    """Tell whether an element is a button, a submit input, or a link styled as a button."""
    if element.tag == "input":
        return (element.get("type") or "").lower() in BUTTON_TYPES
    if element.tag == "a":
        style = f"{element.get('class') or ''} {element.get('href') or ''}"
        return element.get("role") == "button" or bool(BUTTON_LINK.search(style))
    return True


def is_cart_wording(element: Any) -> bool:
    """Tell whether a button's text, name, value, class, id or title says add to cart or buy."""
    attributes = (element.get(name) or "" for name in ("name", "value", "class", "id", "title"))
    words = " ".join([*attributes, element.text_content()]).lower()
    return bool(CART_RE.search(" ".join(words.replace("-", " ").replace("_", " ").split())))
