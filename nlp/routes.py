"""Routes: where an offer ships from and to, and how ("ships from China to the USA by EMS").

Countries are ISO 3166-1 alpha-2 codes (pycountry's table, plus the names listings use: "USA",
"UK", "Holland", "Russia"), "EU" for the European Union or Europe, "WORLD" for worldwide; a
carrier or method is its usual name ("DHL", "EMS", "air mail", "sea"). Each is an indicator
of kind "route" with a value "from:CN", "to:US", "to:WORLD" or "by:DHL": what customs and
postal partners act on. Routes weigh nothing in the score (shipping cues already do); they are
stored and shown so that analysts can filter and count by them.
"""

from __future__ import annotations

import re
from functools import lru_cache

import ahocorasick_rs
import pycountry

from nlp.indicators import IndicatorHit

# Names listings use that are not a country's ISO name or common name.
_EXTRA_NAMES: dict[str, str] = {
    "usa": "US", "u.s.a.": "US", "u.s.": "US", "america": "US", "the states": "US",
    "united states": "US", "uk": "GB", "u.k.": "GB", "britain": "GB", "great britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "holland": "NL", "the netherlands": "NL",
    "russia": "RU", "south korea": "KR", "korea": "KR", "north korea": "KP", "czech republic": "CZ",
    "czechia": "CZ", "vietnam": "VN", "iran": "IR", "turkey": "TR", "syria": "SY", "laos": "LA",
    "taiwan": "TW", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "moldova": "MD",
    "eu": "EU", "europe": "EU", "european union": "EU", "hong kong": "HK", "macau": "MO",
    "ivory coast": "CI", "uae": "AE", "emirates": "AE", "dubai": "AE",
    # The two-letter codes a listing writes that are no common word ("de", "in", "it" are).
    "hk": "HK", "nl": "NL", "cn": "CN", "au": "AU", "nz": "NZ", "prc": "CN",
}  # fmt: skip
# Words that are country names or codes but mostly mean something else in a listing.
_NOT_COUNTRIES = frozenset({"chad", "jersey", "guinea", "georgia", "jordan", "niger", "us"})

_CARRIERS: dict[str, str] = {
    "ems": "EMS", "dhl": "DHL", "fedex": "FedEx", "ups": "UPS", "usps": "USPS", "tnt": "TNT",
    "royal mail": "Royal Mail", "dpd": "DPD", "aramex": "Aramex", "china post": "China Post",
    "post nl": "PostNL", "postnl": "PostNL", "gls": "GLS", "hermes": "Hermes", "evri": "Evri",
    "canada post": "Canada Post", "australia post": "Australia Post", "air mail": "air mail",
    "airmail": "air mail", "air freight": "air freight", "by air": "air freight",
    "sea freight": "sea", "by sea": "sea", "sea shipping": "sea", "by ship": "sea",
    "rail freight": "rail", "by rail": "rail", "priority mail": "USPS",
}  # fmt: skip

_VERBS = (
    r"(?:ship(?:s|ped|ping)?|deliver(?:s|y|ies|ed|ing)?|send(?:s|ing)?|sent|post(?:age|ed)?"
    r"|export(?:s|ed|ing)?|dispatch(?:es|ed)?|mail(?:s|ed)?)"
)
# What stands right before a country it ships from, or to; matched at the end of the 48
# characters before the name.
_FROM_BEFORE = re.compile(
    rf"(?:(?<![\w-]){_VERBS}(?:[ ][\w']+){{0,2}}?[ ]from|(?<![\w-])from|warehouses?[ ]in"
    r"|stock(?:ed)?[ ]in|based[ ]in|located[ ]in|origin[ ]?:?)[ ](?:the[ ])?$"
)
_TO_BEFORE = re.compile(
    rf"(?:(?<![\w-]){_VERBS}(?:[ ][\w']+){{0,2}}?[ ](?:to|into|across|throughout|all[ ]over"
    r"|within)|lines?[ ](?:to|into)|routes?[ ]to)[ ](?:all[ ](?:of[ ])?)?(?:the[ ])?$"
)
# Between two countries: the next one of a list ("UK, Germany and France") or the end of a
# route ("UK to UK", "China -> USA").
_LIST_GAP = re.compile(r"(?:[ ]?[,/&][ ]?|[ ](?:and|or|&)[ ])(?:the[ ])?")
_ROUTE_GAP = re.compile(r"[ ](?:to|->|\u2192|=>)[ ](?:all[ ])?(?:the[ ])?")
_BEFORE = 48
_WORLDWIDE = re.compile(
    r"(?<![\w-])(?:world[ ]?wide|internationally|globally|all[ ]countries|any[ ]country"
    r"|every[ ]country)(?![\w-])"
)
_SHIPPING_NEAR = re.compile(rf"{_VERBS}|shipping|delivery")


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Return lowercase country name -> ISO 3166-1 alpha-2 code (plus "EU")."""
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "common_name"):
            name = getattr(country, attribute, None)
            if name and "," not in name:
                names[name.lower()] = country.alpha_2
    names.update(_EXTRA_NAMES)
    for word in _NOT_COUNTRIES:
        names.pop(word, None)
    return names


@lru_cache(maxsize=1)
def _automaton() -> tuple[
    ahocorasick_rs.AhoCorasick, list[str], ahocorasick_rs.AhoCorasick, list[str]
]:
    """The country names and carriers as automata (one pass over a text each), with their keys."""
    names = list(country_names())
    carriers = list(_CARRIERS)
    return (
        ahocorasick_rs.AhoCorasick(names, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest),
        names,
        ahocorasick_rs.AhoCorasick(carriers, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest),
        carriers,
    )


def _whole_word(lower: str, start: int, end: int) -> bool:
    before = lower[start - 1] if start else " "
    after = lower[end] if end < len(lower) else " "
    return not (before.isalnum() or before == "-" or after.isalnum() or after == "-")


def find_routes(lower: str) -> list[IndicatorHit]:
    """Return the route indicators ("from:CN", "to:US", "by:DHL") of lowercased text."""
    countries, names, carriers, carrier_keys = _automaton()
    codes = country_names()
    hits: list[IndicatorHit] = []
    previous: tuple[int, str] | None = None  # (end, role) of the country before
    previous_hit: IndicatorHit | None = None
    for index, start, end in countries.find_matches_as_indexes(lower):
        if not _whole_word(lower, start, end):
            continue
        code = codes[names[index]]
        role = ""
        gap = lower[previous[0] : start] if previous is not None else ""
        if previous is not None and previous[1] == "to" and _LIST_GAP.fullmatch(gap):
            role = "to"
        elif previous is not None and _ROUTE_GAP.fullmatch(gap):
            role = "to"
            if previous_hit is not None and not previous[1]:
                hits.append(
                    IndicatorHit(
                        "route", previous_hit.start, previous_hit.end, "from:" + previous_hit.value
                    )
                )
        else:
            before = lower[max(0, start - _BEFORE) : start]
            if _FROM_BEFORE.search(before):
                role = "from"
            elif _TO_BEFORE.search(before):
                role = "to"
        if role:
            hits.append(IndicatorHit("route", start, end, f"{role}:{code}"))
        previous = (end, role)
        previous_hit = IndicatorHit("route", start, end, code)
    if not any(h.value.startswith("to:") for h in hits):
        for match in _WORLDWIDE.finditer(lower):
            near = lower[max(0, match.start() - 24) : match.end() + 10]
            if _SHIPPING_NEAR.search(near):
                hits.append(IndicatorHit("route", match.start(), match.end(), "to:WORLD"))
                break
    for index, start, end in carriers.find_matches_as_indexes(lower):
        if _whole_word(lower, start, end):
            carrier = _CARRIERS[carrier_keys[index]]
            hits.append(IndicatorHit("route", start, end, f"by:{carrier}"))
    seen: set[str] = set()
    unique: list[IndicatorHit] = []
    for hit in sorted(hits, key=lambda h: (h.start, h.end)):
        if hit.value not in seen:
            seen.add(hit.value)
            unique.append(hit)
    return unique
