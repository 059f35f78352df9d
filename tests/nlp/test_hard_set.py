"""The hard cases of issue 10 (tests/fixtures/nlp/hard.jsonl): offers and look-alikes per kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp import Analyser
from nlp.evaluate import Report, evaluate, load_gold

HARD_SET = Path(__file__).resolve().parents[1] / "fixtures" / "nlp" / "hard.jsonl"
KINDS = (
    "sale_evidence",
    "page_signals",
    "context_scope",
    "ambiguous_names",
    "lookalike_brands",
    "tokenisation",
    "lexicon_breadth",
    "scope",
)


@pytest.fixture(scope="module")
def report() -> Report:
    gold = load_gold(HARD_SET)
    return evaluate(gold, Analyser().analyse_many(item.item() for item in gold))


def test_every_kind_has_as_many_offers_as_look_alikes() -> None:
    gold = load_gold(HARD_SET)
    for kind in KINDS:
        offers = sum(g.offer for g in gold if g.kind == kind)
        others = sum(not g.offer for g in gold if g.kind == kind)
        assert offers >= 8 and offers == others, kind
    assert {g.kind for g in gold} == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_offers_are_found_per_kind(report: Report, kind: str) -> None:
    assert report.per_kind[kind].f1 >= 0.95, report.errors


def test_look_alikes_are_rarely_flagged(report: Report) -> None:
    assert report.false_offer_rate <= 0.01, report.errors


def test_classes_are_named(report: Report) -> None:
    assert report.classes.f1 >= 0.95, report.errors
