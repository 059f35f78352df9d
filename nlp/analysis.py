"""Result types of an analysis: what other packages store, render and export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLASSES: tuple[str, ...] = (
    "fentanyl",
    "nitazene",
    "other_synthetic_opioid",
    "opioid",
    "synthetic_cannabinoid",
    "synthetic_cathinone",
    "designer_benzodiazepine",
    "benzodiazepine",
    "amphetamine",
    "phenethylamine",
    "tryptamine",
    "arylcyclohexylamine",
    "other_nps",
    "precursor",
    "cannabis",
    "cocaine",
    "psychedelic",
    "other_drug",
)

# Which classes are flagged when offered is configuration: `target_classes` in
# nlp/data/weights.toml (`nlp.TARGET_CLASSES` is read from there).

INDICATOR_KINDS: tuple[str, ...] = (
    "quantity",
    "price",
    "bulk",
    "purity",
    "shipping",
    "payment",
    "wallet",
    "contact",
    "phone",
    "sale",
    "disclaimer",
    "pill_press",
    "relabel",
    "cas",
    "obfuscation",
    "route",
)

# How a mention was found: a lexicon term in any spelling, a one-edit misspelling of a long
# name, a CAS number, or analogue naming ("...fentanyl", "x-MMC") for an unlisted substance.
MENTION_METHODS: tuple[str, ...] = ("lexicon", "fuzzy", "cas", "pattern")

CONTEXT_KINDS: tuple[str, ...] = (
    "news",
    "law_enforcement",
    "harm_reduction",
    "medical",
    "question",
    "negation",
    "research",
    "wanted",
    "complaint",
    "merchandise",
)


@dataclass(frozen=True, slots=True)
class Mention:
    """A substance named in the text; offsets point into the original text."""

    start: int
    end: int
    text: str
    concept_id: str
    name: str
    substance_class: str
    control: str
    confidence: float
    method: str = "lexicon"  # one of MENTION_METHODS

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "concept_id": self.concept_id,
            "name": self.name,
            "substance_class": self.substance_class,
            "control": self.control,
            "confidence": self.confidence,
            "method": self.method,
        }


@dataclass(frozen=True, slots=True)
class Indicator:
    """A trafficking indicator (price, quantity, ...); offsets point into the original text.

    `key` is the identifier a contact, phone, e-mail, payment or wallet indicator names, in
    one spelling ("wickr:chemking", "phone:+447700900123", "btc:bc1q..."; see
    `nlp.identifiers`), or None when it names none ("message us on Signal", a price).
    """

    kind: str
    start: int
    end: int
    text: str
    value: str
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "value": self.value,
            "key": self.key,
        }


@dataclass(frozen=True, slots=True)
class Reason:
    """One contribution to the score; the weights of all reasons sum to the score's logit."""

    text: str
    weight: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"text": self.text, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class Candidate:
    """An unknown chemical-looking name or CAS number beside sale indicators: lexicon material.

    `term` is the name as written and `context` the text around it (both from the original
    text, at most `CANDIDATE_CONTEXT` characters either side).
    """

    term: str
    start: int
    end: int
    context: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"term": self.term, "start": self.start, "end": self.end, "context": self.context}


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the text names, what it offers and why."""

    mentions: tuple[Mention, ...]
    indicators: tuple[Indicator, ...]
    context: tuple[str, ...]
    score: float
    offer: bool
    reasons: tuple[Reason, ...]
    candidates: tuple[Candidate, ...] = ()

    @property
    def concept_ids(self) -> tuple[str, ...]:
        """Return the distinct concept ids mentioned, in order of first mention."""
        return tuple(dict.fromkeys(m.concept_id for m in self.mentions))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "mentions": [m.to_dict() for m in self.mentions],
            "indicators": [i.to_dict() for i in self.indicators],
            "context": list(self.context),
            "score": self.score,
            "offer": self.offer,
            "reasons": [r.to_dict() for r in self.reasons],
            "candidates": [c.to_dict() for c in self.candidates],
        }
