"""What ``synthwatch analyse`` prints: the text highlighted, each character once; cut tables."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from synthwatch.commands import analyse
from synthwatch.commands.analyse import _highlighted


def span(start: int, end: int) -> SimpleNamespace:
    return SimpleNamespace(start=start, end=end)


def marked(text: str, mentions: list[Any], indicators: list[Any]) -> str:
    analysis = SimpleNamespace(mentions=mentions, indicators=indicators)
    return _highlighted(text, analysis)  # type: ignore[arg-type]


def test_indicators_overlapping_a_mention_or_each_other_are_left_out() -> None:
    text = "buy fentanyl 10g [now]"

    out = marked(text, [span(4, 12)], [span(8, 16), span(13, 16), span(14, 20)])

    assert out == "buy [bold red]fentanyl[/bold red] [bold cyan]10g[/bold cyan] \\[now]"


def test_overlapping_mentions_print_their_text_once() -> None:
    out = marked("4-fluorofentanyl", [span(0, 16), span(8, 16)], [])

    assert out == "[bold red]4-fluorofentanyl[/bold red]"


def test_many_spans_on_a_long_text_keep_the_text_whole() -> None:
    text = "fentanyl 10g " * 20_000
    mentions = [span(13 * n, 13 * n + 8) for n in range(20_000)]
    indicators = [span(13 * n + 9, 13 * n + 12) for n in range(20_000)]
    indicators += [span(13 * n + 2, 13 * n + 10) for n in range(20_000)]  # all overlap mentions

    out = marked(text, mentions, indicators)

    assert out.count("[bold red]") == 20_000 and out.count("[bold cyan]") == 20_000
    assert (
        out.replace("[bold red]", "")
        .replace("[/bold red]", "")
        .replace("[bold cyan]", "")
        .replace("[/bold cyan]", "")
        == text
    )


def test_the_tables_of_a_long_text_are_cut_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(file=io.StringIO(), width=200)
    monkeypatch.setattr(analyse, "out", console)
    text = "10g " * 2_000
    quantities = [
        SimpleNamespace(kind="quantity", value="10 g", text="10g", start=4 * n, end=4 * n + 3)
        for n in range(2_000)
    ]
    analysis = SimpleNamespace(
        offer=True,
        score=1.0,
        mentions=[],
        indicators=quantities,
        context=[],
        reasons=[],
        candidates=[],
    )

    analyse._print_analysis(text, analysis)  # type: ignore[arg-type]

    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert f"{analyse._MAX_TABLE_ROWS:,} of 2,000 indicators shown" in printed
    assert printed.count("quantity") == analyse._MAX_TABLE_ROWS
