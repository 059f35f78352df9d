"""Lexicon candidates: unknown chemical-looking names and CAS numbers beside sale indicators.

A name is chemical-looking when it is built from chemical naming parts ("N-desethyl-",
"-fluoro-", "...pyrrolidinophenone") or is a code name ("U-48800", "ADB-5Br-INACA"). It is a
candidate when no lexicon term or analogue naming already covers it, the text shows a sale,
and it stands within `NEAR` characters of a price, quantity, purity or CAS indicator -- the
product line of a listing. `CandidateTally` counts them over many texts for curation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from nlp.analysis import Candidate, Indicator, Mention
from nlp.cues import grouped_alternation
from nlp.literals import Literals
from nlp.normalise import Normalised

CANDIDATE_CONTEXT = 60
NEAR = 160
MAX_PER_TEXT = 10
_NEAR_KINDS = frozenset({"price", "quantity", "purity", "cas", "bulk"})
_SALE_KINDS = frozenset({"price", "contact", "phone", "wallet", "payment", "sale", "bulk"})

_PARTS = (
    "methyl|ethyl|propyl|butyl|pentyl|hexyl|heptyl|phenyl|benzyl|fluoro|chloro|bromo|iodo"
    "|methoxy|ethoxy|hydroxy|nitro|amino|anilino|piperid|pyrrolid|morpholin|indazol|indol"
    "|carboxam|carboxyl|azepam|azolam|cathinone|tryptamine|phenethyl|fentan|nitazen|inaca"
    "|pica|phenone|orphine|ketamine|cyclidine|amphetamine|desethyl|desmethyl|deschloro"
)
# Find a naming part, then widen to the whole hyphenated name around it: one pass of a plain
# alternation, where a single regex with the name's shape around it backtracks at every letter.
CHEMICAL_PART = re.compile(grouped_alternation(_PARTS.split("|")))
# The same alternation as one automaton: five times faster on 2 KB (nlp.literals).
_CHEMICAL_PARTS = Literals(_PARTS.split("|"))
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-,()")
# Code names ("U-48800", "ADB-5Br-INACA"): a capital or digit first lets the engine skip
# lowercase text; the rest of the shape (a digit, two capitals, a free start) is checked in
# `_is_code`.
CODE = re.compile(r"[A-Z0-9][A-Za-z0-9]{0,7}(?:-[A-Za-z0-9]{1,8}){1,3}(?![\w-])")
_NOT_CODES = re.compile(r"^(?:covid|iso|sars|mp|a|b|x|usb|rs|mil|en|din|astm|cas|ref|sku)-", re.I)
_MIN_CHEMICAL = 9
# A code (ASCII by CODE) holds a digit and two capitals: two searches, no loop per character.
_DIGIT = re.compile(r"[0-9]")
_TWO_CAPITALS = re.compile(r"[A-Z][^A-Z]*[A-Z]")


def _is_code(text: str, start: int, code: str) -> bool:
    if start and (text[start - 1].isalnum() or text[start - 1] in "_-"):
        return False
    if _DIGIT.search(code) is None or _TWO_CAPITALS.search(code) is None:
        return False
    return _NOT_CODES.match(code) is None


def _widen(lower: str, start: int, end: int) -> tuple[int, int]:
    """Widen a naming part to the name around it, without unbalanced edges."""
    while start > 0 and lower[start - 1] in _NAME_CHARS:
        start -= 1
    while end < len(lower) and lower[end] in _NAME_CHARS:
        end += 1
    while start < end and lower[start] in "-,(":
        start += 1
    while end > start and lower[end - 1] in "-,)":
        end -= 1
    name = lower[start:end]
    if name.count("(") != name.count(")"):
        name = name.strip("()")
        start = lower.index(name, start)
        end = start + len(name)
    return start, end


def _near(start: int, end: int, anchors: Sequence[tuple[int, int]]) -> bool:
    return any(s - NEAR < end and start < e + NEAR for s, e in anchors)


def find_candidates(
    normalised: Normalised,
    mentions: Sequence[Mention],
    indicators: Sequence[Indicator],
    unknown_cas: Iterable[tuple[int, int]] = (),
) -> list[Candidate]:
    """Return candidates in a text; offsets and texts are of the original text."""
    if not any(i.kind in _SALE_KINDS for i in indicators):
        return []
    anchors = [(i.start, i.end) for i in indicators if i.kind in _NEAR_KINDS]
    if not anchors:
        return []
    covered = [(m.start, m.end) for m in mentions]
    original = normalised.original
    spans: dict[tuple[int, int], None] = {}
    for start, end in unknown_cas:
        spans[normalised.to_original(start, end)] = None
    text = normalised.text
    lower = text.lower()
    end = -1
    for part_start, part_end, _ in _CHEMICAL_PARTS.finditer(lower):
        if part_start < end:
            continue  # inside the name found last
        start, end = _widen(lower, part_start, part_end)
        if end - start >= _MIN_CHEMICAL:
            spans[normalised.to_original(start, end)] = None
    for match in CODE.finditer(text):
        if _is_code(text, match.start(), match.group()):
            spans[normalised.to_original(*match.span())] = None
    found: list[Candidate] = []
    for start, end in sorted(spans):
        if any(s < end and start < e for s, e in covered) or not _near(start, end, anchors):
            continue
        if found and found[-1].end > start:
            continue  # overlaps the previous candidate
        left = max(0, start - CANDIDATE_CONTEXT)
        context = " ".join(original[left : end + CANDIDATE_CONTEXT].split())
        found.append(Candidate(original[start:end], start, end, context))
        if len(found) >= MAX_PER_TEXT:
            break
    return found


@dataclass
class TallyEntry:
    """How often a candidate term was seen, and a few example contexts."""

    term: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


class CandidateTally:
    """Count candidates over many analyses, by case- and separator-insensitive term."""

    def __init__(self, max_examples: int = 3) -> None:
        self.max_examples = max_examples
        self.entries: dict[str, TallyEntry] = {}

    def add(self, candidates: Iterable[Candidate], source: str = "") -> None:
        """Count each candidate once per call (one text); keep its context as an example."""
        seen: set[str] = set()
        for candidate in candidates:
            key = "".join(re.findall(r"[a-z0-9]+", candidate.term.lower()))
            if not key or key in seen:
                continue
            seen.add(key)
            entry = self.entries.setdefault(key, TallyEntry(candidate.term))
            entry.count += 1
            if len(entry.examples) < self.max_examples:
                prefix = f"{source}: " if source else ""
                entry.examples.append(prefix + candidate.context)

    def most_common(self, limit: int | None = None) -> list[TallyEntry]:
        """Return entries by count, then term."""
        ranked = sorted(self.entries.values(), key=lambda e: (-e.count, e.term.lower()))
        return ranked[:limit] if limit is not None else ranked
