"""Typed page signals: what the page's structure says about a sale, passed beside its text.

nlp never sees HTML. A crawler that finds a schema.org Product/Offer in the page's JSON-LD, a
price through the source's field selectors, an add-to-cart form or an availability statement
passes them as a `PageSignals`; each present signal becomes a named, weighted reason of the
score (weights in `[signal]` of nlp/data/weights.toml) and counts as sale evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Signal kinds, each with a weight in weights.toml's [signal] table.
SIGNAL_KINDS: tuple[str, ...] = ("jsonld_offer", "price_field", "add_to_cart", "in_stock")

_IN_STOCK = re.compile(
    r"^(?:https?://schema\.org/)?(?:instock|in stock|in_stock|limitedavailability|onlineonly"
    r"|presale|preorder|available|backorder)$",
    re.I,
)


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


@dataclass(frozen=True, slots=True)
class PageSignals:
    """Structured evidence of a sale found on a page by the crawler (never HTML).

    jsonld_offer:   the page's JSON-LD holds a schema.org Product with an Offer (or an Offer);
    offer_price:    that Offer's price as written ("49.90"), if it gives one;
    offer_currency: its priceCurrency ("USD"), if it gives one;
    availability:   its availability ("https://schema.org/InStock", "InStock") or the page's
                    own availability text ("In stock"), as written;
    price_field:    the price text the source's field selectors found ("$120 / 5 g");
    add_to_cart:    the page has an add-to-cart or buy form.
    All fields are optional; `PageSignals.of(...)` builds one from plain values.
    """

    jsonld_offer: bool = False
    offer_price: str | None = None
    offer_currency: str | None = None
    availability: str | None = None
    price_field: str | None = None
    add_to_cart: bool = False

    @classmethod
    def of(
        cls,
        *,
        jsonld_offer: object = False,
        offer_price: object = None,
        offer_currency: object = None,
        availability: object = None,
        price_field: object = None,
        add_to_cart: object = False,
    ) -> PageSignals:
        """Build signals from plain values (strings, numbers, bools or None); blanks are None."""
        price = _text(offer_price)
        return cls(
            jsonld_offer=bool(jsonld_offer) or price is not None,
            offer_price=price,
            offer_currency=_text(offer_currency),
            availability=_text(availability),
            price_field=_text(price_field),
            add_to_cart=bool(add_to_cart),
        )

    @property
    def in_stock(self) -> bool:
        """Return whether the availability says the product can be bought now."""
        return self.availability is not None and bool(_IN_STOCK.match(self.availability))

    def present(self) -> dict[str, str]:
        """Return signal kind -> what the analyst is shown, for the signals present."""
        found: dict[str, str] = {}
        if self.jsonld_offer:
            price = " ".join(p for p in (self.offer_currency, self.offer_price) if p)
            found["jsonld_offer"] = (
                f"page carries a schema.org Offer{f' priced {price}' if price else ''}"
            )
        if self.price_field:
            found["price_field"] = f"page has a price field: {self.price_field[:40]}"
        if self.add_to_cart:
            found["add_to_cart"] = "page has an add-to-cart form"
        if self.in_stock:
            found["in_stock"] = f"page says it is available: {self.availability}"
        return found

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "jsonld_offer": self.jsonld_offer,
            "offer_price": self.offer_price,
            "offer_currency": self.offer_currency,
            "availability": self.availability,
            "price_field": self.price_field,
            "add_to_cart": self.add_to_cart,
        }
