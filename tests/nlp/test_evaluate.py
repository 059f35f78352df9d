"""Gold files are checked line by line; measures count offers, classes and spans as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp import Analysis, Indicator, Mention, NlpDataError
from nlp.evaluate import Counts, evaluate, format_report, load_gold, parse_gold_line


def _analysis(offer: bool, classes: list[str], indicators: list[Indicator]) -> Analysis:
    mentions = tuple(Mention(0, 1, "x", c, c, c, "", 1.0) for c in classes)
    return Analysis(mentions, tuple(indicators), (), 0.5, offer, ())


def _line(**row: object) -> str:
    base: dict[str, object] = {"id": "t1", "text": "Wickr: ab_12 CAS 50-00-0", "offer": True}
    base.update(row)
    return json.dumps(base)


def test_counts() -> None:
    counts = Counts(tp=8, fp=2, fn=0)
    assert (counts.precision, counts.recall) == (0.8, 1.0)
    assert counts.f1 == pytest.approx(2 * 0.8 / 1.8)
    assert Counts().f1 == 1.0


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{", "invalid JSON"),
        (_line(offer="yes"), "'offer' must be true or false"),
        (_line(classes=["opiate"]), "'classes' must list classes"),
        (_line(spans=[{"kind": "cas", "start": 20, "end": 99}]), "outside the text"),
        (_line(spans=[{"kind": "url", "start": 0, "end": 1}]), "bad span"),
    ],
)
def test_broken_gold_lines_name_file_and_line(raw: str, problem: str) -> None:
    with pytest.raises(NlpDataError, match=problem) as error:
        parse_gold_line(raw, "gold.jsonl", 7)
    assert str(error.value).startswith("gold.jsonl:7: ")


def test_load_gold_skips_blank_lines_and_refuses_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text(_line() + "\n\n" + _line(id="t2", offer=False) + "\n", encoding="utf-8")
    assert [g.id for g in load_gold(path)] == ["t1", "t2"]
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(NlpDataError, match="no labelled texts"):
        load_gold(path)


def test_evaluate_counts_offers_classes_and_spans() -> None:
    gold = [
        parse_gold_line(
            _line(
                classes=["fentanyl"],
                spans=[
                    {"kind": "contact", "start": 0, "end": 12},
                    {"kind": "cas", "start": 17, "end": 24},
                ],
            ),
            "g",
            1,
        ),
        parse_gold_line(_line(id="t2", offer=False, classes=[], spans=[]), "g", 2),
    ]
    analyses = [
        _analysis(
            True, ["fentanyl", "precursor"], [Indicator("contact", 0, 12, "Wickr: ab_12", "wickr")]
        ),
        _analysis(True, [], [Indicator("cas", 17, 24, "50-00-0", "50-00-0")]),
    ]
    report = evaluate(gold, analyses)
    assert (report.offer.tp, report.offer.fp, report.offer.fn) == (1, 1, 0)
    assert (report.classes.tp, report.classes.fp, report.classes.fn) == (1, 1, 0)
    assert (report.spans["contact"].tp, report.spans["contact"].fp) == (1, 0)
    assert (report.spans["cas"].tp, report.spans["cas"].fp, report.spans["cas"].fn) == (0, 1, 1)
    text = format_report(report)
    assert "offer" in text and "t2: flagged as an offer" in text
    assert "t1: classes extra ['precursor']" in text
