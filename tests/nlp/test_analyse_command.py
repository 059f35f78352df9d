"""`synthwatch analyse` and `synthwatch eval`, run through their own parser."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from synthwatch.commands import analyse
from synthwatch.errors import UsageError

DEV_SET = Path(__file__).resolve().parents[1] / "fixtures" / "nlp" / "dev.jsonl"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    analyse.register(sub)
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_analyse_a_file_prints_the_verdict_highlights_and_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "listing.txt"
    path.write_text("Carfentanil 1 g $700, Wickr: cf_direct", encoding="utf-8")
    assert run("analyse", str(path)) == 0
    shown = capsys.readouterr().out
    assert "OFFER" in shown
    assert "Carfentanil" in shown and "fentanyl" in shown
    assert "names Carfentanil (fentanyl class, US Schedule II)" in shown
    assert "Wickr contact" in shown


def test_analyse_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("What are nitazenes?"))
    assert run("analyse", "-") == 0
    assert "no offer" in capsys.readouterr().out


def test_analyse_jsonl_writes_one_result_a_line(tmp_path: Path) -> None:
    source, target, candidates = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "c.jsonl"
    source.write_text(
        json.dumps({"id": "a", "text": "m e t o n i t a z e n e 5 g $600, Telegram @m3to"})
        + "\n\n"
        + json.dumps({"id": 2, "text": "QX-2201 5 g $90, Telegram @x_lab"})
        + "\n",
        encoding="utf-8",
    )
    assert (
        run(
            "analyse", "--jsonl", str(source), "--out", str(target), "--candidates", str(candidates)
        )
        == 0
    )
    first, second = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert set(first) == {"id", "offer", "score", "reasons", "substances", "indicators"}
    assert (first["id"], first["offer"]) == ("a", True)
    assert first["substances"][0] == {
        "concept": "metonitazene",
        "class": "nitazene",
        "text": "m e t o n i t a z e n e",
        "start": 0,
        "end": 23,
        "method": "lexicon",
    }
    price = {"kind": "price", "value": "USD 600", "text": "$600", "start": 28, "end": 32}
    assert {**price, "key": None} in first["indicators"]
    assert {"kind": "contact", "key": "telegram:m3to"}.items() <= first["indicators"][-1].items()
    assert second["id"] == 2
    (candidate,) = [
        json.loads(line) for line in candidates.read_text(encoding="utf-8").splitlines()
    ]
    assert (candidate["term"], candidate["count"]) == ("QX-2201", 1)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (("analyse",), "give a FILE"),
        (("analyse", "--jsonl", "in.jsonl"), "--jsonl needs --out"),
        (("analyse", "missing.txt"), "missing.txt"),
    ],
)
def test_usage_errors(argv: tuple[str, ...], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        run(*argv)


def test_a_broken_jsonl_line_is_named(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "ok"}\n{"id": 2}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"in.jsonl:2: expected an object"):
        run("analyse", "--jsonl", str(source), "--out", str(tmp_path / "out.jsonl"))


def test_eval_prints_measures_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gold = tmp_path / "gold.jsonl"
    lines = DEV_SET.read_text(encoding="utf-8").splitlines()[:3]
    wrong = json.loads(lines[0]) | {"id": "wrong", "offer": False}
    gold.write_text("\n".join([*lines, json.dumps(wrong)]) + "\n", encoding="utf-8")
    assert run("eval", str(gold)) == 0
    shown = capsys.readouterr().out
    assert "4 texts" in shown
    assert "offer" in shown and "classes (micro)" in shown and "span cas" in shown
    assert "wrong: flagged as an offer, labelled not" in shown


def test_eval_reports_offers_per_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("eval", str(DEV_SET.with_name("hard.jsonl")), "--no-errors") == 0
    shown = capsys.readouterr().out
    assert "offer, page_signals" in shown and "offer, context_scope" in shown
    assert "benign false-offer rate" in shown


def test_eval_names_a_broken_gold_file(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "x", "text": "t", "offer": "no"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"gold.jsonl:1: x: 'offer' must be true or false"):
        run("eval", str(gold))
