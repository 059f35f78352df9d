"""Resolve overlapping lexicon, CAS and analogue matches into mentions of the original text."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from spacy.tokens import Doc

from nlp.analysis import Mention
from nlp.lexicon import TERM_CONFIDENCE, Concept, Lexicon
from nlp.normalise import Normalised

LEXICON_SPANS = "sw_lexicon"
CAS_SPANS = "sw_cas"
ANALOGUE_SPANS = "sw_analogues"
SPAN_KEYS: tuple[str, ...] = (LEXICON_SPANS, CAS_SPANS, ANALOGUE_SPANS)

# A CAS number with a valid check digit identifies a substance as surely as its name; an
# analogue suffix ("...fentanyl") says which family it belongs to, not which member.
MATCH_CONFIDENCE: dict[str, float] = {**TERM_CONFIDENCE, "cas": 1.0, "analogue": 0.8}

CAS_PATTERN = re.compile(r"(?<![\d-])\d{2,7}-\d{2}-\d(?![\d-])")


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
    chosen: list[tuple[int, int, float, str, Concept]] = []  # sorted by start, disjoint
    starts: list[int] = []
    for candidate in candidates:
        start, end = candidate[0], candidate[1]
        i = bisect_left(starts, start)
        if (i > 0 and chosen[i - 1][1] > start) or (i < len(chosen) and chosen[i][0] < end):
            continue
        starts.insert(i, start)
        chosen.insert(i, candidate)
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
        )
        obfuscation = normalised.edit_kinds(orig_start, orig_end)
        hits.append(MentionHit(mention, start, end, via, obfuscation))
    return hits
