"""spaCy components of the SynthWatch pipeline, one per concern.

Each reads its data from `nlp/data` (or the path in its config) and writes Doc attributes
registered in `nlp.extensions`. Order: span_ruler (lexicon) -> cas -> analogues -> mentions
-> indicators -> context -> scoring. Factory names are `synthwatch_<name>_v1`: spaCy forbids
"." in factory names (error E853), so "synthwatch.cas.v1" cannot be registered.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp.analysis import Indicator
from nlp.context import find_context
from nlp.cues import load_cues, lowercase
from nlp.extensions import register_extensions
from nlp.indicators import find_indicators
from nlp.lexicon import cas_is_valid, load_lexicon
from nlp.mentions import (
    ANALOGUE_SPANS,
    CAS_PATTERN,
    CAS_SPANS,
    LEXICON_SPANS,
    normalised_of,
    resolve_mentions,
)
from nlp.patterns import MIN_ANALOGUE_PREFIX, load_analogues
from nlp.scoring import load_weights, score_analysis

DocComponent = Callable[[Doc], Doc]


@Language.factory("synthwatch_cas_v1", default_config={"lexicon": ""})
def make_cas(nlp: Language, name: str, lexicon: str) -> DocComponent:
    """Resolve CAS numbers with a valid check digit to their lexicon concept."""
    register_extensions()
    by_cas = load_lexicon(lexicon or None).by_cas

    def cas(doc: Doc) -> Doc:
        spans: list[Span] = []
        for match in CAS_PATTERN.finditer(normalised_of(doc).text):
            concept = by_cas.get(match.group())
            if concept is None or not cas_is_valid(match.group()):
                continue
            span = doc.char_span(*match.span(), label="cas", alignment_mode="expand")
            if span is not None:
                spans.append(Span(doc, span.start, span.end, label="cas", span_id=concept.id))
        doc.spans[CAS_SPANS] = spans
        return doc

    return cas


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
    alternation = "|".join(sorted(map(re.escape, by_suffix), key=len, reverse=True)) or "(?!)"
    words = re.compile(rf"\b[a-z0-9]{{{MIN_ANALOGUE_PREFIX},}}?({alternation})\b")

    def find(doc: Doc) -> Doc:
        lower = lowercase(normalised_of(doc).text)
        listed = [(s.start_char, s.end_char) for s in doc.spans.get(LEXICON_SPANS, [])]
        spans: list[Span] = []
        for match in words.finditer(lower):
            start, end = match.span()
            if any(s < end and start < e for s, e in listed):
                continue
            span = doc.char_span(start, end, alignment_mode="expand")
            if span is not None:
                concept_id = by_suffix[match.group(1)]
                spans.append(Span(doc, span.start, span.end, "analogue", span_id=concept_id))
        doc.spans[ANALOGUE_SPANS] = spans
        return doc

    return find


@Language.factory("synthwatch_mentions_v1", default_config={"lexicon": ""})
def make_mentions(nlp: Language, name: str, lexicon: str) -> DocComponent:
    """Resolve the lexicon, CAS and analogue spans into `doc._.sw_mentions`."""
    register_extensions()
    concepts = load_lexicon(lexicon or None)

    def mentions(doc: Doc) -> Doc:
        doc._.sw_mentions = resolve_mentions(doc, concepts)
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
        for hit in find_indicators(normalised.text, keywords):
            start, end = normalised.to_original(hit.start, hit.end)
            found.append(Indicator(hit.kind, start, end, normalised.original[start:end], hit.value))
        for mention_hit in doc._.sw_mentions or ():
            if mention_hit.obfuscation:
                mention = mention_hit.mention
                value = "+".join(mention_hit.obfuscation)
                found.append(
                    Indicator("obfuscation", mention.start, mention.end, mention.text, value)
                )
        found.sort(key=lambda i: (i.start, i.end))
        doc._.sw_indicators = found
        return doc

    return indicators


@Language.factory("synthwatch_context_v1", default_config={"cues": ""})
def make_context(nlp: Language, name: str, cues: str) -> DocComponent:
    """Find context cues and neutralised mentions into `doc._.sw_context`."""
    register_extensions()
    matcher = load_cues(cues).context

    def context(doc: Doc) -> Doc:
        text = normalised_of(doc).text
        doc._.sw_context = find_context(text, doc._.sw_mentions or [], matcher)
        return doc

    return context


@Language.factory("synthwatch_scoring_v1", default_config={"weights": ""})
def make_scoring(nlp: Language, name: str, weights: str) -> DocComponent:
    """Score the Doc and store its Analysis in `doc._.sw_analysis`."""
    register_extensions()
    loaded = load_weights(weights)

    def scoring(doc: Doc) -> Doc:
        doc._.sw_analysis = score_analysis(
            doc._.sw_mentions or [], doc._.sw_indicators or [], doc._.sw_context, loaded
        )
        return doc

    return scoring
