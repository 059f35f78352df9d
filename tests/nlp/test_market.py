"""Ambiguous street names count beside drug-market evidence, and not on ordinary ads."""

from __future__ import annotations

import pytest

from nlp import analyse
from nlp.market import market_evidence


@pytest.mark.parametrize(
    ("text", "concept_id"),
    [
        ("XTC Blue Punisher 250mg", "mdma"),
        ("M30s, 100 count, $450", "oxycodone"),
        ("0.5-14gr x HONG KONG METH 98% A++", "methamphetamine"),
        ("Dutch speed, new batch #27", "amphetamine"),
        ("Special K 5g $160", "ketamine"),
        ("Molly 84% pure 10g $300", "mdma"),
        ("China white 1g $180, stamped", "fentanyl"),
        ("High Quality Heroine #3 UNCUT", "heroin"),
        ("Direct import super meth - 1g", "methamphetamine"),
        ("Rambo B Grade Speed [10 - 1000G]", "amphetamine"),
        ("Crystal! TOP SHELF!", "methamphetamine"),
        ("Porsche Pink 250mg", "mdma"),
        ("Ecstasy \N{PILL} MASERATI", "mdma"),
        ("4mg GREEN HULK BARS X50", "alprazolam"),
        ("DOM 5mg pills", "dom"),
    ],
)
def test_street_names_count_beside_market_evidence(text: str, concept_id: str) -> None:
    assert concept_id in analyse(text).concept_ids


@pytest.mark.parametrize(
    "text",
    [
        "Special K breakfast cereal, 500g box, £2.50",
        "Ice machine, makes 50 kg of ice per day, $899",
        "Speed boat, top speed 60 knots, $25,000",
        "Crystal glasses, set of 6, £35",
        "Molly the golden retriever puppy, £900",
        "Coke 24 x 330ml cans £9.99",
        "Blues festival tickets £40",
        "Pumpkin Spice strain, indica, 3.5g $35",  # a strain, not a synthetic cannabinoid
        "Special K protein bar, 45g, £1.20",
        "Porsche 911 GT3, A+ condition, stamped service book, 500 hp",
        "Rolex Submariner, stamped clasp, A++ condition",
        "Dom Perignon 2012, 750ml, £180",
        "Heineken 24 x 330ml, £18",
    ],
)
def test_street_names_on_ordinary_ads_name_no_target(text: str) -> None:
    classes = {m.substance_class for m in analyse(text).mentions}
    assert classes <= {"cannabis"}


def test_a_form_word_beside_another_drug_is_its_form() -> None:
    assert analyse("N-Ethylpentylone crystal 5g $90").concept_ids == ("n-ethylpentylone",)


def test_evidence_is_named_and_local() -> None:
    text = "Meth 7g $200" + " filler" * 60 + " Ice cubes"
    assert market_evidence(text, 0, 4) == "price per gram"
    assert market_evidence(text, len(text) - 9, len(text) - 5) is None


def test_a_pill_name_needs_a_dose_or_a_pill_count() -> None:
    assert "mdma" not in analyse("Tesla Model 3, top shelf condition, 1 owner").concept_ids
    assert "mdma" in analyse("Orange Tesla pills, 100 tabs").concept_ids
