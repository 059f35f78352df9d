"""A tiny stand-in for `nlp.Analyser`, shaped like its API: offers are texts naming fentanyl."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FakeMention:
    start: int
    end: int
    text: str
    concept_id: str = "fentanyl"
    name: str = "Fentanyl"
    substance_class: str = "fentanyl"
    control: str = "US Schedule II"
    confidence: float = 1.0


@dataclass(frozen=True)
class FakeIndicator:
    kind: str
    start: int
    end: int
    text: str
    value: str = ""


@dataclass(frozen=True)
class FakeReason:
    text: str
    weight: float


@dataclass(frozen=True)
class FakeAnalysis:
    mentions: tuple[FakeMention, ...] = ()
    indicators: tuple[FakeIndicator, ...] = ()
    context: tuple[str, ...] = ()
    score: float = 0.0
    offer: bool = False
    reasons: tuple[FakeReason, ...] = field(default_factory=tuple)


class KeywordAnalyser:
    """Flag a text as an offer when it names fentanyl and a price in dollars."""

    def __init__(self, *, rebuild_every: int = 5000) -> None:
        self.rebuild_every = rebuild_every

    def analyse(self, text: str) -> FakeAnalysis:
        lowered = text.lower()
        start = lowered.find("fentanyl")
        if start < 0:
            return FakeAnalysis()
        mention = FakeMention(start, start + 8, text[start : start + 8])
        dollar = text.find("$")
        indicators = (FakeIndicator("price", dollar, dollar + 4, text[dollar : dollar + 4]),)
        offer = dollar >= 0
        return FakeAnalysis(
            mentions=(mention,),
            indicators=indicators if offer else (),
            score=0.9 if offer else 0.3,
            offer=offer,
            reasons=(FakeReason("names fentanyl", 0.6),),
            context=("question",) if "?" in text else (),
        )
