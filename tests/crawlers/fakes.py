"""A tiny stand-in for `nlp.Analyser` (no spaCy to load): offers are texts naming fentanyl."""

from __future__ import annotations

import time

from nlp import Analysis, Indicator, Mention, PageSignals, Reason


class KeywordAnalyser:
    """Flag a text as an offer when it names fentanyl and a price in dollars."""

    def __init__(self, *, rebuild_every: int | None = None) -> None:
        self.rebuild_every = rebuild_every

    def analyse(self, text: str, signals: PageSignals | None = None) -> Analysis:
        start = text.lower().find("fentanyl")
        if start < 0:
            return Analysis(
                mentions=(), indicators=(), context=(), score=0.0, offer=False, reasons=()
            )
        mention = Mention(
            start=start,
            end=start + 8,
            text=text[start : start + 8],
            concept_id="fentanyl",
            name="Fentanyl",
            substance_class="fentanyl",
            control="US Schedule II",
            confidence=1.0,
        )
        dollar = text.find("$")
        offer = dollar >= 0
        price = Indicator(
            kind="price", start=dollar, end=dollar + 4, text=text[dollar : dollar + 4], value=""
        )
        return Analysis(
            mentions=(mention,),
            indicators=(price,) if offer else (),
            context=("question",) if "?" in text else (),
            score=0.9 if offer else 0.3,
            offer=offer,
            reasons=(Reason(text="names fentanyl", weight=0.6),),
        )


class SlowStartAnalyser(KeywordAnalyser):
    """A `KeywordAnalyser` that takes seconds to build, as spaCy does on a loaded machine."""

    SECONDS = 4.0

    def __init__(self, *, rebuild_every: int | None = None) -> None:
        time.sleep(self.SECONDS)
        super().__init__(rebuild_every=rebuild_every)


class FailingAnalyser(KeywordAnalyser):
    """A `KeywordAnalyser` that raises on a text naming `FAIL_WORD`, as spaCy does on some."""

    FAIL_WORD = "make-the-analyser-fail"

    def analyse(self, text: str, signals: PageSignals | None = None) -> Analysis:
        if self.FAIL_WORD in text:
            raise ValueError(f"[E088] Text of length {len(text)} exceeds maximum")
        return super().analyse(text, signals)
