"""Mark substance mentions and indicators in a listing's text, escaping every piece of it.

Spans come from storage as character offsets. Overlapping spans are kept: where one span ends
inside another, the inner ``<mark>`` is closed and reopened so the HTML stays well nested and
every character is inside the marks of all spans that cover it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup, escape

from storage.models import Indicator, Mention

_ATTRIBUTE_NAME = re.compile(r"(?:data-[a-z][a-z0-9-]*|title)")
_NOT_TOKEN = re.compile(r"[^a-z0-9]+")

# Mentions are drawn outside indicators when both cover the same characters.
MENTION_RANK, INDICATOR_RANK = 0, 1


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch ``text[start:end]`` to mark with these CSS classes and attributes."""

    start: int
    end: int
    classes: str
    attributes: tuple[tuple[str, str], ...] = ()
    rank: int = 0

    def __post_init__(self) -> None:
        for name, _value in self.attributes:
            if not _ATTRIBUTE_NAME.fullmatch(name):
                raise ValueError(f"span attribute {name!r} is not data-* or title")

    def open_tag(self) -> Markup:
        """Return the ``<mark ...>`` that starts this span."""
        attributes = "".join(f' {name}="{escape(value)}"' for name, value in self.attributes)
        return Markup(f'<mark class="{escape(self.classes)}"{attributes}>')


def css_token(value: str) -> str:
    """Return a value as a safe CSS class fragment: lowercase letters, digits and dashes."""
    return _NOT_TOKEN.sub("-", value.lower()).strip("-") or "other"


def mention_span(mention: Mention) -> Span:
    """Return the span that marks a substance mention, coloured by its class."""
    label = f"{mention.name} ({mention.substance_class})"
    if mention.control:
        label += f", {mention.control}"
    return Span(
        mention.start,
        mention.end,
        f"mention cls-{css_token(mention.substance_class)}",
        (("data-concept", mention.concept_id), ("title", label)),
        MENTION_RANK,
    )


def indicator_span(indicator: Indicator) -> Span:
    """Return the span that marks a trafficking indicator, styled by its kind."""
    label = indicator.kind + (f": {indicator.value}" if indicator.value else "")
    return Span(
        indicator.start,
        indicator.end,
        f"indicator ind-{css_token(indicator.kind)}",
        (("title", label),),
        INDICATOR_RANK,
    )


def highlight(text: str, spans: Iterable[Span]) -> Markup:
    """Return ``text`` as HTML with each span wrapped in a ``<mark>``; all text is escaped."""
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
    """Return how many of the open spans, from the outermost, are still active."""
    kept = 0
    for span in stack:
        if span not in active:
            break
        kept += 1
    return kept
