"""Seconds to mark up a long listing's text, against the algorithms they replaced (issue 11).

A text of N characters carries a span every ~13 characters (15,600 in 200,000, as the hostile
listing that made the case page take 13.9 s), mentions nested in indicators and indicators
overlapping one another. Each size runs, in this process: the case page's old ``highlight``
(every span tested against every stretch between two boundaries) and the new one on the whole
text (their HTML must be the same), the new one on one part of the page (what the case page now
does), and ``synthwatch analyse``'s old and new terminal highlighting. The word diff of two
versions runs on two texts of few distinct words, old (SequenceMatcher on everything) and new.

Run: .venv/bin/python -m bench.highlight [--sizes 50000 200000 500000] [--old-up-to N]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterable, Sequence
from difflib import SequenceMatcher
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

from markupsafe import Markup, escape
from rich.markup import escape as rich_escape

from review.diff import _TOKENS, text_diff
from review.highlight import Span, clip, highlight, text_parts
from synthwatch.commands.analyse import _highlighted

WORDS = ("buy", "fentanyl", "powder", "99%", "$120", "10g", "wickr:", "chemking", "ship", "the")


def listing(size: int, seed: int = 11) -> tuple[str, list[Span]]:
    """Return a text of ``size`` characters and its spans: mentions, indicators, overlaps."""
    rng = random.Random(seed)
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(WORDS))
    text = " ".join(words)[:size]
    spans: list[Span] = []
    start = 0
    for n, word in enumerate(words):
        end = min(start + len(word), size)
        if start >= size:
            break
        if n % 4 == 0:
            spans.append(Span(start, end, "mention", (("title", word),), 0))
        if n % 8 == 0:  # an indicator around this word and the next
            spans.append(Span(start, min(end + 8, size), "indicator", (("title", "q"),), 1))
        if n % 10 == 3:  # one that starts inside a word and ends past it
            spans.append(Span(start + 1, min(end + 4, size), "indicator", (), 1))
        start = end + 1
    return text, spans


def page_part(text: str, spans: list[Span]) -> Markup:
    """Return the first part of the text marked, as the case page shows it."""
    part = text_parts(text)[0]
    return highlight(text[part.start : part.end], clip(spans, part))


def old_highlight(text: str, spans: Iterable[Span]) -> Markup:
    """Return the marked text as the case page did before issue 11 (quadratic)."""
    valid = sorted(
        dict.fromkeys(s for s in spans if 0 <= s.start < s.end <= len(text)),
        key=lambda s: (s.start, -s.end, s.rank),
    )
    boundaries = sorted({0, len(text)} | {s.start for s in valid} | {s.end for s in valid})
    out: list[str] = []
    stack: list[Span] = []
    for left, right in pairwise(boundaries):
        active = [s for s in valid if s.start <= left and right <= s.end]
        keep = _common_prefix(stack, active)
        for _closed in stack[keep:]:
            out.append("</mark>")
        stack = stack[:keep] + [s for s in active if s not in stack[:keep]]
        out.extend(s.open_tag() for s in stack[keep:])
        out.append(escape(text[left:right]))
    out.extend("</mark>" for _open in stack)
    return Markup("".join(out))


def _common_prefix(stack: Sequence[Span], active: Sequence[Span]) -> int:
    kept = 0
    for span in stack:
        if span not in active:
            break
        kept += 1
    return kept


def old_terminal(text: str, analysis: Any) -> str:
    """Return the rich markup ``synthwatch analyse`` printed before issue 11 (quadratic)."""
    marks = [(m.start, m.end, "r") for m in analysis.mentions]
    taken = [(s, e) for s, e, _ in marks]
    for indicator in analysis.indicators:
        if not any(s < indicator.end and indicator.start < e for s, e in taken):
            marks.append((indicator.start, indicator.end, "c"))
            taken.append((indicator.start, indicator.end))
    parts: list[str] = []
    done = 0
    for start, end, style in sorted(marks):
        parts.append(rich_escape(text[done:start]))
        parts.append(f"[{style}]{rich_escape(text[start:end])}[/{style}]")
        done = end
    parts.append(rich_escape(text[done:]))
    return "".join(parts)


def old_diff_opcodes(old: str, new: str) -> int:
    """Return how many opcodes SequenceMatcher gives on the whole texts, as text_diff did."""
    matcher = SequenceMatcher(None, _TOKENS.findall(old), _TOKENS.findall(new), autojunk=False)
    return len(matcher.get_opcodes())


def seconds(run: Callable[..., object], *args: Any) -> tuple[float, object]:
    """Return the time one call takes and what it returned."""
    began = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000, 500_000])
    parser.add_argument("--old-up-to", type=int, default=500_000, help="skip old runs past this")
    args = parser.parse_args()
    print(
        f"{'chars':>8} {'spans':>6} {'old s':>8} {'new s':>7} {'ratio':>7} {'part s':>7}"
        f" {'cli old':>8} {'cli new':>8} {'ratio':>7}"
    )
    for size in args.sizes:
        text, spans = listing(size)
        new_s, new_html = seconds(highlight, text, spans)
        part_s, _ = seconds(page_part, text, spans)
        analysis = SimpleNamespace(
            mentions=[s for s in spans if s.rank == 0], indicators=[s for s in spans if s.rank]
        )
        cli_new, _ = seconds(_highlighted, text, analysis)
        old_s = cli_old = float("nan")
        if size <= args.old_up_to:
            old_s, old_html = seconds(old_highlight, text, spans)
            assert old_html == new_html, "the new highlight must give the old HTML"
            cli_old, _ = seconds(old_terminal, text, analysis)
        print(
            f"{size:>8} {len(spans):>6} {old_s:>8.2f} {new_s:>7.3f} {old_s / new_s:>6.0f}x"
            f" {part_s:>7.3f} {cli_old:>8.2f} {cli_new:>8.3f} {cli_old / cli_new:>6.0f}x"
        )
    print(f"\n{'diff chars':>10} {'old s':>7} {'new s':>7} {'ratio':>7}")
    rng = random.Random(3)
    for size in (10_000, 20_000):
        before = " ".join(rng.choice(WORDS) for _ in range(size // 5))[:size]
        after = " ".join(rng.choice(WORDS) for _ in range(size // 5))[:size]
        old_s, _ = seconds(old_diff_opcodes, before, after)
        new_s, _ = seconds(text_diff, before, after)
        print(f"{size:>10} {old_s:>7.2f} {new_s:>7.3f} {old_s / new_s:>6.0f}x")


if __name__ == "__main__":
    main()
