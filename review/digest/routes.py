"""Routes as people read them: a place's name beside its code, for the digest and the trends page.

Routes and carriers are counted in ``storage.routes``; a place is an ISO 3166-1 alpha-2 code
(named from pycountry's table, its common name where it has one: "Taiwan", "South Korea"),
"EU", "WORLD", or unknown (the side a listing did not name). A code pycountry does not know is
shown as it is stored (escaped like everything else).
"""

from __future__ import annotations

from functools import cache

import pycountry

from storage.routes import UNKNOWN

_PLACES = {"EU": "European Union", "WORLD": "worldwide", UNKNOWN: "unknown"}


@cache
def place_name(code: str) -> str:
    """Return the name of a route's place: "China" for CN, "worldwide", "unknown" for ""."""
    if code in _PLACES:
        return _PLACES[code]
    country = None
    if len(code) == 2 and code.isascii() and code.isalpha():
        country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def place_label(code: str) -> str:
    """Return a place as plain text shows it: "CN China", "worldwide", "?" when unknown."""
    if code == UNKNOWN:
        return "?"
    name = place_name(code)
    return name if name in (code, "worldwide") else f"{code} {name}"


def route_label(origin: str, destination: str) -> str:
    """Return a route as plain text: "CN China → US United States", "? → worldwide"."""
    return f"{place_label(origin)} → {place_label(destination)}"
