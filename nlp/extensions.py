"""Custom Doc attributes the components read and write, registered once."""

from __future__ import annotations

from typing import Any

from spacy.tokens import Doc

# sw_signals:     PageSignals | None     set by the Analyser before the components run
# sw_normalised:  Normalised             set by the tokenizer
# sw_windows:     Windows                set by the tokenizer: the parts of the text the Doc holds
# sw_matches:     dict[str, list[Match]] set by cas, analogues and fuzzy (nlp.mentions SPAN_KEYS)
# sw_unknown_cas: list[tuple[int, int]]  set by synthwatch_cas_v1 (valid, not in the lexicon)
# sw_mentions:    list[MentionHit]       set by synthwatch_mentions_v1
# sw_indicators:  list[Indicator]        set by synthwatch_indicators_v1
# sw_candidates:  list[Candidate]        set by synthwatch_candidates_v1
# sw_context:     ContextResult          set by synthwatch_context_v1
# sw_analysis:    Analysis               set by synthwatch_scoring_v1
DOC_ATTRIBUTES: tuple[str, ...] = (
    "sw_signals",
    "sw_normalised",
    "sw_windows",
    "sw_matches",
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


def _key(name: str) -> tuple[str, str, None, None]:
    # Where spaCy's Underscore keeps `doc._.<name>` (tests/nlp/test_windows.py checks it).
    return ("._.", name, None, None)


_KEYS = {name: _key(name) for name in DOC_ATTRIBUTES}


def get(doc: Doc, name: str) -> Any:
    """Return `doc._.<name>` without building an Underscore (2 µs a time, 40 a text)."""
    user_data: dict[Any, Any] = doc.user_data  # typed dict[str, Any] by spaCy, keyed by tuples
    return user_data.get(_KEYS[name])


def put(doc: Doc, name: str, value: object) -> None:
    """Set `doc._.<name>`."""
    user_data: dict[Any, Any] = doc.user_data
    user_data[_KEYS[name]] = value
