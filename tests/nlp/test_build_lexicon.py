"""The lexicon script parses the public lists, and the committed lexicon is what it makes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp import load_lexicon
from nlp.build_lexicon import build, fuzzy_guard, read_words
from nlp.lexicon import parse_lexicon, term_key
from nlp.lexicon_sources import fix_mojibake, is_systematic, parse_entry, read_ecfr, slug

SOURCES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lexicon_sources"
DATA = Path(__file__).resolve().parents[2] / "nlp" / "data"
WORDS = Path("/usr/share/dict/american-english-huge")  # Debian package wamerican-huge


def test_fix_mojibake() -> None:
    assert fix_mojibake("Â§ 1308.11 alphaâ\x80²-Methyl") == "§ 1308.11 alpha\u2032-Methyl"
    assert fix_mojibake("plain ascii") == "plain ascii"


def test_slug() -> None:
    assert slug("\u03b1-PVP") == "alpha-pvp"
    assert slug("2\u2032,5\u2032-Dimethoxyfentanyl") == "2-5-dimethoxyfentanyl"


def test_is_systematic() -> None:
    assert is_systematic("N-(1-phenethylpiperidin-4-yl)-N-phenylacetamide")
    assert not is_systematic("Acetyl fentanyl")
    assert not is_systematic("MDMB-4en-PINACA")


@pytest.mark.parametrize(
    ("cell", "name", "synonyms"),
    [
        (
            "(3) Acetyl fentanyl (N-(1-phenethylpiperidin-4-yl)-N-phenylacetamide)",
            "Acetyl fentanyl",
            ["N-(1-phenethylpiperidin-4-yl)-N-phenylacetamide"],
        ),
        (
            "(42) 2-(2-(4-ethoxybenzyl)-1H-benzimidazol-1-yl)-N,N-diethylethan-1-amine"
            " (Other names: etodesnitazene; etazene)",
            "etodesnitazene",
            ["2-(2-(4-ethoxybenzyl)-1H-benzimidazol-1-yl)-N,N-diethylethan-1-amine", "etazene"],
        ),
        (
            "(4) Ephedrine, its salts, optical isomers, and salts of optical isomers",
            "Ephedrine",
            [],
        ),
    ],
)
def test_parse_entry(cell: str, name: str, synonyms: list[str]) -> None:
    listed = parse_entry(cell, "1308.11(b)", "US Schedule I")
    assert listed is not None
    assert (listed.name, listed.synonyms) == (name, synonyms)


def test_reserved_rows_are_skipped() -> None:
    assert parse_entry("(1)-(29) [Reserved]", "1308.11(h)", "US Schedule I") is None


def test_fuzzy_guard_keeps_words_one_edit_from_long_names() -> None:
    guard = fuzzy_guard(
        ["Morphine", "Ketamine", "3-MMC"], ["morphing", "ketamines", "mmcs", "table"]
    )
    assert guard == ["morphing"]  # a plural is the substance; codes are never fuzzy-matched


@pytest.mark.shared_data
def test_every_fentanyl_of_21_cfr_1308_11_and_1308_12_is_in_the_lexicon() -> None:
    owner = {term_key(t): c for c in load_lexicon() for t, _ in c.terms()}
    checked = 0
    for section in ("1308.11", "1308.12"):
        path = SOURCES / "holocron_chemnet" / "raw_dea" / f"ecfr_{section.replace('.', '_')}.xml"
        for listed in read_ecfr(path, section):
            if any("fentan" in t.lower() for t in (listed.name, *listed.synonyms)):
                concept = owner.get(term_key(listed.name))
                assert concept is not None, listed.name
                assert concept.substance_class in ("fentanyl", "precursor"), listed.name
                checked += 1
    assert checked >= 60


@pytest.mark.shared_data
@pytest.mark.skipif(
    not WORDS.is_file(), reason=f"{WORDS} is absent (apt-get install wamerican-huge)"
)
def test_the_committed_lexicon_is_what_the_script_makes() -> None:
    builder = build(SOURCES, DATA / "lexicon_overrides.toml", read_words(WORDS))
    rows = (json.dumps(d.row(), ensure_ascii=False) for d in builder.concepts())
    rebuilt = parse_lexicon("\n".join(rows), "rebuilt")
    committed = load_lexicon()
    assert [c.id for c in rebuilt] == [c.id for c in committed]
    assert list(rebuilt) == list(committed)


@pytest.mark.parametrize(
    ("alias", "kept"),
    [
        ("lexotanil", True),
        ("4fmph", True),
        ("3fpm", True),
        ("25c", False),
        ("moxy", False),
        ("doral", False),
        ("4-hydroxy-n", False),
    ],
)
def test_tripsit_aliases_must_be_specific(alias: str, kept: bool) -> None:
    from nlp.lexicon_sources import _tripsit_alias

    assert _tripsit_alias(alias) is kept
