"""Measure analyses against labelled texts: offers, substance classes, CAS/wallet/contact spans.

A gold file is JSONL, one text a line:
    {"id": "b2b-001", "text": "...", "offer": true, "classes": ["precursor"],
     "spans": [{"kind": "cas", "start": 10, "end": 20}, ...],
     "kind": "sale_evidence", "signals": {"offer_price": "49.90", "add_to_cart": true}}
`classes` are the substance classes the text names (offered or not); `spans` are optional and,
when a text has any, must list every CAS number, wallet address and contact handle or number
in it: a found span that overlaps none counts against precision. `kind` (optional) names the
failure kind a hard case tests: offers are measured per kind too. `signals` (optional) are
the page's structured signals, the keyword arguments of `nlp.PageSignals.of`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nlp.analysis import CLASSES, Analysis
from nlp.errors import NlpDataError
from nlp.signals import PageSignals

_SIGNAL_FIELDS = frozenset(
    {"jsonld_offer", "offer_price", "offer_currency", "availability", "price_field", "add_to_cart"}
)

SPAN_KINDS: tuple[str, ...] = ("cas", "wallet", "contact")
# Indicator kinds counted as each gold span kind ("contact" covers phone numbers too).
_PREDICTED_KINDS: dict[str, frozenset[str]] = {
    "cas": frozenset({"cas"}),
    "wallet": frozenset({"wallet"}),
    "contact": frozenset({"contact", "phone"}),
}


@dataclass(frozen=True, slots=True)
class GoldSpan:
    """A labelled span: kind and offsets into the text."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class GoldText:
    """One labelled text."""

    id: str
    text: str
    offer: bool
    classes: frozenset[str]
    spans: tuple[GoldSpan, ...]
    kind: str = ""
    signals: PageSignals | None = None
    has_spans: bool = True  # False: the line gives no "spans", which are then not measured

    def item(self) -> tuple[str, PageSignals | None]:
        """Return what `Analyser.analyse_many` takes for this text."""
        return self.text, self.signals


@dataclass
class Counts:
    """True positives, false positives and false negatives, and the measures made of them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    """The measures over a gold set and the texts that went wrong."""

    texts: int = 0
    offer: Counts = field(default_factory=Counts)
    classes: Counts = field(default_factory=Counts)  # micro-averaged over (text, class)
    per_class: dict[str, Counts] = field(default_factory=dict)
    spans: dict[str, Counts] = field(default_factory=dict)
    per_kind: dict[str, Counts] = field(default_factory=dict)  # offers, by the text's kind
    negatives: int = 0  # texts labelled not an offer
    errors: list[str] = field(default_factory=list)

    @property
    def false_offer_rate(self) -> float:
        """Return the share of texts labelled not an offer that were flagged."""
        return self.offer.fp / self.negatives if self.negatives else 0.0


def parse_gold_line(raw: str, source: str, line: int) -> GoldText:
    """Parse and check one gold line; errors name the file and line."""
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise NlpDataError(source, f"invalid JSON: {exc.msg}", line) from None
    if not isinstance(row, dict):
        raise NlpDataError(source, "each line must be a JSON object", line)
    text, offer, classes = row.get("text"), row.get("offer"), row.get("classes", [])
    if not isinstance(row.get("id"), str) or not isinstance(text, str):
        raise NlpDataError(source, "'id' and 'text' must be strings", line)
    if not isinstance(offer, bool):
        raise NlpDataError(source, f"{row['id']}: 'offer' must be true or false", line)
    if not isinstance(classes, list) or not set(classes) <= set(CLASSES):
        raise NlpDataError(source, f"{row['id']}: 'classes' must list classes of {CLASSES}", line)
    spans: list[GoldSpan] = []
    for span in row.get("spans", []):
        kind, start, end = span.get("kind"), span.get("start"), span.get("end")
        if kind not in SPAN_KINDS or not isinstance(start, int) or not isinstance(end, int):
            raise NlpDataError(source, f"{row['id']}: bad span {span!r}", line)
        if not 0 <= start < end <= len(text):
            raise NlpDataError(source, f"{row['id']}: span {span!r} outside the text", line)
        spans.append(GoldSpan(kind, start, end))
    kind, signals = row.get("kind", ""), row.get("signals")
    if not isinstance(kind, str):
        raise NlpDataError(source, f"{row['id']}: 'kind' must be a string", line)
    if signals is not None and (not isinstance(signals, dict) or set(signals) - _SIGNAL_FIELDS):
        raise NlpDataError(
            source, f"{row['id']}: 'signals' must be an object of {sorted(_SIGNAL_FIELDS)}", line
        )
    page = PageSignals.of(**signals) if signals is not None else None
    return GoldText(
        row["id"], text, offer, frozenset(classes), tuple(spans), kind, page, "spans" in row
    )


def load_gold(path: str | Path) -> list[GoldText]:
    """Load a gold JSONL file."""
    items: list[GoldText] = []
    with open(path, encoding="utf-8") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if raw.strip():
                items.append(parse_gold_line(raw, str(path), line_no))
    if not items:
        raise NlpDataError(str(path), "no labelled texts")
    return items


def predicted_spans(analysis: Analysis) -> dict[str, list[tuple[int, int]]]:
    """Return the CAS, wallet and contact spans an analysis found, by gold span kind."""
    found: dict[str, list[tuple[int, int]]] = {kind: [] for kind in SPAN_KINDS}
    for indicator in analysis.indicators:
        for kind, kinds in _PREDICTED_KINDS.items():
            if indicator.kind in kinds:
                found[kind].append((indicator.start, indicator.end))
    for kind in found:
        found[kind] = sorted(set(found[kind]))
    return found


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(gold: Sequence[GoldText], analyses: Iterable[Analysis]) -> Report:
    """Compare analyses (in the order of `gold`) with the labels."""
    report = Report(per_class={c: Counts() for c in CLASSES})
    report.spans = {kind: Counts() for kind in SPAN_KINDS}
    for item, analysis in zip(gold, analyses, strict=True):
        report.texts += 1
        report.negatives += not item.offer
        by_kind = report.per_kind.setdefault(item.kind, Counts()) if item.kind else Counts()
        if analysis.offer and item.offer:
            report.offer.tp += 1
            by_kind.tp += 1
        elif analysis.offer:
            report.offer.fp += 1
            by_kind.fp += 1
            report.errors.append(f"{item.id}: flagged as an offer, labelled not ({_why(analysis)})")
        elif item.offer:
            report.offer.fn += 1
            by_kind.fn += 1
            report.errors.append(f"{item.id}: offer missed ({_why(analysis)})")
        predicted = {m.substance_class for m in analysis.mentions}
        for substance_class in CLASSES:
            counts = report.per_class[substance_class]
            is_gold, is_found = substance_class in item.classes, substance_class in predicted
            counts.tp += is_gold and is_found
            counts.fp += is_found and not is_gold
            counts.fn += is_gold and not is_found
        extra, missing = predicted - item.classes, item.classes - predicted
        report.classes.tp += len(predicted & item.classes)
        report.classes.fp += len(extra)
        report.classes.fn += len(missing)
        if extra or missing:
            found = ", ".join(f"{m.text!r}={m.substance_class}" for m in analysis.mentions)
            report.errors.append(
                f"{item.id}: classes extra {sorted(extra)} missing {sorted(missing)} "
                f"(found {found or 'nothing'})"
            )
        found_spans = predicted_spans(analysis)
        for kind in SPAN_KINDS if item.has_spans else ():
            gold_spans = [(s.start, s.end) for s in item.spans if s.kind == kind]
            counts = report.spans[kind]
            for span in found_spans[kind]:
                if any(_overlap(span, g) for g in gold_spans):
                    counts.tp += 1
                else:
                    counts.fp += 1
                    report.errors.append(
                        f"{item.id}: {kind} {item.text[span[0] : span[1]]!r} is not labelled"
                    )
            for span in gold_spans:
                if not any(_overlap(span, f) for f in found_spans[kind]):
                    counts.fn += 1
                    report.errors.append(
                        f"{item.id}: {kind} {item.text[span[0] : span[1]]!r} missed"
                    )
    return report


def _why(analysis: Analysis) -> str:
    shown = [f"{r.text} {r.weight:+.2f}" for r in analysis.reasons[1:]]
    return f"score {analysis.score:.2f}: " + ("; ".join(shown) or "no reasons")


def format_report(report: Report, *, errors: bool = True) -> str:
    """Return the report as text: a table of measures, then the errors."""

    def row(name: str, counts: Counts) -> str:
        return (
            f"{name:<26} {counts.precision:6.3f} {counts.recall:6.3f} {counts.f1:6.3f}"
            f" {counts.tp:5d} {counts.fp:4d} {counts.fn:4d}"
        )

    lines = [
        f"{report.texts} texts",
        f"{'':<26} {'P':>6} {'R':>6} {'F1':>6} {'tp':>5} {'fp':>4} {'fn':>4}",
    ]
    lines.append(row("offer", report.offer))
    for kind, counts in sorted(report.per_kind.items()):
        lines.append(row(f"  offer, {kind}", counts))
    lines.append(
        f"{'benign false-offer rate':<26} {report.false_offer_rate:6.3f}"
        f" ({report.offer.fp} of {report.negatives})"
    )
    lines.append(row("classes (micro)", report.classes))
    for substance_class, counts in report.per_class.items():
        if counts.tp + counts.fp + counts.fn:
            lines.append(row(f"  {substance_class}", counts))
    for kind, counts in report.spans.items():
        lines.append(row(f"span {kind}", counts))
    if errors and report.errors:
        lines.append(f"\n{len(report.errors)} errors:")
        lines.extend(f"  {e}" for e in report.errors)
    return "\n".join(lines)
