"""Real third-party listings (../shared/data): offsets, and market categories as weak labels."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlp import analyse_many

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DARKMATTER = SHARED_DATA / "listings" / "darkmatter"
# Market categories of synthetic drugs, and the class a listing in one must be found to name.
SYNTHETIC = {
    "Stimulants > Mephedrone": "synthetic_cathinone",
    "Stimulants > 3-MMC": "synthetic_cathinone",
    "Psychedelics > 2C-B": "phenethylamine",
    "Psychedelics > NBOME": "phenethylamine",
    "Psychedelics > DMT": "tryptamine",
    "Cannabis > Synthetic": "synthetic_cannabinoid",
    "Dissociatives > Ketamine": "arylcyclohexylamine",
}
# Top-level categories that sell no drug at all: fraud, documents, software, guides.
NOT_DRUGS = ("Fakebase", "Physical Items", "Digital Products", "Guides/Tutorials", "Fraud")

pytestmark = pytest.mark.shared_data


def _titles() -> Iterator[tuple[str, str]]:
    for path in sorted(DARKMATTER.glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            for row in csv.DictReader(handle):
                yield row.get("Name") or row.get("Product") or "", row["Category"]


@pytest.fixture(scope="module")
def analysed() -> list[tuple[str, str, set[str]]]:
    rows = list(_titles())
    analyses = analyse_many(title for title, _ in rows)
    return [
        (title, category, {m.substance_class for m in analysis.mentions})
        for (title, category), analysis in zip(rows, analyses, strict=True)
    ]


def test_real_listing_titles_keep_exact_offsets() -> None:
    rows = list(_titles())[:3000]
    for (text, _), analysis in zip(rows, analyse_many(t for t, _ in rows), strict=True):
        assert 0.0 <= analysis.score <= 1.0
        for mention in analysis.mentions:
            assert text[mention.start : mention.end] == mention.text
        for indicator in analysis.indicators:
            assert text[indicator.start : indicator.end] == indicator.text


def test_synthetic_drug_listings_name_a_substance_of_their_class(
    analysed: list[tuple[str, str, set[str]]],
) -> None:
    labelled = [(t, SYNTHETIC[c], found) for t, c, found in analysed if c in SYNTHETIC]
    missed = [t for t, wanted, found in labelled if wanted not in found]
    assert len(labelled) > 500
    assert len(missed) / len(labelled) <= 0.05, missed


def test_listings_that_sell_no_drug_name_almost_no_substance(
    analysed: list[tuple[str, str, set[str]]],
) -> None:
    other = [(t, found) for t, c, found in analysed if c.split(" > ")[0] in NOT_DRUGS]
    named = [t for t, found in other if found]
    assert len(other) > 200
    assert len(named) / len(other) < 0.01, named
