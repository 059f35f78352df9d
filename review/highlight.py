"""Mark substance mentions and indicators in a listing's text, escaping every piece of it.

Spans come from storage as character offsets. Overlapping spans are kept: where one span ends
inside another, the inner ``<mark>`` is closed and reopened so the HTML stays well nested and
every character is inside the marks of all spans that cover it (up to ``MAX_DEPTH`` of them).
Long texts are shown in parts (``text_parts``), the spans cut to each (``clip``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import pairwise

from markupsafe import Markup, escape

from storage.models import Indicator, Mention

_ATTRIBUTE_NAME = re.compile(r"(?:data-[a-z][a-z0-9-]*|title)")
_NOT_TOKEN = re.compile(r"[^a-z0-9]+")

# Mentions are drawn outside indicators when both cover the same characters.
MENTION_RANK, INDICATOR_RANK = 0, 1

# At most this many marks are open on one character. Real listings nest two or three (a mention
# inside an indicator inside another); the bound keeps a crafted pile of long, staggered spans
# from making the HTML (every open mark is closed and reopened where one below it ends)
# quadratic in the spans. Deeper spans are still listed in the case page's tables.
MAX_DEPTH = 8


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


def highlight(text: str, spans: Iterable[Span], *, max_depth: int = MAX_DEPTH) -> Markup:
    """Return ``text`` as HTML with each span wrapped in a ``<mark>``; all text is escaped.

    One sweep over the span boundaries: at each boundary only the marks that end there and the
    ones opened above them are closed (and the latter reopened), so the work is linear in the
    text and the spans, times ``max_depth`` at most. A span that would start where ``max_depth``
    marks are already open is not marked.
    """
    valid = sorted(
        dict.fromkeys(s for s in spans if 0 <= s.start < s.end <= len(text)),
        key=lambda s: (s.start, -s.end, s.rank),
    )
    tags = [s.open_tag() for s in valid]
    boundaries = sorted({0, len(text)} | {s.start for s in valid} | {s.end for s in valid})
    out: list[str] = []
    stack: list[int] = []  # indices into ``valid``, outermost first; their order is the sort's
    following = 0  # the first span of ``valid`` not yet reached
    for left, right in pairwise(boundaries):
        keep = next((k for k, n in enumerate(stack) if valid[n].end <= left), len(stack))
        out.extend("</mark>" for _closed in stack[keep:])
        reopened = [n for n in stack[keep:] if valid[n].end > left]
        del stack[keep:]
        while following < len(valid) and valid[following].start == left:
            if keep + len(reopened) < max_depth:
                reopened.append(following)
            following += 1
        reopened.sort()
        stack += reopened
        out.extend(tags[n] for n in reopened)
        out.append(escape(text[left:right]))
    out.extend("</mark>" for _open in stack)
    return Markup("".join(out))


# Characters of listing text on one part of the case page. A crawled text may hold 4.8 million;
# 50,000 (some 25 screens) mark up in about 0.1 s even with a span every dozen characters and keep
# the page light. A part ends at a whitespace within its last _CUT_SLACK characters when there is
# one, so a word is rarely split across two parts.
PAGE_CHARS = 50_000
_CUT_SLACK = 1_000


@dataclass(frozen=True, slots=True)
class TextPart:
    """Part ``number`` (from 1) of ``count``: the characters ``start`` to ``end`` of the text."""

    number: int
    count: int
    start: int
    end: int


def text_parts(text: str, size: int = PAGE_CHARS) -> list[TextPart]:
    """Return the parts the text is shown in, a whitespace ending each where one is near."""
    bounds: list[tuple[int, int]] = []
    start = 0
    while True:
        end = len(text) if len(text) - start <= size else start + size
        if end < len(text):
            space = max(text.rfind(c, max(start, end - _CUT_SLACK), end) for c in " \n\t")
            end = space + 1 if space > start else end
        bounds.append((start, end))
        if end >= len(text):
            break
        start = end
    return [TextPart(n, len(bounds), s, e) for n, (s, e) in enumerate(bounds, start=1)]


def clip(spans: Iterable[Span], part: TextPart) -> list[Span]:
    """Return the spans that cover characters of the part, cut to it and counted from its start."""
    return [
        replace(
            s, start=max(s.start, part.start) - part.start, end=min(s.end, part.end) - part.start
        )
        for s in spans
        if s.start < part.end and part.start < s.end
    ]
