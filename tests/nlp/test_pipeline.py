"""The public API, batch analysis, pipeline rebuilds and the package's import boundary."""

from __future__ import annotations

import subprocess
import sys
import weakref

import pytest
from spacy.language import Language

import nlp
from nlp import Analyser, Analysis, analyse, analyse_many
from nlp.pipeline import build_pipeline

TEXTS = [
    "Carfentanil 5g $120, Wickr: h1a2b3",
    "What are nitazenes?",
    "",
    "Acetone 2.5 L $24.90",
    "m e t o n i t a z e n e 5 g \u20ac80/g Telegram @m3to",
]


def test_public_names() -> None:
    expected = {
        "analyse",
        "analyse_many",
        "Analyser",
        "Analysis",
        "Mention",
        "Indicator",
        "Reason",
        "CLASSES",
        "TARGET_CLASSES",
        "load_lexicon",
    }
    assert expected <= set(nlp.__all__)
    assert all(hasattr(nlp, name) for name in nlp.__all__)


def test_class_vocabulary_is_exact() -> None:
    assert nlp.CLASSES == (
        "fentanyl",
        "nitazene",
        "other_synthetic_opioid",
        "opioid",
        "synthetic_cannabinoid",
        "synthetic_cathinone",
        "designer_benzodiazepine",
        "benzodiazepine",
        "amphetamine",
        "phenethylamine",
        "tryptamine",
        "arylcyclohexylamine",
        "other_nps",
        "precursor",
        "cannabis",
        "cocaine",
        "psychedelic",
        "other_drug",
    )
    # Configured in nlp/data/weights.toml; these are the defaults.
    assert set(nlp.TARGET_CLASSES) == {
        "fentanyl",
        "nitazene",
        "other_synthetic_opioid",
        "synthetic_cannabinoid",
        "synthetic_cathinone",
        "designer_benzodiazepine",
        "phenethylamine",
        "tryptamine",
        "arylcyclohexylamine",
        "other_nps",
        "precursor",
        "amphetamine",
        "benzodiazepine",
        "opioid",
    }


def test_analyse_many_matches_analyse() -> None:
    assert list(analyse_many(TEXTS)) == [analyse(t) for t in TEXTS]


def test_analyser_batches_match_single_calls() -> None:
    analyser = Analyser()
    assert list(analyser.analyse_many(iter(TEXTS), batch_size=2)) == [
        analyser.analyse(t) for t in TEXTS
    ]


def test_empty_text() -> None:
    analysis = analyse("")
    assert isinstance(analysis, Analysis)
    assert (analysis.mentions, analysis.indicators, analysis.context) == ((), (), ())
    assert not analysis.offer


def test_analyser_rebuilds_its_pipeline_every_n_documents() -> None:
    analyser = Analyser(rebuild_every=3)
    first = analyser.nlp
    novel = [f"vendor{n}xyz sells carfentanil{n}qq" for n in range(7)]
    results = list(analyser.analyse_many(novel, batch_size=2))
    assert len(results) == 7
    assert analyser.rebuilds == 2
    assert analyser.nlp is not first
    # The fresh pipeline has not seen the earlier documents' novel tokens.
    assert "vendor0xyz" not in analyser.nlp.vocab.strings
    analyser.analyse("one more")
    analyser.analyse("and another")
    assert analyser.rebuilds == 3


def test_analyser_rebuilds_its_pipeline_when_its_string_store_has_grown() -> None:
    analyser = Analyser(max_new_strings=20)
    first = analyser.nlp
    # Words glued to a substance name are tokenised with it, so they are interned.
    for n in range(10):
        analyser.analyse(f"fentanyl/QZ{n}X and QZ{n}Y")
    assert analyser.rebuilds >= 1
    assert analyser.nlp is not first
    assert "QZ0X" not in analyser.nlp.vocab.strings


@pytest.mark.parametrize("batch", [False, True])
def test_analyser_frees_its_old_pipeline_before_building_the_next(
    batch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyser = Analyser(rebuild_every=2)
    old = weakref.ref(analyser.nlp)
    alive_at_build: list[bool] = []

    def build() -> Language:
        alive_at_build.append(old() is not None)
        return build_pipeline()

    monkeypatch.setattr("nlp.pipeline.build_pipeline", build)
    texts = ["Carfentanil 5g $120", "What are nitazenes?"]
    results = list(analyser.analyse_many(texts)) if batch else [analyser.analyse(t) for t in texts]
    assert analyser.rebuilds == 1
    assert alive_at_build == [False]
    assert results[0].offer


def test_rebuild_every_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rebuild_every"):
        Analyser(rebuild_every=0)
    with pytest.raises(ValueError, match="max_new_strings"):
        Analyser(max_new_strings=0)


def test_pipeline_is_blank_english_with_registered_components() -> None:
    pipeline = build_pipeline()
    assert isinstance(pipeline, Language)
    assert pipeline.lang == "en"
    assert pipeline.pipe_names == [
        "synthwatch_lexicon",
        "synthwatch_cas_v1",
        "synthwatch_analogues_v1",
        "synthwatch_fuzzy_v1",
        "synthwatch_mentions_v1",
        "synthwatch_indicators_v1",
        "synthwatch_candidates_v1",
        "synthwatch_context_v1",
        "synthwatch_scoring_v1",
    ]
    assert pipeline.get_pipe_meta("synthwatch_lexicon").factory == "span_ruler"


def test_doc_keeps_the_original_text_and_the_analysis() -> None:
    pipeline = build_pipeline()
    doc = pipeline("Acetyl-F3ntanyl 5g")
    assert doc.text == "Acetyl-Fentanyl 5g"
    assert doc._.sw_normalised.original == "Acetyl-F3ntanyl 5g"
    assert doc._.sw_analysis.mentions[0].text == "Acetyl-F3ntanyl"


@pytest.mark.slow
def test_nlp_imports_no_other_package_of_ours_nor_html_db_or_scrapy() -> None:
    forbidden = ["crawlers", "storage", "review", "synthwatch", "demo"]
    forbidden += ["scrapy", "sqlalchemy", "bs4", "lxml"]
    code = (
        "import sys, nlp; nlp.analyse('Carfentanil 5g $120'); "
        f"print([m for m in {forbidden!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "text",
    [
        "a1b2c3d4" * 12500,  # one 100 KB word full of leetspeak seeds
        "m e t o " * 20000,  # one long run of spaced letters
        "\u200b" * 50000 + "carfentanil",
        "\u0430\u0031" * 50000,  # Cyrillic letter and digit, repeated
        "\U0001f48a fentanyl \U0001f4e6 " * 5000,  # emoji around mentions
        "CAS 79099-07-3 " * 5000,
        "F3ntanyl " * 10000,  # ten thousand obfuscated mentions
        "fentanyl 5g $1, " * 5000,
    ],
)
def test_pathological_input_is_analysed_with_exact_offsets(text: str) -> None:
    analysis = analyse(text)
    for mention in analysis.mentions:
        assert text[mention.start : mention.end] == mention.text
    for indicator in analysis.indicators:
        assert text[indicator.start : indicator.end] == indicator.text
