"""Real third-party listing titles (../shared/data): no crash, exact offsets, bounded scores."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nlp import analyse_many

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TITLES = SHARED_DATA / "listings" / "darkmatter" / "darkmatter_physical_products_7_6.csv"

pytestmark = pytest.mark.shared_data


def test_real_listing_titles() -> None:
    with TITLES.open(encoding="utf-8", errors="replace", newline="") as handle:
        texts = [f"{row['Name']} {row['Price']}" for row in csv.DictReader(handle)]
    analyses = list(analyse_many(texts))
    assert len(analyses) == len(texts) > 1000
    for text, analysis in zip(texts, analyses, strict=True):
        assert 0.0 <= analysis.score <= 1.0
        for mention in analysis.mentions:
            assert text[mention.start : mention.end] == mention.text
        for indicator in analysis.indicators:
            assert text[indicator.start : indicator.end] == indicator.text
    named = sum(bool(a.mentions) for a in analyses)
    assert named > len(texts) // 3  # most drug titles name a substance of the lexicon
