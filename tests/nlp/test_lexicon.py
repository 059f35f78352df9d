"""The packaged lexicon is complete and valid; a broken lexicon fails with a clear error."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from nlp import CLASSES, TARGET_CLASSES, NlpDataError, load_lexicon
from nlp.lexicon import cas_is_valid, parse_lexicon, term_key

DEMO_IDS = (
    "fentanyl",
    "acetylfentanyl",
    "carfentanil",
    "protonitazene",
    "metonitazene",
    "isotonitazene",
    "bromazolam",
    "mdmb-4en-pinaca",
    "3-mmc",
    "4-anpp",
    "1-boc-4-piperidone",
)
PRECURSOR_IDS = (
    "npp",
    "4-anpp",
    "4-ap",
    "1-boc-4-ap",
    "norfentanyl",
    "1-boc-4-piperidone",
    "bmk-glycidate",
    "pmk-glycidate",
)
OTHER_REQUIRED_IDS = (
    "u-47700",
    "brorphine",
    "heroin",
    "cocaine",
    "methamphetamine",
    "mdma",
    "2c-b",
    "25i-nbome",
    "dmt",
    "ketamine",
)


def test_lexicon_has_enough_concepts() -> None:
    assert len(load_lexicon()) >= 400


@pytest.mark.parametrize("concept_id", DEMO_IDS + PRECURSOR_IDS + OTHER_REQUIRED_IDS)
def test_required_concept_exists(concept_id: str) -> None:
    assert concept_id in load_lexicon()


@pytest.mark.parametrize(
    ("substance_class", "minimum"),
    [
        ("fentanyl", 60),  # every fentanyl of 21 CFR 1308.11/1308.12 (see test_build_lexicon)
        ("nitazene", 15),
        ("synthetic_cannabinoid", 60),
        ("synthetic_cathinone", 40),
        ("designer_benzodiazepine", 20),
        ("phenethylamine", 10),
        ("tryptamine", 10),
        ("arylcyclohexylamine", 10),
        ("other_synthetic_opioid", 10),
        ("other_nps", 10),
        ("precursor", 20),
        ("opioid", 10),
        ("amphetamine", 3),
        ("benzodiazepine", 5),
        ("cannabis", 1),
        ("cocaine", 1),
        ("psychedelic", 3),
        ("other_drug", 1),
    ],
)
def test_lexicon_covers_class(substance_class: str, minimum: int) -> None:
    counts = Counter(c.substance_class for c in load_lexicon())
    assert counts[substance_class] >= minimum


def test_precursors_are_a_target_class() -> None:
    classes = {load_lexicon()[i].substance_class for i in PRECURSOR_IDS}
    assert classes == {"precursor"} and "precursor" in TARGET_CLASSES


def test_every_concept_is_well_formed() -> None:
    lexicon = load_lexicon()
    ids = [c.id for c in lexicon]
    assert len(ids) == len(set(ids))
    for concept in lexicon:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", concept.id), concept.id
        assert concept.substance_class in CLASSES, concept.id
        assert concept.name.strip(), concept.id


def test_every_cas_number_passes_its_check_digit_and_is_unique() -> None:
    numbers = [n for c in load_lexicon() for n in c.cas]
    assert numbers, "the lexicon should carry CAS numbers"
    assert all(cas_is_valid(n) for n in numbers), [n for n in numbers if not cas_is_valid(n)]
    assert len(numbers) == len(set(numbers))


def test_ambiguous_street_names_are_street_names_of_their_concept() -> None:
    oxycodone = load_lexicon()["oxycodone"]
    assert "blues" in oxycodone.ambiguous
    assert set(oxycodone.ambiguous) <= set(oxycodone.street_names)
    with pytest.raises(NlpDataError, match="ambiguous terms must be street names"):
        parse_lexicon(_row(ambiguous=["crack"]), "broken.jsonl")


def test_pill_names_are_ambiguous_street_names() -> None:
    mdma = load_lexicon()["mdma"]
    assert "Maserati" in mdma.pill_names
    assert set(mdma.pill_names) <= set(mdma.ambiguous)
    with pytest.raises(NlpDataError, match="pill names must be ambiguous street names"):
        parse_lexicon(_row(pill_names=["Tesla"]), "broken.jsonl")


def test_ids_and_every_term_are_unique() -> None:
    owners: dict[str, str] = {}
    for concept in load_lexicon():
        for term, _ in concept.terms():
            assert owners.setdefault(term_key(term), concept.id) == concept.id, term


def test_the_packaged_file_is_one_json_object_per_line() -> None:
    source = Path(load_lexicon().source)
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) == len(load_lexicon())
    assert all(isinstance(json.loads(line), dict) for line in lines)


@pytest.mark.parametrize(
    ("cas", "valid"),
    [
        ("437-38-7", True),  # fentanyl
        ("79099-07-3", True),  # 1-boc-4-piperidone
        ("7732-18-5", True),  # water
        ("2504100-70-1", True),  # MDMB-4en-PINACA
        ("79099-09-3", False),  # wrong check digit
        ("437-38-8", False),
        ("1-23-4", False),  # first part too short
        ("12345678-12-3", False),  # first part too long
        ("437-38", False),
        ("CAS 437-38-7", False),
    ],
)
def test_cas_check_digit(cas: str, valid: bool) -> None:
    assert cas_is_valid(cas) is valid


def test_term_key_ignores_case_and_separators() -> None:
    assert term_key("MDMB-4en-PINACA") == term_key("mdmb 4en pinaca") == "mdmb4enpinaca"


def test_vocabulary_holds_words_and_joined_terms() -> None:
    vocabulary = load_lexicon().vocabulary()
    assert {"fentanyl", "acetyl", "boc", "piperidone", "acetylfentanyl", "mdmb4enpinaca"} <= (
        vocabulary
    )


def _row(**changes: object) -> str:
    row: dict[str, object] = {
        "id": "carfentanil",
        "name": "Carfentanil",
        "class": "fentanyl",
        "control": "US Schedule II",
        "cas": ["59708-52-0"],
        "synonyms": ["carfentanyl"],
        "street_names": [],
        "misspellings": [],
    }
    row.update(changes)
    return json.dumps({k: v for k, v in row.items() if v is not None})


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("{not json", 1, "invalid JSON"),
        (_row(**{"class": "opiate"}), 1, "unknown class 'opiate'"),
        (_row(cas=["59708-52-1"]), 1, "CAS number '59708-52-1' fails"),
        (_row(id="Carfentanil"), 1, "id 'Carfentanil' must be lowercase"),
        (_row(name=None), 1, "field 'name' must be a non-empty string"),
        (_row(synonyms="carfentanyl"), 1, "field 'synonyms' must be a list"),
        (_row(potency="high"), 1, "unknown field(s) ['potency']"),
        (_row() + "\n" + _row(cas=[]), 2, "duplicate id 'carfentanil' (first on line 1)"),
        (
            _row() + "\n\n" + _row(id="other", name="Other", cas=[], synonyms=["CARFENTANYL"]),
            3,
            "term 'CARFENTANYL' also names 'carfentanil' (line 1)",
        ),
        (_row() + "\n" + _row(id="other", synonyms=[]), 2, "CAS 59708-52-0 already belongs"),
        ("\n\n", None, "the lexicon is empty"),
    ],
)
def test_broken_lexicon_names_file_line_and_problem(
    text: str, line: int | None, problem: str
) -> None:
    with pytest.raises(NlpDataError) as error:
        parse_lexicon(text, "broken.jsonl")
    assert error.value.line == line
    where = f"broken.jsonl:{line}: " if line else "broken.jsonl: "
    assert str(error.value).startswith(where)
    assert problem in str(error.value)


def test_load_lexicon_from_a_path_names_that_path(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.jsonl"
    path.write_text(_row() + "\n" + _row(cas=["437-38-8"]) + "\n", encoding="utf-8")
    with pytest.raises(NlpDataError, match=rf"^{re.escape(str(path))}:2: carfentanil: CAS"):
        load_lexicon(path)


def test_load_lexicon_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.jsonl"
    path.write_text(_row() + "\n", encoding="utf-8")
    lexicon = load_lexicon(path)
    assert [c.id for c in lexicon] == ["carfentanil"]
    assert lexicon.by_cas["59708-52-0"].name == "Carfentanil"
