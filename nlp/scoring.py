"""Turn mentions, indicators and context into a score, an offer flag and the reasons.

The score is a logistic of a sum, and every term of the sum is one Reason, so the reasons
explain the score exactly:

    score = logistic(bias + S + I + C)

S, substances: the surest substance not neutralised counts `class weight x confidence`; each
  further one `repeat_concept_factor` of that, all together at most `max_extra_substances`;
  all of it times `no_sale_substance_factor` when nothing shows a sale.
I, indicators: each indicator kind counts once; kinds are taken strongest first and the k-th
  (from 0) counts `weight x indicator_decay^k` -- evidence of a sale saturates, so a page
  listing every indicator stays below 1 and an analyst's queue keeps its order: a target
  substance with a price (~0.8) ranks below one with price, contact and shipping (~0.92),
  below one that adds wallet, purity and obfuscation (~0.96). Without a substance named
  surely, indicators count `no_substance_indicator_factor` of that (glassware with prices).
C, context: each context kind adds its (negative) weight, in proportion to its distinct cues
  up to `cancel_at`; reaching `cancel_at` cancels an offer outright.

An offer needs a substance of a target class (`target_classes`) named at least
`offer_min_confidence` surely and not
neutralised, sale evidence (`sale_evidence`), no cancelling context, and score >=
`offer_threshold`. All numbers live in `nlp/data/weights.toml`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from nlp.analysis import (
    CLASSES,
    CONTEXT_KINDS,
    INDICATOR_KINDS,
    Analysis,
    Candidate,
    Indicator,
    Reason,
)
from nlp.context import ContextResult
from nlp.errors import NlpDataError
from nlp.mentions import MentionHit
from nlp.signals import SIGNAL_KINDS, PageSignals

_INDICATOR_TEXT: dict[str, str] = {
    "quantity": "gives quantities",
    "price": "states prices",
    "bulk": "sells in bulk",
    "purity": "claims purity or lab analysis",
    "shipping": "ships",
    "payment": "takes payment by",
    "wallet": "gives a wallet address",
    "contact": "gives contact channels",
    "phone": "gives a phone number",
    "sale": "uses sale terms",
    "disclaimer": "carries a research-chemical disclaimer",
    "pill_press": "offers pressed pills",
    "relabel": "offers relabelling or false declarations",
    "cas": "gives CAS numbers",
    "obfuscation": "obfuscates substance names",
    "route": "routes",
}
_CONTEXT_TEXT: dict[str, str] = {
    "news": "reads as news reporting",
    "law_enforcement": "mentions law enforcement",
    "harm_reduction": "is about harm reduction",
    "medical": "gives medical or pharmacy information",
    "question": "asks about the substance",
    "negation": "negates the substance",
    "research": "reads as research",
    "wanted": "asks to buy, not to sell",
    "complaint": "warns about a seller",
    "merchandise": "sells a book, print or other merchandise",
}
_NEUTRALISED_TEXT: dict[str, str] = {
    "harm_reduction": "as a test or detection product",
    "negation": "negated",
    "question": "in a question",
    "topic": "as a topic",
}
_VIA_TEXT: dict[str, str] = {
    "misspelling": "misspelt",
    "fuzzy": "misspelt",
    "street_name": "by street name",
    "cas": "by CAS number",
    "analogue": "by analogue naming",
}
_MAX_LISTED = 3


@dataclass(frozen=True, slots=True)
class ContextWeight:
    """How a context kind lowers the score, and how many distinct cues cancel an offer."""

    weight: float
    cancel_at: int


@dataclass(frozen=True, slots=True)
class Weights:
    """The scoring weights of `nlp/data/weights.toml`."""

    bias: float
    offer_threshold: float
    offer_min_confidence: float
    repeat_concept_factor: float
    max_extra_substances: float
    indicator_decay: float
    no_sale_substance_factor: float
    no_substance_indicator_factor: float
    sale_evidence: tuple[str, ...]
    target_classes: tuple[str, ...]
    classes: dict[str, float]
    indicators: dict[str, float]
    context: dict[str, ContextWeight]
    signals: dict[str, float]


def _number(source: str, where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NlpDataError(source, f"{where} must be a number, not {value!r}")
    return float(value)


def _table(source: str, data: dict[str, Any], name: str, keys: Sequence[str]) -> dict[str, Any]:
    table = data.get(name)
    if not isinstance(table, dict):
        raise NlpDataError(source, f"missing table [{name}]")
    missing = [k for k in keys if k not in table]
    if missing:
        raise NlpDataError(source, f"[{name}] has no weight for {', '.join(missing)}")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise NlpDataError(source, f"[{name}] has unknown key(s) {', '.join(unknown)}")
    return table


def parse_weights(raw: str, source: str) -> Weights:
    """Parse and validate weights TOML; `source` names the file in errors."""
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise NlpDataError(source, f"invalid TOML: {exc}") from None
    score_keys = (
        "bias",
        "offer_threshold",
        "offer_min_confidence",
        "repeat_concept_factor",
        "max_extra_substances",
        "indicator_decay",
        "no_sale_substance_factor",
        "no_substance_indicator_factor",
        "sale_evidence",
        "target_classes",
    )
    score = _table(source, data, "score", score_keys)
    sale_evidence = score["sale_evidence"]
    if not isinstance(sale_evidence, list) or not set(sale_evidence) <= set(INDICATOR_KINDS):
        raise NlpDataError(source, f"[score] sale_evidence must list kinds of {INDICATOR_KINDS}")
    targets = score["target_classes"]
    if not isinstance(targets, list) or not targets or not set(targets) <= set(CLASSES):
        raise NlpDataError(source, f"[score] target_classes must list classes of {CLASSES}")
    if len(set(targets)) != len(targets):
        raise NlpDataError(source, "[score] target_classes lists a class twice")
    context: dict[str, ContextWeight] = {}
    for kind, entry in _table(source, data, "context", CONTEXT_KINDS).items():
        if not isinstance(entry, dict) or set(entry) != {"weight", "cancel_at"}:
            raise NlpDataError(source, f"[context.{kind}] needs exactly weight and cancel_at")
        cancel_at = entry["cancel_at"]
        if isinstance(cancel_at, bool) or not isinstance(cancel_at, int) or cancel_at < 0:
            raise NlpDataError(source, f"[context.{kind}] cancel_at must be an integer >= 0")
        context[kind] = ContextWeight(
            _number(source, f"[context.{kind}] weight", entry["weight"]), cancel_at
        )
    return Weights(
        bias=_number(source, "[score] bias", score["bias"]),
        offer_threshold=_number(source, "[score] offer_threshold", score["offer_threshold"]),
        offer_min_confidence=_number(
            source, "[score] offer_min_confidence", score["offer_min_confidence"]
        ),
        repeat_concept_factor=_number(
            source, "[score] repeat_concept_factor", score["repeat_concept_factor"]
        ),
        max_extra_substances=_number(
            source, "[score] max_extra_substances", score["max_extra_substances"]
        ),
        indicator_decay=_number(source, "[score] indicator_decay", score["indicator_decay"]),
        no_sale_substance_factor=_number(
            source, "[score] no_sale_substance_factor", score["no_sale_substance_factor"]
        ),
        no_substance_indicator_factor=_number(
            source, "[score] no_substance_indicator_factor", score["no_substance_indicator_factor"]
        ),
        sale_evidence=tuple(sale_evidence),
        target_classes=tuple(c for c in CLASSES if c in targets),
        classes={
            k: _number(source, f"[class] {k}", v)
            for k, v in _table(source, data, "class", CLASSES).items()
        },
        indicators={
            k: _number(source, f"[indicator] {k}", v)
            for k, v in _table(source, data, "indicator", INDICATOR_KINDS).items()
        },
        context=context,
        signals={
            k: _number(source, f"[signal] {k}", v)
            for k, v in _table(source, data, "signal", SIGNAL_KINDS).items()
        },
    )


@lru_cache(maxsize=8)
def load_weights(path: str = "") -> Weights:
    """Load the weights shipped in `nlp/data/weights.toml`, or the file at `path`."""
    if path:
        with open(path, encoding="utf-8") as handle:
            return parse_weights(handle.read(), path)
    resource = files("nlp") / "data" / "weights.toml"
    return parse_weights(resource.read_text(encoding="utf-8"), str(resource))


def logistic(x: float) -> float:
    """Squash a sum of weights into (0, 1)."""
    if x < -700:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _indicator_text(kind: str, values: Sequence[str]) -> str:
    if kind == "contact":
        channels = [v.capitalize() if v != "email" else "e-mail" for v in values]
        return f"{_listed(channels)} contact"
    if kind == "wallet":
        coins = list(dict.fromkeys(v.split(":", 1)[0] for v in values))
        return f"{_INDICATOR_TEXT[kind]} ({_listed(coins)}, checksum valid)"
    if kind == "route":
        return f"{_INDICATOR_TEXT[kind]}: {_listed([v.replace(':', ' ') for v in values])}"
    shown = [v.replace("_", " ") for v in values]
    return f"{_INDICATOR_TEXT[kind]}: {_listed(shown)}"


def _mention_reason(hit: MentionHit, weight: float) -> Reason:
    mention = hit.mention
    about = mention.substance_class.replace("_", " ") + " class"
    if mention.control:
        about += f", {mention.control}"
    text = f"names {mention.name} ({about})"
    if hit.via in _VIA_TEXT:
        text += f" {_VIA_TEXT[hit.via]} {mention.text!r}"
    return Reason(text, round(weight, 3))


def _substance_reasons(best: Sequence[MentionHit], weights: Weights, factor: float) -> list[Reason]:
    """The surest substance counts in full; further ones add a capped fraction."""
    ordered = sorted(
        best, key=lambda h: -weights.classes[h.mention.substance_class] * h.mention.confidence
    )
    reasons: list[Reason] = []
    budget = weights.max_extra_substances
    for rank, hit in enumerate(ordered):
        weight = weights.classes[hit.mention.substance_class] * hit.mention.confidence
        if rank:
            weight = min(weight * weights.repeat_concept_factor, budget)
            budget -= weight
        reasons.append(_mention_reason(hit, weight * factor))
    return reasons


def score_analysis(
    hits: Sequence[MentionHit],
    indicators: Sequence[Indicator],
    context: ContextResult,
    weights: Weights,
    *,
    candidates: Sequence[Candidate] = (),
    signals: PageSignals | None = None,
) -> Analysis:
    """Combine everything found in a text (and its page's signals) into its Analysis."""
    best: dict[str, MentionHit] = {}  # concept id -> surest mention not neutralised
    neutral: dict[str, tuple[MentionHit, str]] = {}
    for index, hit in enumerate(hits):
        concept_id = hit.mention.concept_id
        if index in context.neutralised:
            neutral.setdefault(concept_id, (hit, context.neutralised[index]))
        elif concept_id not in best or hit.mention.confidence > best[concept_id].mention.confidence:
            best[concept_id] = hit
    values: dict[str, list[str]] = {}
    for indicator in indicators:
        found = values.setdefault(indicator.kind, [])
        if indicator.value not in found:
            found.append(indicator.value)
    shown = signals.present() if signals is not None else {}
    sale = any(kind in values for kind in weights.sale_evidence) or bool(shown)

    reasons = [Reason("baseline", weights.bias)]
    substance_factor = 1.0 if sale else weights.no_sale_substance_factor
    reasons.extend(_substance_reasons(list(best.values()), weights, substance_factor))
    for concept_id, (hit, kind) in neutral.items():
        if concept_id not in best:
            reasons.append(
                Reason(f"mentions {hit.mention.name} only {_NEUTRALISED_TEXT[kind]}", 0.0)
            )
    # Indicators say what they say only beside a surely named substance: "spice, $5" is food.
    named = any(h.mention.confidence >= weights.offer_min_confidence for h in best.values())
    indicator_factor = 1.0 if named else weights.no_substance_indicator_factor
    # Evidence of a sale saturates: the strongest kind counts in full, each next one
    # `indicator_decay` times the one before, so a page listing everything stays below 1.
    present = [
        (weights.indicators[k], _indicator_text(k, values[k]))
        for k in INDICATOR_KINDS
        if k in values
    ]
    present.extend((weights.signals[k], text) for k, text in shown.items())
    present.sort(key=lambda p: -p[0])
    for rank, (base, text) in enumerate(present):
        weight = base * indicator_factor * weights.indicator_decay**rank
        reasons.append(Reason(text, round(weight, 3)))
    cancelled = False
    for kind in context.kinds:
        cues = context.cues[kind]
        setting = weights.context[kind]
        cancels = 0 < setting.cancel_at <= len(cues)
        cancelled = cancelled or cancels
        # Below its cancel_at a kind weighs in proportion: one "seized" is half a news story.
        share = min(1.0, len(cues) / setting.cancel_at) if setting.cancel_at else 1.0
        text = f"{_CONTEXT_TEXT[kind]}: {_listed(cues)}" + ("; cancels an offer" if cancels else "")
        reasons.append(Reason(text, round(setting.weight * share, 3)))

    for kind, cues in context.outside.items():
        text = f"{_CONTEXT_TEXT[kind]} only in site boilerplate or beside no offer: {_listed(cues)}"
        reasons.append(Reason(text, 0.0))

    score = logistic(sum(r.weight for r in reasons))
    offer = (
        any(
            h.mention.substance_class in weights.target_classes
            and h.mention.confidence >= weights.offer_min_confidence
            for h in best.values()
        )
        and sale
        and not cancelled
        and score >= weights.offer_threshold
    )
    return Analysis(
        mentions=tuple(h.mention for h in hits),
        indicators=tuple(indicators),
        context=context.kinds,
        score=round(score, 4),
        offer=offer,
        reasons=tuple(reasons),
        candidates=tuple(candidates),
    )
