"""Show what changed between two versions of a listing's text, word by word, escaped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from markupsafe import Markup, escape

_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True, slots=True)
class TextDiff:
    """The marked-up difference and how many words were taken out and put in."""

    html: Markup
    removed: int
    added: int

    @property
    def unchanged(self) -> bool:
        """Say whether the texts are the same."""
        return not (self.removed or self.added)


def text_diff(old: str, new: str) -> TextDiff:
    """Return ``new`` with words gone from ``old`` in ``<del>`` and new words in ``<ins>``."""
    before, after = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[Markup] = []
    removed = added = 0
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            gone = "".join(before[a1:a2])
            removed += sum(1 for token in before[a1:a2] if not token.isspace())
            out.append(Markup('<del class="diff-del">{}</del>').format(gone))
        if op in ("insert", "replace"):
            put = "".join(after[b1:b2])
            added += sum(1 for token in after[b1:b2] if not token.isspace())
            out.append(Markup('<ins class="diff-ins">{}</ins>').format(put))
        if op == "equal":
            out.append(escape("".join(after[b1:b2])))
    return TextDiff(Markup("").join(out), removed, added)
