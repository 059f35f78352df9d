"""Extract trafficking indicators (quantity, price, purity, contact, keywords) from text.

Runs on the normalised text; offsets are mapped back by the component. The regexes are
compiled once and kept free of nested quantifiers: they are the largest extraction cost.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from nlp.cues import KindFilter, grouped_alternation, lowercase
from nlp.identifiers import CHANNEL_WORDS, CHANNELS, HANDLE, ID_WORDS, PHONE
from nlp.wallets import find_wallets


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

QUANTITY = re.compile(rf"(?<![\w.,$€£])(?P<n>{_NUMBER})[ ]?(?P<u>{_UNIT_ALTERNATION})(?!\w)")

# Currency words and symbols -> ISO 4217 code (coins by ticker). Codes that are also words
# ("try", "ron", "rub", "lei") are read only after an amount ("100 RON", "50 kr").
_CURRENCIES: dict[str, str] = {
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "btc": "BTC", "xmr": "XMR", "usdt": "USDT",
    "cad": "CAD", "c$": "CAD", "aud": "AUD", "a$": "AUD", "au$": "AUD", "nzd": "NZD",
    "chf": "CHF", "pln": "PLN", "zł": "PLN", "zl": "PLN", "czk": "CZK", "kč": "CZK",
    "sek": "SEK", "nok": "NOK", "dkk": "DKK", "huf": "HUF", "ron": "RON", "lei": "RON",
    "rub": "RUB", "₽": "RUB", "uah": "UAH", "₴": "UAH", "try": "TRY", "₺": "TRY",
    "inr": "INR", "₹": "INR", "jpy": "JPY", "¥": "JPY", "cny": "CNY", "rmb": "CNY",
    "hkd": "HKD", "sgd": "SGD", "mxn": "MXN", "brl": "BRL", "r$": "BRL", "zar": "ZAR",
    "eth": "ETH", "ltc": "LTC", "usdc": "USDC",
}  # fmt: skip
_AFTER_AMOUNT_ONLY = frozenset({"try", "ron", "rub", "lei", "zl", "eth"})


def _alternation(words: Iterable[str]) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_SYMBOLS = [c for c in _CURRENCIES if not c.isalpha()]
_CODES_BEFORE = [c for c in _CURRENCIES if c.isalpha() and c not in _AFTER_AMOUNT_ONLY]
_CODES_AFTER = [c for c in _CURRENCIES if c.isalpha()]
_PER_UNITS = _UNIT_ALTERNATION + "|unit|box|pack"
PRICE = re.compile(
    rf"(?:(?P<c1>{_alternation(_SYMBOLS)}|(?<!\w)(?:{_alternation(_CODES_BEFORE)})(?!\w))[ ]?"
    rf"(?P<a1>{_NUMBER})(?:[ ]?-[ ]?(?P<r1>{_NUMBER}))?"
    rf"|(?<![\w.,])(?P<a2>{_NUMBER})(?:[ ]?-[ ]?(?P<r2>{_NUMBER}))?[ ]?"
    rf"(?P<c2>{_alternation(_SYMBOLS)}|(?:{_alternation(_CODES_AFTER)})(?!\w)))"
    rf"(?:[ ]?(?:/|per|a|each)[ ]?(?:1[ ]?)?(?P<per>{_PER_UNITS})(?!\w))?",
)

# "purity 99.5%", "99% pure", "produced to 99%+ purity", and "99%+" on its own.
PURITY = re.compile(
    r"(?<!\w)(?:purity|assay|pure)[ ]?(?:[:=]|of|is)?[ ]?(?:[≥>][ ]?)?"
    r"(?P<p1>\d{2,3}(?:[.,]\d+)?)[ ]?%\+?"
    r"|(?<![\w.,])(?P<p2>\d{2,3}(?:[.,]\d+)?)[ ]?%[ ]?(?:\+[ ]?)?"
    r"(?:pure|purity|min(?:imum)?|hplc|assay)(?!\w)"
    r"|(?<![\w.,])(?P<p3>\d{2,3}(?:[.,]\d+)?)[ ]?%[ ]?\+"
)
# Alternatives sharing a first letter are grouped: one test per letter at each word start.
LAB_ANALYSIS = re.compile(
    r"(?<!\w)(?P<lab>c(?:oa|ertificate of analysis)|hplc|1?h-?nmr|nmr|gc-?ms|lc-?ms)(?!\w)"
)

# Words that follow "at" or an id word without being a handle ("on Signal at any time").
_NOT_HANDLES = frozenset(
    {
        "any", "all", "the", "our", "your", "my", "a", "an", "this", "that", "night", "day",
        "once", "times", "request", "hand", "home", "work", "same", "below", "above",
    }
)  # fmt: skip
# Matched on lowercased text without IGNORECASE, behind \b: several times faster (see cues.py).
# A handle follows a separator ("Wickr: x", "telegram @x"), an id word ("Threema ID X7Y8"),
# or "at" ("contact us on wickr at chemking").
CHANNEL_CONTACT = re.compile(
    rf"\b(?P<ch>{CHANNEL_WORDS})(?:[ ]?(?:{ID_WORDS}))?[ ]?"
    rf"(?:[:=\-][ ]?(?:{PHONE}|@?{HANDLE})|@{HANDLE}|{PHONE})"
    rf"|\b(?P<ch2>{CHANNEL_WORDS})[ ](?:(?:{ID_WORDS})[ ](?:is[ ])?|at[ ])(?P<h2>{HANDLE})"
)
# A channel named without a handle: "message us on Signal", "contact me on whatsapp",
# "available on telegram", "order via wickr".
CHANNEL_NAMED = re.compile(
    r"\b(?:message|contact|text|reach|hit|add|find|dm|pm|inbox|ping|write|chat|talk|order"
    r"|available|active|buy|orders?)(?:[ ](?:me|us|up|with|to)){0,2}"
    rf"[ ](?:on|via|at|through|over|using|by)[ ](?P<ch>{CHANNEL_WORDS})\b"
)
LINK_CONTACT = re.compile(
    r"(?<![\w.])(?:https?://)?(?P<link>t\.me|telegram\.me|wa\.me)/[a-z0-9_]{3,}"
)
SESSION_ID = re.compile(r"05[0-9a-f]{64}")
EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._%+-")
_LINK_CHANNELS = {"t.me": "telegram", "telegram.me": "telegram", "wa.me": "whatsapp"}

# International numbers only ("+44 7700 900123"): without a country code a digit run is as
# likely an order number. The regex finds candidates; phonenumbers decides.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])\+\d[\d \-().]{6,18}\d(?!\w)")
_PHONE_CUE = re.compile(
    r"(?:tel|phone|call|text|sms|mobile|cell|whatsapp|signal|viber|contact|hotline|number)\W*$",
    re.I,
)
_PHONE_CUE_REACH = 24

# "does not list controlled precursors for sale", "we don't ship worldwide".
_NEGATED = re.compile(
    r"(?:(?<!\w)(?:not|no|never|nor)|n't)(?!\w)(?:[ \t]+[\w'-]+){0,4}[ \t]*$", re.I
)
_NEGATION_REACH = 48
_NEGATABLE = frozenset({"sale", "shipping", "bulk", "payment"})
_CLAUSE_END = re.compile(r"[.!?;:\n]")


# A full finditer pass of PRICE, QUANTITY or PURITY over 2 KB costs 30-100 µs. Where one starts
# on a number it starts on the first digit of a run (after a digit its lookbehind fails), else on
# a cue word; matching only there gives the same hits. LAB_ANALYSIS and CHANNEL_CONTACT only run
# when the text holds a substring every match of theirs contains.
# Written to start on a character class or with literals only ("\d\d*", not "\d+";
# "\$|€|£", not "[$€£]"): then the engine skips straight to where a match can start, twice as
# fast as trying every position.
_DIGIT_RUN = re.compile(r"\d(?<![\w.,]\d)\d*")  # a run at a word start (`_digit_starts`)
# Where a price that starts with its currency can start ("$5", "usd 5"); the others start on
# a digit run.
_PRICE_CUE = re.compile(
    grouped_alternation(
        sorted((re.escape(c) for c in [*_SYMBOLS, *_CODES_BEFORE]), key=len, reverse=True)
    )
)
_PURITY_CUE = re.compile(r"pur|assay")
_LAB_CUES = ("coa", "certificate of analysis", "hplc", "nmr", "gcms", "gc-ms", "lcms", "lc-ms")
_CHANNEL_CUES = (
    "wickr", "telegram", "whats", "signal", "threema", "session", "wechat", "skype", "kik",
    "snapchat", "icq", "viber", "jabber", "xmpp",
)  # fmt: skip


# What stands before the channel word in a CHANNEL_NAMED match.
_NAMED_BEFORE = ("on ", "via ", "at ", "through ", "over ", "using ", "by ")


def _occurrences(text: str, needles: tuple[str, ...]) -> list[int]:
    """Return the sorted start of every occurrence of every needle in text."""
    found: set[int] = set()
    for needle in needles:
        at = text.find(needle)
        while at != -1:
            found.add(at)
            at = text.find(needle, at + 1)
    return sorted(found)


def _digit_starts(text: str) -> list[int]:
    """Return where the digit runs that stand at a word start begin ("5g", " 120", "$5").

    A run after a letter, digit, dot or comma ("x7k2", "1.5") starts no quantity, no price
    amount and no purity: every such pattern looks behind for exactly that.
    """
    return [m.start() for m in _DIGIT_RUN.finditer(text)]


def _matches_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """Yield what `pattern.finditer(text)` would, trying only the sorted candidate `starts`."""
    end = 0
    for start in starts:
        if start < end:
            continue
        m = pattern.match(text, start)
        if m is not None:
            end = m.end()
            yield m


_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_NEGATION_WORD = re.compile(r"\b(?:not|no|never|nor)\b|n't", re.I)


def _number(text: str) -> str:
    if "," not in text:
        return text
    if _THOUSANDS.fullmatch(text):
        return text.replace(",", "")
    return text.replace(",", ".")


def _quantities(text: str, digits: list[int]) -> list[IndicatorHit]:
    return [
        IndicatorHit("quantity", m.start(), m.end(), f"{_number(m['n'])} {_UNITS[m['u'].lower()]}")
        for m in _matches_at(QUANTITY, text, digits)
    ]


def _prices(text: str, digits: list[int]) -> list[IndicatorHit]:
    cues = [m.start() for m in _PRICE_CUE.finditer(text)]
    if not digits and not cues:
        return []  # a price has an amount, after its currency or alone
    hits: list[IndicatorHit] = []
    for m in _matches_at(PRICE, text, sorted(digits + cues)):
        currency = _CURRENCIES[(m["c1"] or m["c2"]).lower()]
        amount = _number(m["a1"] or m["a2"])
        upper = m["r1"] or m["r2"]
        value = f"{currency} {amount}" + (f"-{_number(upper)}" if upper else "")
        if m["per"]:
            value += f"/{_UNITS.get(m['per'].lower(), m['per'].lower()).rstrip('s')}"
        hits.append(IndicatorHit("price", m.start(), m.end(), value))
    return hits


def _purity(text: str, digits: list[int]) -> list[IndicatorHit]:
    hits: list[IndicatorHit] = []
    if "%" in text:
        starts = sorted(digits + [m.start() for m in _PURITY_CUE.finditer(text)])
        for m in _matches_at(PURITY, text, starts):
            number = _number(m["p1"] or m["p2"] or m["p3"])
            hits.append(IndicatorHit("purity", m.start(), m.end(), f"{number}%"))
    if not any(cue in text for cue in _LAB_CUES):
        return hits
    # A match starts on a cue, or up to three characters before "nmr" ("1h-nmr").
    nmr = _occurrences(text, ("nmr",))
    lab_starts = {*_occurrences(text, _LAB_CUES), *(at - back for at in nmr for back in (1, 2, 3))}
    for m in _matches_at(LAB_ANALYSIS, text, sorted(at for at in lab_starts if at >= 0)):
        lab = m["lab"]
        value = "coa" if lab.startswith("certificate") else lab.replace("-", "")
        value = "nmr" if value.endswith("nmr") else value
        if not any(h.start < m.end() and m.start() < h.end for h in hits):
            hits.append(IndicatorHit("purity", m.start(), m.end(), value))
    hits.sort(key=lambda h: h.start)
    return hits


def find_contacts(text: str, lower: str | None = None) -> list[IndicatorHit]:
    """Return contact channels with a handle, number, link or e-mail; value is the channel."""
    lower = lowercase(text) if lower is None else lower
    hits: list[IndicatorHit] = []
    # Both regexes' matches hold a channel word, which starts with one of _CHANNEL_CUES: a
    # CHANNEL_CONTACT match starts on it, a CHANNEL_NAMED one has it after a preposition.
    channels = _occurrences(lower, _CHANNEL_CUES)
    if channels:
        for m in _matches_at(CHANNEL_CONTACT, lower, channels):
            if m["h2"] and m["h2"].rstrip(".-") in _NOT_HANDLES:
                continue
            channel = CHANNELS[(m["ch"] or m["ch2"]).replace(" ", "")]
            hits.append(IndicatorHit("contact", m.start(), m.end(), channel))
    if any(lower.endswith(_NAMED_BEFORE, 0, at) for at in channels):
        for m in CHANNEL_NAMED.finditer(lower):
            channel = CHANNELS[m["ch"].replace(" ", "")]
            hits.append(IndicatorHit("contact", m.start("ch"), m.end(), channel))
    if ".me/" in lower:
        hits.extend(
            IndicatorHit("contact", m.start(), m.end(), _LINK_CHANNELS[m["link"]])
            for m in LINK_CONTACT.finditer(lower)
        )
    for m in SESSION_ID.finditer(lower):
        start, end = m.span()
        if (start == 0 or not lower[start - 1].isalnum()) and (
            end == len(lower) or not lower[end].isalnum()
        ):
            hits.append(IndicatorHit("contact", start, end, "session"))
    at = lower.find("@")
    while at != -1:
        start = at
        while start > 0 and lower[start - 1] in _EMAIL_LOCAL:
            start -= 1
        while start < at and lower[start] in ".+-":
            start += 1
        email = EMAIL.match(lower, start) if start < at else None
        if email is not None:
            hits.append(IndicatorHit("contact", email.start(), email.end(), "email"))
            at = lower.find("@", email.end())
        else:
            at = lower.find("@", at + 1)
    # A handle inside a channel match is not a second contact.
    hits.sort(key=lambda h: (h.start, -h.end))
    kept: list[IndicatorHit] = []
    for hit in hits:
        if kept and hit.start < kept[-1].end and hit.end <= kept[-1].end:
            continue
        kept.append(hit)
    return kept


def find_wallets_hits(text: str) -> list[IndicatorHit]:
    """Return BTC, ETH and XMR addresses that pass their checksums; value "COIN:address"."""
    return [
        IndicatorHit("wallet", w.start, w.end, f"{w.coin}:{w.address}") for w in find_wallets(text)
    ]


def find_phones(text: str) -> list[IndicatorHit]:
    """Return international phone numbers, normalised to E.164 ("+447700900123").

    A number the numbering plan knows as valid counts anywhere; one that is merely possible
    (reserved ranges such as +44 7700 900xxx, new ranges) only after a word like "call".
    """
    if "+" not in text:
        return []
    hits: list[IndicatorHit] = []
    for m in _PHONE_CANDIDATE.finditer(text):
        e164, valid = _phone_number(m.group())
        if not e164:
            continue
        if not valid:
            before = text[max(0, m.start() - _PHONE_CUE_REACH) : m.start()]
            if not _PHONE_CUE.search(before):
                continue
        hits.append(IndicatorHit("phone", m.start(), m.end(), e164))
    return hits


@lru_cache(maxsize=4096)
def _phone_number(written: str) -> tuple[str, bool]:
    """Return (E.164 form or "" if not a possible number, whether it is a valid one)."""
    try:
        number = phonenumbers.parse(written, None)
    except phonenumbers.NumberParseException:
        return "", False
    if not phonenumbers.is_possible_number(number):
        return "", False
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.is_valid_number(number)


def _overlaps(hit: IndicatorHit, spans: list[tuple[int, int]]) -> bool:
    return any(s < hit.end and hit.start < e for s, e in spans)


def _negated(text: str, start: int) -> bool:
    window = text[max(0, start - _NEGATION_REACH) : start]
    if _NEGATION_WORD.search(window) is None:
        return False
    ends = list(_CLAUSE_END.finditer(window))
    if ends:
        window = window[ends[-1].end() :]
    return _NEGATED.search(window) is not None


def prices_and_quantities(lower: str, digits: list[int] | None = None) -> list[IndicatorHit]:
    """Return the prices ("USD 120/g") and quantities ("5 g") in lowercased text."""
    digits = _digit_starts(lower) if digits is None else digits
    hits = _prices(lower, digits)  # in order, without overlaps
    starts = [h.start for h in hits]
    ends = [h.end for h in hits]
    for quantity in _quantities(lower, digits):
        # "€80/g" is a price, not also a quantity of 80 g.
        i = bisect_right(starts, quantity.start)
        if (i and ends[i - 1] > quantity.start) or (i < len(starts) and starts[i] < quantity.end):
            continue
        hits.append(quantity)
    return hits


def find_indicators(text: str, keywords: KindFilter) -> list[IndicatorHit]:
    """Return every indicator in the normalised text, ordered by position."""
    lower = lowercase(text)  # same length: offsets hold for both
    digits = _digit_starts(lower)
    hits = prices_and_quantities(lower, digits)
    hits.extend(_purity(lower, digits))
    contacts = find_contacts(text, lower)
    wallets = find_wallets_hits(text)
    taken = [(h.start, h.end) for h in contacts + wallets]
    hits.extend(contacts)
    hits.extend(wallets)
    # "WhatsApp +44 ..." is already a contact; a phone number on its own is a phone.
    hits.extend(p for p in find_phones(text) if not _overlaps(p, taken))
    hits.extend(
        IndicatorHit(k.kind, k.start, k.end, k.value)
        for k in keywords.find(text, lower)
        if k.kind not in _NEGATABLE or not _negated(text, k.start)
    )
    hits.sort(key=lambda h: (h.start, h.end))
    return hits
