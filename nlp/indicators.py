"""Extract trafficking indicators (quantity, price, purity, contact, keywords) from text.

Runs on the normalised text; offsets are mapped back by the component. The regexes are
compiled once and kept free of nested quantifiers: they are the largest extraction cost.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from nlp.cues import KeywordMatcher


@dataclass(frozen=True, slots=True)
class IndicatorHit:
    """An indicator as a span of the normalised text."""

    kind: str
    start: int
    end: int
    value: str


_UNITS: dict[str, str] = {
    "kg": "kg", "kgs": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilograms": "kg",
    "g": "g", "gr": "g", "gram": "g", "grams": "g", "gramm": "g",
    "mg": "mg", "milligram": "mg", "milligrams": "mg",
    "mcg": "mcg", "ug": "mcg", "\u00b5g": "mcg", "\u03bcg": "mcg",
    "ml": "ml", "l": "l", "oz": "oz", "lb": "lb", "lbs": "lb",
    "pill": "pills", "pills": "pills", "tab": "tablets", "tabs": "tablets",
    "tablet": "tablets", "tablets": "tablets", "cap": "capsules", "caps": "capsules",
    "capsule": "capsules", "capsules": "capsules", "blotter": "blotters", "blotters": "blotters",
    "pc": "pieces", "pcs": "pieces", "piece": "pieces", "pieces": "pieces",
    "vial": "vials", "vials": "vials", "drum": "drums", "drums": "drums",
}  # fmt: skip
_UNIT_ALTERNATION = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?"

QUANTITY = re.compile(rf"(?<![\w.,$€£])(?P<n>{_NUMBER})[ ]?(?P<u>{_UNIT_ALTERNATION})(?!\w)", re.I)

_CURRENCIES: dict[str, str] = {
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "btc": "BTC", "xmr": "XMR", "usdt": "USDT",
}  # fmt: skip
_PER_UNITS = _UNIT_ALTERNATION + "|unit|box|pack"
PRICE = re.compile(
    r"(?:(?P<c1>us\$|[$€£]|(?<!\w)(?:usd|eur|gbp|btc|xmr|usdt)(?!\w))[ ]?"
    rf"(?P<a1>{_NUMBER})(?:[ ]?-[ ]?(?P<r1>{_NUMBER}))?"
    rf"|(?<![\w.,])(?P<a2>{_NUMBER})(?:[ ]?-[ ]?(?P<r2>{_NUMBER}))?[ ]?"
    r"(?P<c2>[$€£]|(?:usd|eur|euros?|gbp|dollars?|btc|xmr|usdt)(?!\w)))"
    rf"(?:[ ]?(?:/|per|a|each)[ ]?(?:1[ ]?)?(?P<per>{_PER_UNITS})(?!\w))?",
    re.I,
)

PURITY = re.compile(
    r"(?<!\w)(?:purity|assay|pure)[ ]?(?:[:=]|of|is)?[ ]?(?:[≥>][ ]?)?"
    r"(?P<p1>\d{2,3}(?:[.,]\d+)?)[ ]?%"
    r"|(?<![\w.,])(?P<p2>\d{2,3}(?:[.,]\d+)?)[ ]?%[ ]?(?:pure|purity|min(?:imum)?|hplc|assay)(?!\w)"
    r"|(?<!\w)(?P<lab>coa|certificate of analysis|hplc|(?:1?h-?)?nmr|gc-?ms|lc-?ms)(?!\w)",
    re.I,
)

_CHANNELS: dict[str, str] = {
    "wickr": "wickr", "wickrme": "wickr", "telegram": "telegram", "whatsapp": "whatsapp",
    "signal": "signal", "threema": "threema", "session": "session", "wechat": "wechat",
    "skype": "skype", "kik": "kik", "snapchat": "snapchat", "icq": "icq", "viber": "viber",
    "jabber": "jabber", "xmpp": "jabber",
}  # fmt: skip
_HANDLE = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{2,39}"
_PHONE = r"\+?\d[\d \-().]{6,18}\d"
CONTACT = re.compile(
    r"(?<!\w)(?P<ch>wickr(?:[ ]?me)?|telegram|whats[ ]?app|signal|threema|session|wechat|skype"
    r"|kik|snapchat|icq|viber|jabber|xmpp)(?:[ ]?(?:id|username|user|handle|number|no\.?))?[ ]?"
    rf"(?:[:=\-][ ]?(?:{_PHONE}|@?{_HANDLE})|@{_HANDLE}|{_PHONE})"
    r"|(?<![\w.])(?:https?://)?(?P<link>t\.me|telegram\.me|wa\.me)/[A-Za-z0-9_]{3,}"
    r"|(?<![\w.+\-])(?P<email>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})",
    re.I,
)
_LINK_CHANNELS = {"t.me": "telegram", "telegram.me": "telegram", "wa.me": "whatsapp"}

# "does not list controlled precursors for sale", "we don't ship worldwide".
_NEGATED = re.compile(
    r"(?:(?<!\w)(?:not|no|never|nor)|n't)(?!\w)(?:[ \t]+[\w'-]+){0,4}[ \t]*$", re.I
)
_NEGATION_REACH = 48
_NEGATABLE = frozenset({"sale", "shipping"})
_CLAUSE_END = re.compile(r"[.!?;:\n]")


def _number(text: str) -> str:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        return text.replace(",", "")
    return text.replace(",", ".")


def find_quantities(text: str) -> list[IndicatorHit]:
    """Return quantities such as "5g", "1 kg", "10 pills", normalised to "5 g"."""
    return [
        IndicatorHit("quantity", m.start(), m.end(), f"{_number(m['n'])} {_UNITS[m['u'].lower()]}")
        for m in QUANTITY.finditer(text)
    ]


def find_prices(text: str) -> list[IndicatorHit]:
    """Return prices such as "$120", "€80/g", "USD 1,200", normalised to "USD 120"."""
    hits: list[IndicatorHit] = []
    for m in PRICE.finditer(text):
        currency = _CURRENCIES[(m["c1"] or m["c2"]).lower()]
        amount = _number(m["a1"] or m["a2"])
        upper = m["r1"] or m["r2"]
        value = f"{currency} {amount}" + (f"-{_number(upper)}" if upper else "")
        if m["per"]:
            value += f"/{_UNITS.get(m['per'].lower(), m['per'].lower()).rstrip('s')}"
        hits.append(IndicatorHit("price", m.start(), m.end(), value))
    return hits


def find_purity(text: str) -> list[IndicatorHit]:
    """Return purity claims ("99.5%", "coa", "hplc")."""
    hits: list[IndicatorHit] = []
    for m in PURITY.finditer(text):
        percent = m["p1"] or m["p2"]
        if percent:
            value = f"{_number(percent)}%"
        else:
            lab = m["lab"].lower()
            value = "coa" if lab.startswith("certificate") else lab.replace("-", "")
            value = "nmr" if value.endswith("nmr") else value
        hits.append(IndicatorHit("purity", m.start(), m.end(), value))
    return hits


def find_contacts(text: str) -> list[IndicatorHit]:
    """Return contact channels with a handle, number, link or e-mail; value is the channel."""
    hits: list[IndicatorHit] = []
    for m in CONTACT.finditer(text):
        if m["email"]:
            channel = "email"
        elif m["link"]:
            channel = _LINK_CHANNELS[m["link"].lower()]
        else:
            channel = _CHANNELS[m["ch"].lower().replace(" ", "")]
        hits.append(IndicatorHit("contact", m.start(), m.end(), channel))
    return hits


def _negated(text: str, start: int) -> bool:
    window = text[max(0, start - _NEGATION_REACH) : start]
    ends = list(_CLAUSE_END.finditer(window))
    if ends:
        window = window[ends[-1].end() :]
    return _NEGATED.search(window) is not None


def find_indicators(text: str, keywords: KeywordMatcher) -> list[IndicatorHit]:
    """Return every indicator in the normalised text, ordered by position."""
    hits = find_prices(text)  # in order, without overlaps
    starts = [h.start for h in hits]
    ends = [h.end for h in hits]
    for quantity in find_quantities(text):
        # "€80/g" is a price, not also a quantity of 80 g.
        i = bisect_right(starts, quantity.start)
        if (i and ends[i - 1] > quantity.start) or (i < len(starts) and starts[i] < quantity.end):
            continue
        hits.append(quantity)
    hits.extend(find_purity(text))
    hits.extend(find_contacts(text))
    hits.extend(
        IndicatorHit(k.kind, k.start, k.end, k.value)
        for k in keywords.find(text)
        if k.kind not in _NEGATABLE or not _negated(text, k.start)
    )
    hits.sort(key=lambda h: (h.start, h.end))
    return hits
