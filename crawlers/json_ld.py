"""Read a page's schema.org Product/Offer JSON-LD: the listing's fields and its offer.

A page's JSON-LD may hold one object, a list, or an `@graph`; a Product's `offers` may be one
Offer, a list of them, or an AggregateOffer (with `lowPrice`, and perhaps `offers` of its own).
"Product", "schema:Product" and "https://schema.org/Product" are one type.
A script nested deeper than `MAX_NESTING` objects and lists (or than Python's JSON decoder
goes: its recursion limit) is skipped and said so (`too_deep`): reading it would take the
recursion limit, and the rest of the page is read as if it had none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

JSON_LD_XPATH = etree.XPath("//script[contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json')]")
LISTING_TYPES = ("Product", "Offer", "AggregateOffer")
OFFER_TYPES = frozenset({"Offer", "AggregateOffer"})
# Objects and lists within each other: schema.org pages nest under ten; past this a script is
# hostile, and the readers below (and `str()` of a value) would recurse as deep as it goes.
MAX_NESTING = 64
Node = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class JsonLdListing:
    """The page's first JSON-LD listing: its fields, and the Offer it carries (if any)."""

    fields: dict[str, str] = field(default_factory=dict)
    offer: Node | None = None
    # How many scripts were skipped as nested too deep to read.
    too_deep: int = 0


def read_json_ld(root: Any) -> JsonLdListing:
    """Return the fields and offer of the page's first JSON-LD Product or Offer."""
    return listing_of_scripts(script.text or "" for script in JSON_LD_XPATH(root))


def listing_of_scripts(scripts: Iterable[str]) -> JsonLdListing:
    """Return the fields and offer of the first Product or Offer in JSON-LD script texts."""
    nodes: list[dict[str, Any]] = []
    too_deep = 0
    for script in scripts:
        try:
            nodes.extend(script_nodes(script))
        except RecursionError:
            too_deep += 1
    found = _first_listing(nodes)
    return JsonLdListing(found.fields, found.offer, too_deep)


def _first_listing(nodes: list[dict[str, Any]]) -> JsonLdListing:
    fields: dict[str, str] = {}
    offer: Node | None = None
    for wanted in LISTING_TYPES:
        for node in nodes:
            if wanted not in types(node):
                continue
            found = listing_fields(node)
            if not fields and (found.get("title") or found.get("description")):
                fields = found
            offer = offer or offer_of(node)
            if fields and offer is not None:
                return JsonLdListing(fields, offer)
    return JsonLdListing(fields, offer)


def json_ld_fields(root: Any) -> dict[str, str]:
    """Return title, description, price, currency and seller of the first JSON-LD listing."""
    return read_json_ld(root).fields


def script_nodes(text: str) -> list[dict[str, Any]]:
    """Return the objects of one JSON-LD script, its lists and `@graph`s flattened.

    Raises RecursionError for a script nested too deep to read; invalid JSON has no objects.
    """
    try:
        data = json.loads(text, strict=False)
    except ValueError:
        return []
    if too_deep(data, MAX_NESTING):
        raise RecursionError(f"JSON-LD nested deeper than {MAX_NESTING} objects and lists")
    nodes: list[dict[str, Any]] = []
    stack: list[Any] = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(reversed(value))
        elif isinstance(value, dict):
            nodes.append(value)
            graph = value.get("@graph")
            if graph is not None:
                stack.append(graph)
    return nodes


def too_deep(data: Any, most: int) -> bool:
    """Tell whether JSON data nests objects and lists deeper than `most` (without recursing)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            if depth >= most:
                return True
            stack.extend((item, depth + 1) for item in value)
    return False


def types(node: Node) -> set[str]:
    """Return a node's schema.org type names, without prefix or namespace."""
    raw = node.get("@type", [])
    names = raw if isinstance(raw, list) else [raw]
    return {str(n).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for n in names}


def offer_of(node: Node) -> Node | None:
    """Return the Offer a Product (or Offer) node carries, the first one with a price first.

    An AggregateOffer without a price of its own gives its first priced offer, with the
    aggregate's other properties (priceCurrency, seller) as defaults.
    """
    offer = node if types(node) & OFFER_TYPES else _first_offer(node.get("offers"))
    if offer is None or price_of(offer) is not None:
        return offer
    nested = _first_offer(offer.get("offers"))
    if nested is None or price_of(nested) is None:
        return offer
    return {**{k: v for k, v in offer.items() if k != "offers"}, **nested}


def _first_offer(offers: Any) -> Node | None:
    candidates = [o for o in (offers if isinstance(offers, list) else [offers]) if o]
    dicts = [o for o in candidates if isinstance(o, dict)]
    priced = [o for o in dicts if price_of(o) is not None]
    first = priced or dicts
    return first[0] if first else None


def price_of(offer: Node) -> Any:
    """Return an offer's price (or lowPrice, or its priceSpecification's), else None."""
    spec = offer.get("priceSpecification")
    spec = spec[0] if isinstance(spec, list) and spec else spec
    for source in (offer, spec if isinstance(spec, dict) else {}):
        for name in ("price", "lowPrice"):
            value = source.get(name)
            if value not in (None, ""):
                return value
    return None


def currency_of(offer: Node) -> Any:
    """Return an offer's priceCurrency (or its priceSpecification's), else None."""
    spec = offer.get("priceSpecification")
    spec = spec[0] if isinstance(spec, list) and spec else spec
    value = offer.get("priceCurrency")
    if value in (None, "") and isinstance(spec, dict):
        value = spec.get("priceCurrency")
    return value


def text_of(value: Any) -> str:
    """Return a JSON-LD value as one line of text (a thing's name, a list's first item)."""
    if isinstance(value, dict):
        value = value.get("name", "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return " ".join(str(value).split()) if value is not None else ""


def listing_fields(node: Node) -> dict[str, str]:
    """Return the listing fields of a Product or Offer node."""
    product: Node = node
    if types(node) & OFFER_TYPES:
        item = node.get("itemOffered")
        product = item if isinstance(item, dict) else {}
    offer = offer_of(node) or {}
    candidates = {
        "title": text_of(product.get("name") or node.get("name")),
        "description": text_of(product.get("description") or node.get("description")),
        "price": text_of(price_of(offer)),
        "currency": text_of(currency_of(offer)),
        "seller": text_of(offer.get("seller") or node.get("seller")),
    }
    return {name: value for name, value in candidates.items() if value}
