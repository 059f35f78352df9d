"""Resolve overlapping lexicon, CAS and analogue matches into mentions of the original text."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import NamedTuple

from spacy.tokens import Doc

from nlp.analysis import Mention
from nlp.extensions import get, put
from nlp.lexicon import TERM_CONFIDENCE, Concept, Lexicon, term_key
from nlp.market import PILL_EVIDENCE, market_evidence
from nlp.normalise import Normalised

LEXICON_SPANS = "sw_lexicon"
CAS_SPANS = "sw_cas"
ANALOGUE_SPANS = "sw_analogues"
FUZZY_SPANS = "sw_fuzzy"
SPAN_KEYS: tuple[str, ...] = (LEXICON_SPANS, CAS_SPANS, ANALOGUE_SPANS, FUZZY_SPANS)

# A CAS number with a valid check digit identifies a substance as surely as its name; an
# analogue suffix ("...fentanyl") says which family it belongs to, not which member; a
# one-edit misspelling of a long name is nearly as sure as a listed misspelling.
MATCH_CONFIDENCE: dict[str, float] = {
    **TERM_CONFIDENCE,
    "cas": 1.0,
    "analogue": 0.8,
    "fuzzy": 0.85,
}
# Mention.method of each way of matching.
METHOD: dict[str, str] = {"cas": "cas", "analogue": "pattern", "fuzzy": "fuzzy"}

CAS_PATTERN = re.compile(r"(?<![\d-])\d{2,7}-\d{2}-\d(?![\d-])")
# The same without the leading look-behind, which makes the engine try every position: the
# character before a match is checked by `cas_numbers`. "\d\d{1,6}", not "\d{2,7}": a pattern
# that starts on a class, not a repeat, lets the engine skip straight to the digits.
_CAS_SCAN = re.compile(r"\d\d{1,6}-\d{2}-\d(?![\d-])")


def cas_numbers(text: str) -> list[tuple[int, int]]:
    """Return the spans of CAS-shaped numbers ("79099-07-3") in text, check digit unchecked."""
    if "-" not in text:
        return []
    spans = []
    for match in _CAS_SCAN.finditer(text):
        start = match.start()
        if start and (text[start - 1].isdigit() or text[start - 1] == "-"):
            continue
        spans.append(match.span())
    return spans


_PRESSED = re.compile(r"\bpress(?:ed)?\b", re.I)
# Abbreviations another trade uses too: "NPP" beside steroids is nandrolone phenylpropionate.
_OTHER_MEANING: dict[str, re.Pattern[str]] = {
    "npp": re.compile(r"nandrolone|steroid|anabolic|testosterone|trenbolone|phenylpropionate", re.I)
}
# "non-morphine", "non-opioid": a word made of the name, saying the thing is not it.
_NON_PREFIX = re.compile(r"(?<![\w-])non[ -]?$", re.I)


class Match(NamedTuple):
    """A lexicon, CAS, analogue or fuzzy match as a span of the normalised text."""

    start: int
    end: int
    label: str  # term kind, "cas", "analogue" or "fuzzy"
    concept_id: str


def matches_of(doc: Doc, key: str) -> list[Match]:
    """Return the matches of one of SPAN_KEYS, lexicon spans mapped from the Doc's windows."""
    found: dict[str, list[Match]] | None = get(doc, "sw_matches")
    if found is None:
        found = {}
        put(doc, "sw_matches", found)
    if key in found:
        return found[key]
    matches: list[Match] = []
    if key == LEXICON_SPANS and key in doc.spans:
        windows = get(doc, "sw_windows")
        for span in doc.spans[key]:
            start, end = span.start_char, span.end_char
            if windows is not None:
                start, end = windows.to_text(start, end)
            matches.append(Match(start, end, span.label_, span.id_))
    found[key] = matches
    return matches


def set_matches(doc: Doc, key: str, matches: list[Match]) -> None:
    """Keep the matches of one of SPAN_KEYS (cas, analogues and fuzzy set theirs)."""
    found: dict[str, list[Match]] | None = get(doc, "sw_matches")
    if found is None:
        found = {}
        put(doc, "sw_matches", found)
    found[key] = matches


@dataclass(frozen=True, slots=True)
class MentionHit:
    """A mention plus what the later components need: where it sits in the normalised text."""

    mention: Mention
    norm_start: int
    norm_end: int
    via: str  # term kind, "cas" or "analogue"
    obfuscation: tuple[str, ...]  # kinds of obfuscation undone inside the mention


def normalised_of(doc: Doc) -> Normalised:
    """Return the Doc's normalisation, or an identity one if it was made by a plain tokenizer."""
    normalised: Normalised | None = get(doc, "sw_normalised")
    if normalised is None:
        # Doc.text is rebuilt from the tokens on every access: cache the identity once.
        text = doc.text
        normalised = Normalised(original=text, text=text, edits=(), maps=())
        put(doc, "sw_normalised", normalised)
    return normalised


_Candidate = tuple[int, int, float, str, Concept]


def _ambiguous_key(candidate: _Candidate, text: str) -> str | None:
    """Return the term key of an ambiguous street-name match ("blues"), else None."""
    start, end, _, via, concept = candidate
    if via != "street_name" or not concept.ambiguous:
        return None
    key = term_key(text[start:end])
    return key if key in {term_key(t) for t in concept.ambiguous} else None


# Classes whose ambiguous street names mean something else beside another class: "Pumpkin
# Spice" on a cannabis menu is a strain, not a synthetic cannabinoid.
_NOT_BESIDE: dict[str, str] = {"synthetic_cannabinoid": "cannabis"}


# Street names that are also the form a drug comes in ("ketamine crystal", "MDMA shards"):
# beside another drug on the same line they say its form, not methamphetamine or cocaine.
_FORM_WORDS = frozenset({"crystal", "crystals", "shards", "ice", "flake", "rocks", "glassshards"})
_FORM_REACH = 60


def _other_meaning(candidate: _Candidate, text: str) -> bool:
    """Return whether an abbreviation means something else here ("NPP" beside steroids)."""
    pattern = _OTHER_MEANING.get(term_key(text[candidate[0] : candidate[1]]))
    return pattern is not None and pattern.search(text) is not None


def _describes_neighbour(
    chosen: list[_Candidate], keys: list[str | None], index: int, text: str
) -> bool:
    """Return whether the ambiguous name at `index` describes a surely named concept beside it."""
    start, end, concept = chosen[index][0], chosen[index][1], chosen[index][4]
    form = term_key(text[start:end]) in _FORM_WORDS
    for other in range(len(chosen)):
        if other == index or chosen[other][4] is concept or keys[other] is not None:
            continue
        gap = text[chosen[other][1] : start] if other < index else text[end : chosen[other][0]]
        if len(gap) <= 2 and not gap.strip(" -"):
            return True
        if form and len(gap) <= _FORM_REACH and "\n" not in gap:
            return True
    return False


_HYPHEN_WORD_AFTER = re.compile(r"-[A-Za-z]")
_HYPHEN_WORD_BEFORE = re.compile(r"[A-Za-z]-$")


def _in_compound(candidate: _Candidate, text: str, spans: set[tuple[int, int]]) -> bool:
    """Return whether a street name is half of a hyphenated word ("blow-dry", "ice-cream").

    A compound of two names ("crystal-meth") is not one: its other half is a candidate too.
    """
    start, end = candidate[0], candidate[1]
    if _HYPHEN_WORD_AFTER.match(text, end):
        other = re.match(r"[A-Za-z]+", text[end + 1 :])
        return other is not None and (end + 1, end + 1 + other.end()) not in spans
    if _HYPHEN_WORD_BEFORE.search(text, max(0, start - 2), start):
        word = re.search(r"[A-Za-z]+-$", text[max(0, start - 40) : start])
        return word is not None and (start - len(word.group()), start - 1) not in spans
    return False


# A misspelt name standing first in a proper name ("Fentonyl Road Bakery", "Nitazine Paints",
# "Xanaz Studio"): a business playing on the word, unless the text is a drug market.
_NAME_AFTER = re.compile(r"[ \t]+([A-Z][a-z]+)(?![\w-])")
# Capitalised words a product title puts after a substance name: "Fentanly Powder 99%".
_PRODUCT_WORDS = frozenset(
    {
        "powder", "crystal", "crystals", "pills", "pill", "tablets", "tabs", "capsules", "base",
        "salt", "hcl", "citrate", "sulfate", "tartrate", "for", "buy", "online", "sale", "best",
        "price", "pure", "high", "quality", "shipping", "bars", "blotters", "liquid", "spray",
        "nasal", "patches", "patch", "injection", "solution", "from", "in", "with", "and", "or",
        "of", "to", "now", "without", "no", "prescription", "order", "cheap", "original",
    }
)  # fmt: skip


def _brand_name(candidate: _Candidate, text: str, starts: set[int]) -> bool:
    """Return whether a misspelt name starts a proper name and nothing near it is a market.

    `starts` are where the other matches start: a name followed by a substance name
    ("Fentanly Citrate") is a product title.
    """
    start, end, _, via, _ = candidate
    if via not in ("fuzzy", "misspelling") or not text[start].isupper():
        return False
    following = _NAME_AFTER.match(text, end)
    if following is None or following.start(1) in starts:
        return False
    if following.group(1).lower() in _PRODUCT_WORDS:
        return False
    return market_evidence(text, start, end) is None


def _corroborated(chosen: list[_Candidate], text: str) -> list[_Candidate]:
    """Drop ambiguous street names ("crack", "blues", "speed") that nothing backs.

    Backing is another substance named otherwise, a different street name of the same
    concept ("M30s" beside "blues", "crystal" beside "ice"), the word "pressed", or
    drug-market evidence near the name (`nlp.market`: a dose, pill count, weight menu,
    price per gram, grade or batch). A pill name ("Maserati", "DOC") needs a different
    street name of its concept or a dose or pill count near it.
    """
    keys = [_ambiguous_key(c, text) for c in chosen]
    if not any(keys):
        return chosen
    spans = {(c[0], c[1]) for c in chosen}
    classes = {c[4].substance_class for c in chosen}
    kept: list[_Candidate] = []
    unambiguous = any(k is None for k in keys)
    pressed = _PRESSED.search(text) is not None
    for index, (candidate, key) in enumerate(zip(chosen, keys, strict=True)):
        concept = candidate[4]
        if key is None:
            kept.append(candidate)
        elif _NOT_BESIDE.get(concept.substance_class) in classes:
            continue
        elif _in_compound(candidate, text, spans):
            continue  # "blow-dry", "ice-cream": a word of its own
        elif _describes_neighbour(chosen, keys, index, text):
            continue  # "N-Ethylpentylone crystal", "ketamine shards": a form, not meth
        elif any(k and k != key and c[4] is concept for c, k in zip(chosen, keys, strict=True)):
            kept.append(candidate)  # "Ecstasy" beside "Maserati", "blues" beside "M30s"
        elif key in {term_key(t) for t in concept.pill_names}:
            if market_evidence(text, candidate[0], candidate[1]) in PILL_EVIDENCE:
                kept.append(candidate)
        elif (
            unambiguous or pressed or market_evidence(text, candidate[0], candidate[1]) is not None
        ):
            kept.append(candidate)
    return kept


def resolve_mentions(doc: Doc, lexicon: Lexicon) -> list[MentionHit]:
    """Pick the longest, then surest, non-overlapping matches and map them to the original."""
    text = normalised_of(doc).text  # Doc.text is rebuilt on every access
    candidates: list[tuple[int, int, float, str, Concept]] = []
    for key in SPAN_KEYS:
        for start, end, label, concept_id in matches_of(doc, key):
            concept = lexicon.by_id.get(concept_id)
            if concept is None:
                continue
            if label == "cas":
                # The span may have been widened to token boundaries ("CAS79099-07-3").
                match = CAS_PATTERN.search(text, start, end)
                if match is not None:
                    start, end = match.span()
            confidence = MATCH_CONFIDENCE.get(label, 0.5)
            candidates.append((start, end, confidence, label, concept))
    candidates.sort(key=lambda c: (c[0] - c[1], -c[2], c[0]))
    chosen: list[_Candidate] = []  # sorted by start, disjoint
    starts: list[int] = []
    for candidate in candidates:
        start, end = candidate[0], candidate[1]
        i = bisect_left(starts, start)
        if (i > 0 and chosen[i - 1][1] > start) or (i < len(chosen) and chosen[i][0] < end):
            continue
        starts.insert(i, start)
        chosen.insert(i, candidate)
    chosen = [c for c in chosen if not _brand_name(c, text, set(starts))]
    chosen = [
        c
        for c in _corroborated(chosen, text)
        if not _NON_PREFIX.search(text, max(0, c[0] - 4), c[0]) and not _other_meaning(c, text)
    ]
    normalised = normalised_of(doc)
    hits: list[MentionHit] = []
    for start, end, confidence, via, concept in chosen:
        orig_start, orig_end = normalised.to_original(start, end)
        mention = Mention(
            start=orig_start,
            end=orig_end,
            text=normalised.original[orig_start:orig_end],
            concept_id=concept.id,
            name=concept.name,
            substance_class=concept.substance_class,
            control=concept.control,
            confidence=confidence,
            method=METHOD.get(via, "lexicon"),
        )
        obfuscation = normalised.edit_kinds(orig_start, orig_end)
        hits.append(MentionHit(mention, start, end, via, obfuscation))
    return hits
