"""Characters a reader can't see: dropped from text shown as a label, marked in evidence.

A seller hides words from filters with zero-width spaces, direction controls (which can also
reorder what a reader sees), variation selectors and blank letters such as the Hangul filler.
Exports show titles without them (``visible_text``); the referral report shows the text as
written with each one replaced by a visible mark of the same length (``mark_invisible``), so
offsets into the text still hold. What counts as invisible is nlp's rule
(`nlp.normalise.is_invisible`), the one nlp reads through.
"""

from __future__ import annotations

import re
import unicodedata

from nlp.normalise import is_invisible

# Shown in place of an invisible character in evidence text: one character for one.
INVISIBLE_MARK = "\u25af"  # ▯ WHITE VERTICAL RECTANGLE
# Line breaks and tabs are layout, not hiding: kept in evidence text.
_LAYOUT = frozenset("\t\n\r")
_SPACES = re.compile(r"\s+")


def visible_text(text: str) -> str:
    """Return one line of text without invisible characters, its blanks folded to one space."""
    kept = "".join(
        " " if char in _LAYOUT or unicodedata.category(char) in ("Zl", "Zp") else char
        for char in text
        if char in _LAYOUT or not is_invisible(char)
    )
    return _SPACES.sub(" ", kept).strip()


def mark_invisible(text: str) -> str:
    """Return the text with each invisible character (but line breaks and tabs) made visible."""
    return "".join(
        INVISIBLE_MARK if char not in _LAYOUT and is_invisible(char) else char for char in text
    )


def invisible_count(text: str) -> int:
    """Count the invisible characters of a text, line breaks and tabs left out."""
    return sum(1 for char in text if char not in _LAYOUT and is_invisible(char))
