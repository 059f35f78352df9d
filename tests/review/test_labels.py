"""Internal ids as people read them."""

from __future__ import annotations

import pytest

from nlp import CLASSES
from review.labels import class_label


@pytest.mark.parametrize(
    ("substance_class", "label"),
    [
        ("synthetic_cathinone", "synthetic cathinone"),
        ("other_nps", "other NPS"),
        ("fentanyl", "fentanyl"),
        ("designer benzodiazepine", "designer benzodiazepine"),
    ],
)
def test_a_class_reads_as_words(substance_class: str, label: str) -> None:
    assert class_label(substance_class) == label


def test_no_class_label_shows_an_underscore() -> None:
    assert all("_" not in class_label(c) and class_label(c) for c in CLASSES)
