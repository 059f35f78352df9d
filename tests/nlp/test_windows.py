"""Windowed tokenisation gives the analysis, tokens and spans the whole text would give."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest
from spacy.language import Language
from spacy.tokens import Doc

from nlp.extensions import get, put
from nlp.lexicon import load_lexicon
from nlp.pipeline import Analyser, build_pipeline
from nlp.tokenizer import NormalisingTokenizer

_FILLERS = (
    "buy", "price", "$120", "10g", "5 mg", "99% pure", "ships", "wickr: h1a2b3", "not", "no",
    "free", "test strips", "our", "CAS", "what is", "?", "crystal", "pressed", "100 pills",
    "A++", "COA", "+44 7700 900123", "sales@shop.example", "can not", "cannot", "dogs'",
    "' s", ":)", ": )", "(:", "(-:", "8)", "o.O", "a.m.", "3p.m.", "e.g.", "Mr.", "y'all",
    "gonna", "SKU-4471B", "@zq_lab77", "u/renmor_581", "xk-836", "27836", "JWH018", "x",
)  # fmt: skip
_SEPARATORS = (" ", "  ", "", "-", "\n", "\t", ". ", ", ", "|", "*", "/", ":", " - ", "(", ")")


def _texts(count: int, seed: int) -> Iterator[str]:
    """Lexicon terms in random spellings among fillers, tokenizer exceptions and codes."""
    rng = random.Random(seed)
    terms = [term for concept in load_lexicon() for term, _ in concept.terms()]
    numbers = [number for concept in load_lexicon() for number in concept.cas]
    for _ in range(count):
        parts: list[str] = []
        for _ in range(rng.randint(1, 30)):
            roll = rng.random()
            if roll < 0.35:
                term = rng.choice(terms)
                if rng.random() < 0.3:
                    term = term.upper().replace("-", rng.choice(["", " ", "-"]))
                parts.append(term)
            elif roll < 0.45:
                parts.append(rng.choice(numbers))
            else:
                parts.append(rng.choice(_FILLERS))
            parts.append(rng.choice(_SEPARATORS))
        yield "".join(parts)


@pytest.fixture(scope="module")
def pipeline() -> Language:
    return build_pipeline()


def _tokenizer(pipeline: Language) -> NormalisingTokenizer:
    tokenizer = pipeline.tokenizer
    assert isinstance(tokenizer, NormalisingTokenizer)
    return tokenizer


def _whole(pipeline: Language, text: str) -> Doc:
    """Run the pipeline on the whole text, tokenised as before windows."""
    tokenizer = _tokenizer(pipeline)
    prefilter = tokenizer.prefilter
    tokenizer.prefilter = None
    try:
        return pipeline(text)
    finally:
        tokenizer.prefilter = prefilter


def test_analyses_are_those_of_the_whole_text(pipeline: Language) -> None:
    for text in _texts(300, seed=1):
        assert pipeline(text)._.sw_analysis == _whole(pipeline, text)._.sw_analysis, text


def test_window_tokens_are_the_whole_text_tokens(pipeline: Language) -> None:
    checked = 0
    for text in _texts(300, seed=2):
        doc, whole = pipeline.make_doc(text), _whole(pipeline, text)
        windows = doc._.sw_windows
        for token in doc:
            if token.text == "\n":
                continue  # what joins two windows
            start, end = windows.to_text(token.idx, token.idx + len(token))
            span = whole.char_span(start, end)
            assert span is not None and len(span) == 1 and span.text == token.text, text
            checked += 1
    assert checked > 1000


def test_lexicon_spans_are_the_whole_text_spans(pipeline: Language) -> None:
    def spans(doc: Doc) -> list[tuple[int, int, str, str]]:
        windows = doc._.sw_windows
        return [
            (*windows.to_text(s.start_char, s.end_char), s.label_, s.id_)
            for s in doc.spans["sw_lexicon"]
        ]

    found = 0
    for text in _texts(300, seed=3):
        windowed = spans(pipeline(text))
        assert windowed == spans(_whole(pipeline, text)), text
        found += len(windowed)
    assert found > 300


def test_alignment_is_char_span_of_the_whole_text(pipeline: Language) -> None:
    tokenizer = _tokenizer(pipeline)
    rng = random.Random(4)
    for text in _texts(100, seed=4):
        doc, whole = pipeline.make_doc(text), _whole(pipeline, text)
        spaced = doc._.sw_windows.text
        for _ in range(20):
            start = rng.randrange(len(spaced))
            end = min(len(spaced), start + rng.randint(1, 30))
            if spaced[start].isspace() or spaced[end - 1].isspace():
                continue
            for expand in (True, False):
                mode = "expand" if expand else "strict"
                span = whole.char_span(start, end, alignment_mode=mode)
                expected = None if span is None else (span.start_char, span.end_char)
                assert tokenizer.align(doc, start, end, expand=expand) == expected, text


def test_spacy_splits_letters_and_digits_only_after_a_digit_or_by_an_exception(
    pipeline: Language,
) -> None:
    # The prefilter relies on it (nlp.windows): a change of the tokenizer's rules fails here.
    tokenizer = _tokenizer(pipeline)
    assert tokenizer.prefilter is not None
    splits = tokenizer.prefilter.alnum_splits
    rng = random.Random(5)
    alphabet = "abcxyzAMPT0123456789-./:'()$%+,_" * 2 + "gmlk"
    for _ in range(3000):
        chunk = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 12)))
        doc = tokenizer.tokenizer(chunk)
        for left, right in itertools.pairwise(doc):
            a, b = chunk[right.idx - 1], chunk[right.idx]
            if not left.whitespace_ and a.isascii() and a.isalnum() and b.isascii() and b.isalnum():
                assert (a.isdigit() and b.isalpha()) or (a + b).lower() in splits, chunk


def test_novel_words_are_not_interned() -> None:
    analyser = Analyser(rebuild_every=10**9)
    codes = [f"QZX-{n}B vendor{n}kq u/brimor_{n}" for n in range(500)]
    before = len(analyser.nlp.vocab.strings)
    analyses = list(analyser.analyse_many(f"{code} Carfentanil 5g $120" for code in codes))
    assert all(a.concept_ids == ("carfentanil",) for a in analyses)
    assert "vendor7kq" not in analyser.nlp.vocab.strings
    assert len(analyser.nlp.vocab.strings) - before < 100


def test_groups_seen_once_are_not_remembered() -> None:
    analyser = Analyser(rebuild_every=10**9)
    windows = _tokenizer(analyser.nlp)._windows
    assert windows is not None
    # Words glued to a substance name are in its window: each text has a group of its own.
    novel = [f"vendor{n}kq fentanyl/QZ{n}X 5g $120" for n in range(300)]
    list(analyser.analyse_many(novel))
    assert len(windows._groups) == 0
    list(analyser.analyse_many(novel[:5]))
    assert len(windows._groups) == 5
    assert [a.to_dict() for a in analyser.analyse_many(novel[:5])] == [
        analyser.analyse(text).to_dict() for text in novel[:5]
    ]


def test_a_text_with_a_final_sigma_is_tokenised_whole(pipeline: Language) -> None:
    doc = pipeline("ΟΔΟΣ fentanyl 5g")
    assert doc._.sw_windows.whole
    assert doc._.sw_analysis.concept_ids == ("fentanyl",)


def test_doc_values_are_the_underscore_attributes(pipeline: Language) -> None:
    doc = pipeline.make_doc("fentanyl")
    put(doc, "sw_signals", "signals")
    assert doc._.sw_signals == "signals"
    doc._.sw_candidates = ["candidate"]
    assert get(doc, "sw_candidates") == ["candidate"]
