"""Drug-market evidence around an ambiguous street name ("speed", "ice", "M30", "molly").

A street name that is also an ordinary word counts only where the text around it reads like
a drug market: a dose ("220mg", "2 mg"), the name as a pill's ("xtc pills"), a pill count
("100 pills", "50x tabs", a pill emoji), a weight menu ("1-28g", "10-1000g"), one deal-sized
weight ("1g", "3.5 gram", up to an ounce), a price per gram no grocery charges (over
`MIN_PRICE_PER_GRAM`), a stamp, batch, grade, quality or purity claim ("A++", "uncut", "98%
pure", "top shelf", "B grade", "high quality"). A cereal at 500 g for £2.50,
an ice machine making 50 kg a day, a car with top speed 250 km/h carry none of these.
Evidence is looked for within `REACH` characters of the name: a page of listings is judged
listing by listing, not as a whole.
"""

from __future__ import annotations

import re

from nlp.indicators import IndicatorHit, prices_and_quantities

REACH = 240
# Street prices of drugs start near one unit of currency a gram; food, ice and fuel cost a
# few hundredths of that.
MIN_PRICE_PER_GRAM = 1.0
_GRAMS = {"kg": 1000.0, "g": 1.0, "mg": 0.001, "oz": 28.35, "lb": 453.6}

# The evidence a pill name ("Maserati", "Hulk", "DOC") needs: what a car or a watch lacks.
PILL_EVIDENCE = frozenset({"dose", "pills"})

_DOSE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?[ ]?(?:mg|mcg|ug|µg|μg)(?!\w)", re.I)
_PILLS = re.compile(
    r"(?<![\w.])\d+[ ]?(?:x[ ]?)?(?:pills?|pls|tabs?|tablets?|caps|capsules|blotters?|bars"
    r"|presses|count|ct)(?!\w)|\N{PILL}",
    re.I,
)
# The name as a pill's: "xtc pill mix", "speed tabs", "molly capsules".
_PILL_AFTER = re.compile(r"[ ]?-?[ ]?(?:pills?|tabs?|tablets?|capsules?|caps)(?!\w)", re.I)
_WEIGHT_MENU = re.compile(
    r"(?<![\w.])(?:0?[.,]\d|\d{1,3})[ ]?-[ ]?\d{1,4}[ ]?(?:g|gr|grams?|gramm)(?!\w)", re.I
)
# One deal-sized weight: a gram, an eighth (3.5 g), up to an ounce. Not "per 100 g" (food
# labels) and nothing a cereal box or a bag of ice weighs.
_DEAL_WEIGHT = re.compile(
    r"(?<![\w.,/])(?<!per )(?<!per)(\d{1,2}(?:[.,]\d{1,2})?)[ ]?(?:g|gr|grams?|gramm)(?![\w/])",
    re.I,
)
MAX_DEAL_GRAMS = 28.0
_GRADE = re.compile(
    r"(?<!\w)(?:a\+{1,3}|aaa\+?|uncut|#[ ]?[1-4]|no\.[ ]?[1-4]|stamps?|stamped|pressed|presses"
    r"|lab[- ]?tested"
    r"|reagent[- ]tested|batch[ ]?(?:#|no\.?|number)[ ]?\w*\d\w*|new batch|high purity|purity"
    r"|top[- ]shelf|[abc][- ]grade|hq|pure|(?:high|highest|premium|top|best|super)[ ]quality"
    r"|\d{2,3}(?:[.,]\d+)?[ ]?%[ ]?(?:pure|purity)|pure[ ]?\d{2,3}[ ]?%)(?!\w)",
    re.I,
)


def _price_per_gram(hits: list[IndicatorHit]) -> bool:
    """Return whether a price and a weight in the same window give a drug-like price a gram."""
    amounts: list[float] = []
    grams: list[float] = []
    for hit in hits:
        if hit.kind == "price":
            amount, _, per = hit.value.partition(" ")[2].partition("/")
            value = float(amount.split("-")[0])
            if per in _GRAMS:
                if value / _GRAMS[per] >= MIN_PRICE_PER_GRAM:
                    return True
                continue
            amounts.append(value)
        elif hit.kind == "quantity":
            number, _, unit = hit.value.partition(" ")
            if unit in _GRAMS:
                grams.append(float(number) * _GRAMS[unit])
    if not amounts or not grams:
        return False
    # Price tables pair the smallest weight with the smallest price.
    return min(amounts) / max(min(grams), 1e-9) >= MIN_PRICE_PER_GRAM


def market_evidence(text: str, start: int, end: int) -> str | None:
    """Return the drug-market evidence near text[start:end] ("dose", "pills", ...) or None.

    The name itself is no evidence, here or repeated: "soap bars, 5 bars for $20" counts the
    word, not pills.
    """
    if _PILL_AFTER.match(text, end):
        return "pills"
    lo, hi = max(0, start - REACH), min(len(text), end + REACH)
    itself = re.compile(rf"(?<!\w){re.escape(text[start:end])}(?!\w)", re.I)
    window = itself.sub(lambda m: " " * len(m.group()), text[lo:hi])
    for name, pattern in (
        ("dose", _DOSE),
        ("pills", _PILLS),
        ("weight menu", _WEIGHT_MENU),
        ("grade", _GRADE),
    ):
        if pattern.search(window):
            return name
    if _price_per_gram(prices_and_quantities(window.lower())):
        return "price per gram"
    if any(
        0 < float(m.group(1).replace(",", ".")) <= MAX_DEAL_GRAMS
        for m in _DEAL_WEIGHT.finditer(window)
    ):
        return "deal weight"
    return None
