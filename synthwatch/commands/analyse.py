"""``synthwatch analyse`` and ``synthwatch eval``: run the nlp pipeline on files.

``analyse FILE|-`` prints one text's analysis with its mentions and indicators highlighted;
``analyse --jsonl IN --out OUT`` analyses lines ``{"id", "text"}`` in batches;
``eval FILE.jsonl`` measures the pipeline against labelled lines (see ``nlp.evaluate``): offers,
per hard-case kind and overall with the benign false-offer rate, classes and spans, then the
errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from synthwatch.commands.common import Subparsers, err, out
from synthwatch.errors import UsageError

if TYPE_CHECKING:
    from nlp import Analysis

# nlp (and spaCy with it) is imported by the handlers only: every other subcommand of
# `synthwatch` would otherwise pay for loading it.

_CLASS_STYLE = "bold red"
_INDICATOR_STYLE = "bold cyan"
# rich takes about a millisecond to lay out a table row: the 60,000 spans of a 1 MB text took
# 50 s. The tables show this many rows; --jsonl writes every span.
_MAX_TABLE_ROWS = 500


def register(sub: Subparsers) -> None:
    analyse = sub.add_parser("analyse", help="analyse listing text: substances, indicators, score")
    analyse.add_argument("file", nargs="?", help="a text file, or - for standard input")
    analyse.add_argument("--jsonl", type=Path, metavar="IN", help='lines {"id", "text"} to analyse')
    analyse.add_argument("--out", type=Path, metavar="OUT", help="where --jsonl writes results")
    analyse.add_argument(
        "--candidates", type=Path, metavar="FILE", help="with --jsonl: write lexicon candidates"
    )
    analyse.set_defaults(handler=run_analyse)

    evaluation = sub.add_parser("eval", help="measure the analysis against labelled texts")
    evaluation.add_argument("file", type=Path, help='lines {"id", "text", "offer", "classes"}')
    evaluation.add_argument("--no-errors", action="store_true", help="print the measures only")
    evaluation.set_defaults(handler=run_eval)


def run_analyse(args: argparse.Namespace) -> int:
    """Analyse one text, or a JSONL file of texts."""
    if args.jsonl is not None:
        if args.file is not None:
            raise UsageError("give either FILE or --jsonl IN, not both")
        if args.out is None:
            raise UsageError("--jsonl needs --out OUT")
        return _analyse_jsonl(args.jsonl, args.out, args.candidates)
    if args.file is None:
        raise UsageError("give a FILE (or - for standard input) or --jsonl IN --out OUT")
    from nlp import Analyser

    text = sys.stdin.read() if args.file == "-" else _read(Path(args.file))
    analysis = Analyser().analyse(text)
    _print_analysis(text, analysis)
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not UTF-8 text ({error.reason})") from error


def record(item_id: Any, analysis: Analysis) -> dict[str, Any]:
    """Return the output line of one analysed text."""
    return {
        "id": item_id,
        "offer": analysis.offer,
        "score": analysis.score,
        "reasons": [r.text for r in analysis.reasons],
        "substances": [
            {
                "concept": m.concept_id,
                "class": m.substance_class,
                "text": m.text,
                "start": m.start,
                "end": m.end,
                "method": m.method,
            }
            for m in analysis.mentions
        ],
        "indicators": [
            {
                "kind": i.kind,
                "value": i.value,
                "text": i.text,
                "start": i.start,
                "end": i.end,
                "key": i.key,
            }
            for i in analysis.indicators
        ],
    }


def _lines(path: Path, handle: IO[str]) -> Iterator[tuple[Any, str]]:
    for line_no, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}:{line_no}: invalid JSON: {error.msg}") from error
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise UsageError(f'{path}:{line_no}: expected an object with a string "text"')
        yield row.get("id"), row["text"]


def _analyse_jsonl(source: Path, target: Path, candidates: Path | None) -> int:
    from nlp import Analyser
    from nlp.candidates import CandidateTally

    analyser = Analyser()
    tally = CandidateTally()
    ids: list[Any] = []

    def texts(handle: IO[str]) -> Iterator[str]:
        for item_id, text in _lines(source, handle):
            ids.append(item_id)
            yield text

    count = offers = 0
    try:
        with source.open(encoding="utf-8") as inp, target.open("w", encoding="utf-8") as output:
            for n, analysis in enumerate(analyser.analyse_many(texts(inp))):
                output.write(json.dumps(record(ids[n], analysis), ensure_ascii=False) + "\n")
                tally.add(analysis.candidates, source=str(ids[n]))
                count += 1
                offers += analysis.offer
    except OSError as error:
        raise UsageError(f"{error.filename}: {error.strerror}") from error
    if candidates is not None:
        with candidates.open("w", encoding="utf-8") as handle:
            for entry in tally.most_common():
                line = {"term": entry.term, "count": entry.count, "examples": entry.examples}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    err.print(f"{count} texts analysed, {offers} offers, written to {target}", highlight=False)
    return 0


def _highlighted(text: str, analysis: Analysis) -> str:
    marks: list[tuple[int, int, str]] = [(m.start, m.end, _CLASS_STYLE) for m in analysis.mentions]
    # One byte per character says whether a mark covers it: checking an indicator against the
    # marks costs its own length, not the number of marks (quadratic on a 1 MB text).
    taken = bytearray(len(text))
    for start, end, _style in marks:
        taken[start:end] = b"\x01" * len(taken[start:end])
    for indicator in analysis.indicators:
        if taken.find(1, indicator.start, indicator.end) < 0:
            marks.append((indicator.start, indicator.end, _INDICATOR_STYLE))
            taken[indicator.start : indicator.end] = b"\x01" * len(
                taken[indicator.start : indicator.end]
            )
    parts: list[str] = []
    done = 0
    for start, end, style in sorted(marks):
        if start < done:  # overlaps a mark already printed: printing it would repeat its text
            continue
        parts.append(escape(text[done:start]))
        parts.append(f"[{style}]{escape(text[start:end])}[/{style}]")
        done = end
    parts.append(escape(text[done:]))
    return "".join(parts)


def _print_analysis(text: str, analysis: Analysis) -> None:
    verdict = "[bold red]OFFER[/bold red]" if analysis.offer else "[green]no offer[/green]"
    out.print(f"{verdict}  score {analysis.score:.3f}")
    out.print(_highlighted(text, analysis))
    if analysis.mentions:
        table = Table("substance", "class", "control", "as written", "method", "where")
        for m in analysis.mentions[:_MAX_TABLE_ROWS]:
            table.add_row(
                m.name, m.substance_class, m.control, escape(m.text), m.method, f"{m.start}-{m.end}"
            )
        out.print(table)
        _more(len(analysis.mentions), "mentions")
    if analysis.indicators:
        table = Table("indicator", "value", "as written", "where")
        for i in analysis.indicators[:_MAX_TABLE_ROWS]:
            table.add_row(i.kind, escape(i.value), escape(i.text), f"{i.start}-{i.end}")
        out.print(table)
        _more(len(analysis.indicators), "indicators")
    if analysis.context:
        out.print("context: " + ", ".join(analysis.context), highlight=False)
    out.print("reasons:")
    for reason in analysis.reasons:
        out.print(f"  {reason.weight:+.2f}  {escape(reason.text)}", highlight=False)
    for candidate in analysis.candidates:
        out.print(f"candidate: {escape(candidate.term)}  ({escape(candidate.context)})")


def _more(count: int, what: str) -> None:
    if count > _MAX_TABLE_ROWS:
        shown = f"{_MAX_TABLE_ROWS:,} of {count:,} {what} shown; analyse --jsonl lists them all"
        out.print(shown, highlight=False)


def run_eval(args: argparse.Namespace) -> int:
    """Print precision, recall and F1 for offers, classes and spans; list the errors."""
    from nlp import Analyser, NlpDataError
    from nlp.evaluate import evaluate, format_report, load_gold

    try:
        gold = load_gold(args.file)
    except OSError as error:
        raise UsageError(f"{args.file}: {error.strerror}") from error
    except NlpDataError as error:
        raise UsageError(str(error)) from error
    analyses = Analyser().analyse_many(item.item() for item in gold)
    report = evaluate(gold, analyses)
    out.print(escape(format_report(report, errors=not args.no_errors)), highlight=False)
    return 0
