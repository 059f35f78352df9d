"""Routes: ship-from and ship-to countries as ISO codes, and the carrier, as route indicators."""

from __future__ import annotations

import pytest

from nlp import analyse
from nlp.routes import country_names, find_routes


def routes(text: str) -> list[str]:
    return [i.value for i in analyse(text).indicators if i.kind == "route"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Isotonitazene 1g $120, ships from China to the USA, Canada and Mexico by EMS",
            ["from:CN", "to:US", "to:CA", "to:MX", "by:EMS"],
        ),
        ("warehouse in Poland, delivery across Europe, DHL", ["from:PL", "to:EU", "by:DHL"]),
        ("UK to UK, tracked Royal Mail", ["from:GB", "to:GB", "by:Royal Mail"]),
        ("China -> USA door to door", ["from:CN", "to:US"]),
        (
            "Based in HK. Send to Australia, New Zealand & Japan.",
            ["from:HK", "to:AU", "to:NZ", "to:JP"],
        ),
        (
            "Ship to Germany/France/Spain, sea freight for bulk",
            ["to:DE", "to:FR", "to:ES", "by:sea"],
        ),
        ("we ship worldwide, stealth", ["to:WORLD"]),
        ("safe line to Australia", ["to:AU"]),
    ],
)
def test_routes_are_found_and_normalised(text: str, expected: list[str]) -> None:
    assert routes(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "contact us to order",  # "us" is no country
        "a trip to France last summer was lovely",  # a country, but nothing ships
        "the dragon of Wales; emsland cheese",  # no carrier inside a word
        "Jordan 4 retro sneakers, size 10",  # a name before a country's
    ],
)
def test_no_route_where_nothing_ships(text: str) -> None:
    assert routes(text) == []


def test_routes_weigh_nothing_but_are_a_reason() -> None:
    with_route = analyse("Protonitazene 5g $300, ships from Netherlands, Wickr: proto_nl")
    without = analyse("Protonitazene 5g $300, Wickr: proto_nl, ships")
    reason = [r for r in with_route.reasons if r.text.startswith("routes")]
    assert [(r.text, r.weight) for r in reason] == [("routes: from NL", 0.0)]
    assert with_route.offer == without.offer


def test_every_country_name_has_an_iso_code() -> None:
    names = country_names()
    assert names["germany"] == "DE" and names["usa"] == "US" and names["holland"] == "NL"
    assert all(len(code) == 2 and code.isupper() for code in names.values())
    assert [h.value for h in find_routes("ship to the united states")] == ["to:US"]
