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


# SequenceMatcher's time grows with the words before times the words after of the stretch that
# differs: 15 s for two 50,000-character texts of few distinct words. Past this many pairs, the
# differing stretch (after the common beginning and end) is one deletion and one insertion.
MAX_COMPARED_PAIRS = 2_000_000


def text_diff(old: str, new: str) -> TextDiff:
    """Return ``new`` with words gone from ``old`` in ``<del>`` and new words in ``<ins>``."""
    before, after = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[Markup] = []
    removed = added = 0
    for op, a1, a2, b1, b2 in _opcodes(before, after):
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


def _opcodes(before: list[str], after: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Return SequenceMatcher opcodes, comparing word by word only what a bounded cost allows."""
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    a2, b2 = len(before) - tail, len(after) - tail
    if (a2 - head) * (b2 - head) <= MAX_COMPARED_PAIRS:
        matcher = SequenceMatcher(None, before[head:a2], after[head:b2], autojunk=False)
        middle = [
            (op, i1 + head, i2 + head, j1 + head, j2 + head)
            for op, i1, i2, j1, j2 in matcher.get_opcodes()
            if i1 < i2 or j1 < j2
        ]
    else:
        middle = [("replace", head, a2, head, b2)]
    edges = [("equal", 0, head, 0, head)] if head else []
    tail_op = [("equal", a2, len(before), b2, len(after))] if tail else []
    return edges + middle + tail_op
