"""Custom Doc attributes the components read and write, registered once."""

from __future__ import annotations

from spacy.tokens import Doc

# sw_signals:     PageSignals | None     set by the Analyser before the components run
# sw_normalised:  Normalised             set by the tokenizer
# sw_unknown_cas: list[tuple[int, int]]  set by synthwatch_cas_v1 (valid, not in the lexicon)
# sw_mentions:    list[MentionHit]       set by synthwatch_mentions_v1
# sw_indicators:  list[Indicator]        set by synthwatch_indicators_v1
# sw_candidates:  list[Candidate]        set by synthwatch_candidates_v1
# sw_context:     ContextResult          set by synthwatch_context_v1
# sw_analysis:    Analysis               set by synthwatch_scoring_v1
DOC_ATTRIBUTES: tuple[str, ...] = (
    "sw_signals",
    "sw_normalised",
    "sw_unknown_cas",
    "sw_mentions",
    "sw_indicators",
    "sw_candidates",
    "sw_context",
    "sw_analysis",
)


def register_extensions() -> None:
    """Register the Doc attributes unless already registered."""
    for name in DOC_ATTRIBUTES:
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)
