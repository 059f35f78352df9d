"""Resolve overlapping lexicon, CAS and analogue matches into mentions of the original text."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from spacy.tokens import Doc

from nlp.analysis import Mention
from nlp.lexicon import TERM_CONFIDENCE, Concept, Lexicon, term_key
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
# character before a match is checked by `cas_numbers`.
_CAS_SCAN = re.compile(r"\d{2,7}-\d{2}-\d(?![\d-])")


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
    normalised: Normalised | None = doc._.sw_normalised
    if normalised is None:
        # Doc.text is rebuilt from the tokens on every access: cache the identity once.
        text = doc.text
        normalised = Normalised(original=text, text=text, edits=(), maps=())
        doc._.sw_normalised = normalised
    return normalised


_Candidate = tuple[int, int, float, str, Concept]


def _ambiguous_key(candidate: _Candidate, text: str) -> str | None:
    """Return the term key of an ambiguous street-name match ("blues"), else None."""
    start, end, _, via, concept = candidate
    if via != "street_name" or not concept.ambiguous:
        return None
    key = term_key(text[start:end])
    return key if key in {term_key(t) for t in concept.ambiguous} else None


def _corroborated(chosen: list[_Candidate], text: str) -> list[_Candidate]:
    """Drop ambiguous street names ("crack", "blues") that nothing else in the text backs.

    Backing is another substance named otherwise, a different ambiguous street name ("M30s"
    beside "blues"), or the word "pressed".
    """
    keys = [_ambiguous_key(c, text) for c in chosen]
    if not any(keys):
        return chosen
    if any(k is None for k in keys) or _PRESSED.search(text):
        return chosen
    if len(set(keys)) > 1:
        return chosen
    return []


def resolve_mentions(doc: Doc, lexicon: Lexicon) -> list[MentionHit]:
    """Pick the longest, then surest, non-overlapping matches and map them to the original."""
    text = normalised_of(doc).text  # Doc.text is rebuilt on every access
    candidates: list[tuple[int, int, float, str, Concept]] = []
    for key in SPAN_KEYS:
        if key not in doc.spans:
            continue
        for span in doc.spans[key]:
            concept = lexicon.by_id.get(span.id_)
            if concept is None:
                continue
            start, end = span.start_char, span.end_char
            if span.label_ == "cas":
                # The span may have been widened to token boundaries ("CAS79099-07-3").
                match = CAS_PATTERN.search(text, start, end)
                if match is not None:
                    start, end = match.span()
            confidence = MATCH_CONFIDENCE.get(span.label_, 0.5)
            candidates.append((start, end, confidence, span.label_, concept))
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
    chosen = _corroborated(chosen, text)
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
