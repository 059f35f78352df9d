"""spaCy components of the SynthWatch pipeline, one per concern.

Each reads its data from `nlp/data` (or the path in its config) and writes Doc attributes
registered in `nlp.extensions`. Order: span_ruler (lexicon) -> cas -> analogues -> fuzzy ->
mentions -> indicators -> candidates -> context -> scoring. Factory names are
`synthwatch_<name>_v1`: spaCy forbids "." in factory names (error E853), so
"synthwatch.cas.v1" cannot be registered.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from spacy.language import Language
from spacy.tokens import Doc

from nlp.analysis import Indicator
from nlp.candidates import find_candidates
from nlp.context import find_context, line_starts, vendor_voice
from nlp.cues import load_cues, lowercase
from nlp.extensions import get, put, register_extensions
from nlp.fuzzy import FuzzyMatcher, load_guard
from nlp.identifiers import IDENTIFIER_KINDS, identifier_key
from nlp.indicators import find_indicators
from nlp.lexicon import cas_is_valid, load_lexicon
from nlp.literals import Literals
from nlp.mentions import (
    ANALOGUE_SPANS,
    CAS_SPANS,
    FUZZY_SPANS,
    LEXICON_SPANS,
    Match,
    cas_numbers,
    matches_of,
    normalised_of,
    resolve_mentions,
    set_matches,
)
from nlp.normalise import Normalised
from nlp.patterns import MIN_ANALOGUE_PREFIX, load_analogues
from nlp.routes import find_routes
from nlp.scoring import load_weights, score_analysis

DocComponent = Callable[[Doc], Doc]
Aligner = Callable[[Doc, int, int], tuple[int, int] | None]


def _aligner(nlp: Language, *, expand: bool) -> Aligner:
    """Return what `Doc.char_span` would give as a span of the normalised text.

    The NormalisingTokenizer knows tokens beyond the windows its Doc holds (`nlp.windows`).
    """
    tokenizer = nlp.tokenizer
    align = getattr(tokenizer, "align", None)
    if align is not None:
        return lambda doc, start, end: align(doc, start, end, expand=expand)
    mode = "expand" if expand else "strict"

    def char_span(doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        span = doc.char_span(start, end, alignment_mode=mode)
        return None if span is None else (span.start_char, span.end_char)

    return char_span


@Language.factory("synthwatch_cas_v1", default_config={"lexicon": ""})
def make_cas(nlp: Language, name: str, lexicon: str) -> DocComponent:
    """Resolve CAS numbers with a valid check digit to their lexicon concept."""
    register_extensions()
    by_cas = load_lexicon(lexicon or None).by_cas
    align = _aligner(nlp, expand=True)

    def cas(doc: Doc) -> Doc:
        spans: list[Match] = []
        unknown: list[tuple[int, int]] = []
        text = normalised_of(doc).text
        for start, end in cas_numbers(text):
            number = text[start:end]
            if not cas_is_valid(number):
                continue
            concept = by_cas.get(number)
            if concept is None:
                unknown.append((start, end))
                continue
            span = align(doc, start, end)
            if span is not None:
                spans.append(Match(*span, "cas", concept.id))
        set_matches(doc, CAS_SPANS, spans)
        put(doc, "sw_unknown_cas", unknown)
        return doc

    return cas


def _word_starts(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_-")


def _hyphenated_word(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "-"):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] == "-"):
        end += 1
    return start, end


@Language.factory("synthwatch_analogues_v1", default_config={"lexicon": "", "analogues": ""})
def make_analogues(nlp: Language, name: str, lexicon: str, analogues: str) -> DocComponent:
    """Mark words that end like a family of analogues ("...fentanyl") but are not listed."""
    register_extensions()
    known = load_lexicon(lexicon or None)
    by_suffix = {
        suffix: entry.concept_id
        for entry in load_analogues(analogues)
        if entry.concept_id in known
        for suffix in entry.suffixes
    }
    # Find the suffix, then look back for the prefix: a lazy word-then-suffix regex retries
    # at every letter of every word. The suffixes as "(?:longest|...|shortest)\b", read with
    # one automaton (nlp.literals).
    ordered = sorted(by_suffix, key=len, reverse=True)
    suffixes = Literals(ordered) if ordered else None
    # Whole words only, checked in Python: a leading look-behind would make the engine try
    # the pattern at every position instead of jumping to its literal start ("alpha-p...").
    named = [
        (
            re.compile(rf"(?:{pattern})(?![\w-])" if not entry.anchor else pattern),
            re.compile(entry.anchor) if entry.anchor else None,
            entry.concept_id,
        )
        for entry in load_analogues(analogues)
        if entry.concept_id in known
        for pattern in entry.patterns
    ]
    align = _aligner(nlp, expand=True)

    def find(doc: Doc) -> Doc:
        lower = lowercase(normalised_of(doc).text)
        listed = [(m.start, m.end) for m in matches_of(doc, LEXICON_SPANS)]
        found: list[tuple[int, int, str]] = []
        for suffix_start, suffix_end, index in (
            suffixes.finditer(lower, word_end=True) if suffixes else ()
        ):
            start = suffix_start
            while start > 0 and (lower[start - 1].isascii() and lower[start - 1].isalnum()):
                start -= 1
            if suffix_start - start >= MIN_ANALOGUE_PREFIX:
                found.append((start, suffix_end, by_suffix[ordered[index]]))
        for pattern, anchor, concept_id in named:
            if anchor is None:
                found.extend(
                    (*m.span(), concept_id)
                    for m in pattern.finditer(lower)
                    if _word_starts(lower, m.start())
                )
                continue
            # Most texts lack the anchor ("inaca", "3-mec"); where it is, only the word
            # around it is tried against the costlier pattern.
            for hit in anchor.finditer(lower):
                start, end = _hyphenated_word(lower, hit.start(), hit.end())
                if pattern.fullmatch(lower, start, end):
                    found.append((start, end, concept_id))
        spans: list[Match] = []
        listed.sort()
        starts = [s for s, _ in listed]
        for start, end, concept_id in found:
            # Lexicon spans do not overlap each other: only the one starting last before
            # `end` can overlap.
            i = bisect_left(starts, end) - 1
            if i >= 0 and listed[i][1] > start:
                continue
            span = align(doc, start, end)
            if span is not None:
                spans.append(Match(*span, "analogue", concept_id))
        set_matches(doc, ANALOGUE_SPANS, spans)
        return doc

    return find


@Language.factory("synthwatch_fuzzy_v1", default_config={"lexicon": "", "guard": ""})
def make_fuzzy(nlp: Language, name: str, lexicon: str, guard: str) -> DocComponent:
    """Mark one-edit misspellings of long names ("isotonitazine") that no term matched."""
    register_extensions()
    matcher = FuzzyMatcher(load_lexicon(lexicon or None), load_guard(guard))
    align = _aligner(nlp, expand=False)

    def fuzzy(doc: Doc) -> Doc:
        lower = lowercase(normalised_of(doc).text)
        spans: list[Match] = []
        for hit in matcher.find(lower):
            span = align(doc, hit.start, hit.end)
            if span is not None:
                spans.append(Match(*span, "fuzzy", hit.concept_id))
        set_matches(doc, FUZZY_SPANS, spans)
        return doc

    return fuzzy


@Language.factory("synthwatch_mentions_v1", default_config={"lexicon": ""})
def make_mentions(nlp: Language, name: str, lexicon: str) -> DocComponent:
    """Resolve the lexicon, CAS and analogue spans into `doc._.sw_mentions`."""
    register_extensions()
    concepts = load_lexicon(lexicon or None)

    def mentions(doc: Doc) -> Doc:
        put(doc, "sw_mentions", resolve_mentions(doc, concepts))
        return doc

    return mentions


@Language.factory("synthwatch_indicators_v1", default_config={"cues": ""})
def make_indicators(nlp: Language, name: str, cues: str) -> DocComponent:
    """Extract indicators into `doc._.sw_indicators`, with offsets into the original text."""
    register_extensions()
    keywords = load_cues(cues).indicators

    def indicators(doc: Doc) -> Doc:
        normalised = normalised_of(doc)
        found: list[Indicator] = []
        hits = find_indicators(normalised.text, keywords)
        hits.extend(find_routes(lowercase(normalised.text)))
        for hit in hits:
            start, end = normalised.to_original(hit.start, hit.end)
            text = normalised.original[start:end]
            key = (
                identifier_key(hit.kind, text, hit.value) if hit.kind in IDENTIFIER_KINDS else None
            )
            found.append(Indicator(hit.kind, start, end, text, hit.value, key))
        for start, end in get(doc, "sw_unknown_cas") or ():
            start, end = normalised.to_original(start, end)
            text = normalised.original[start:end]
            found.append(Indicator("cas", start, end, text, text))
        for mention_hit in get(doc, "sw_mentions") or ():
            if mention_hit.via == "cas":
                mention = mention_hit.mention
                found.append(
                    Indicator("cas", mention.start, mention.end, mention.text, mention.text)
                )
            if mention_hit.obfuscation:
                mention = mention_hit.mention
                value = "+".join(mention_hit.obfuscation)
                found.append(
                    Indicator("obfuscation", mention.start, mention.end, mention.text, value)
                )
            vendor = vendor_voice(normalised.text, mention_hit)
            if vendor is not None:
                start, end = normalised.to_original(*vendor)
                text = normalised.original[start:end]
                found.append(Indicator("sale", start, end, text, "vendor"))
        found.sort(key=lambda i: (i.start, i.end))
        put(doc, "sw_indicators", found)
        return doc

    return indicators


@Language.factory("synthwatch_candidates_v1", default_config={})
def make_candidates(nlp: Language, name: str) -> DocComponent:
    """Keep unknown chemical-looking names beside sale indicators in `doc._.sw_candidates`."""
    register_extensions()

    def candidates(doc: Doc) -> Doc:
        hits = get(doc, "sw_mentions") or []
        found = find_candidates(
            normalised_of(doc),
            [h.mention for h in hits],
            get(doc, "sw_indicators") or [],
            get(doc, "sw_unknown_cas") or (),
        )
        put(doc, "sw_candidates", found)
        return doc

    return candidates


# Indicators that make a block naming a substance an offer block (nlp.context).
_OFFER_BLOCK_KINDS = frozenset(
    {"price", "quantity", "contact", "phone", "wallet", "payment", "sale", "bulk", "purity"}
)


def _to_normalised(normalised: Normalised, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Map original-text spans to the normalised text (approximately, by line).

    Only the line a span is on matters to the context component, and normalisation never
    adds or removes a line break, so the n-th line of one text is the n-th of the other.
    """
    if normalised.text is normalised.original or not spans:
        return spans
    original_lines = line_starts(normalised.original)
    normalised_lines = line_starts(normalised.text)
    mapped = []
    for start, end in spans:
        line = bisect_right(original_lines, start) - 1
        at = normalised_lines[min(line, len(normalised_lines) - 1)]
        mapped.append((at, at + (end - start)))
    return mapped


@Language.factory("synthwatch_context_v1", default_config={"cues": ""})
def make_context(nlp: Language, name: str, cues: str) -> DocComponent:
    """Find context cues and neutralised mentions into `doc._.sw_context`."""
    register_extensions()
    matcher = load_cues(cues).context

    def context(doc: Doc) -> Doc:
        normalised = normalised_of(doc)
        sale = [
            (i.start, i.end)
            for i in get(doc, "sw_indicators") or ()
            if i.kind in _OFFER_BLOCK_KINDS
        ]
        found = find_context(
            normalised.text,
            get(doc, "sw_mentions") or [],
            matcher,
            _to_normalised(normalised, sale),
        )
        put(doc, "sw_context", found)
        return doc

    return context


@Language.factory("synthwatch_scoring_v1", default_config={"weights": ""})
def make_scoring(nlp: Language, name: str, weights: str) -> DocComponent:
    """Score the Doc and store its Analysis in `doc._.sw_analysis`."""
    register_extensions()
    loaded = load_weights(weights)

    def scoring(doc: Doc) -> Doc:
        analysis = score_analysis(
            get(doc, "sw_mentions") or [],
            get(doc, "sw_indicators") or [],
            get(doc, "sw_context"),
            loaded,
            candidates=get(doc, "sw_candidates") or (),
            signals=get(doc, "sw_signals"),
        )
        put(doc, "sw_analysis", analysis)
        return doc

    return scoring
