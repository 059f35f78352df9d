"""One-edit misspellings of long substance names ("fentanly", "isotonitazine", "carfentenil").

A symmetric-deletion index: a word is within one edit (insertion, deletion, substitution or
transposition of neighbours) of a name only if they share a one-deletion variant, so a lookup
costs a handful of dict probes instead of a scan of the lexicon. Guards: only alphabetic names
of `FUZZY_MIN_LENGTH`+ letters are indexed (codes such as "3-MMC" differ by one character from
other substances), a word one edit from two concepts is left alone, and so is any dictionary
word one edit from a name (`fuzzy_guard.txt`, written by `nlp.build_lexicon`: "morphing" is
not morphine), and so is a word whose first letter differs from the name's: misspellers keep
it, look-alike brand and shop names change it ("Pentanyl", "Ketamyne" stays, "Betamine" not).

A letter lost to a broken encoding ("Xa\ufffdax", U+FFFD REPLACEMENT CHARACTER where the "n"
was) is a known position, so names from `LOST_LETTER_MIN_LENGTH` letters are matched there:
the rest of the word must spell the name exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from nlp.lexicon import Lexicon, term_key

FUZZY_MIN_LENGTH = 7
LOST_LETTER_MIN_LENGTH = 5
_LOST = "\ufffd"
# Results are cached per word: listing text repeats its vocabulary, so after warm-up almost
# every word costs one dict probe. The cache is dropped when it grows past this many words
# (some 150 bytes each with the set of plain words: a crawl of novel vocabulary fills both).
_CACHE_LIMIT = 50_000


def deletions(word: str) -> set[str]:
    """Return the word and every string made by deleting one of its characters."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def within_one_edit(a: str, b: str) -> bool:
    """Return whether a and b differ by at most one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


@dataclass(frozen=True, slots=True)
class FuzzyHit:
    """A word of the text that misspells a name of `concept_id`, as a span of that text."""

    start: int
    end: int
    concept_id: str


@lru_cache(maxsize=4)
def load_guard(path: str = "") -> frozenset[str]:
    """Load the words fuzzy matching must leave alone (`nlp/data/fuzzy_guard.txt` or `path`)."""
    if path:
        with open(path, encoding="utf-8") as handle:
            raw = handle.read()
    else:
        raw = (files("nlp") / "data" / "fuzzy_guard.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in raw.splitlines() if line.strip() and line[0] != "#"
    )


class FuzzyMatcher:
    """Find one-edit misspellings of the lexicon's long alphabetic names and synonyms."""

    def __init__(self, lexicon: Lexicon, guard: Iterable[str] = ()) -> None:
        self.known = lexicon.vocabulary()
        self.guard = frozenset(guard)
        self.index: dict[str, set[tuple[str, str]]] = {}  # variant -> {(key, concept id)}
        for concept in lexicon:
            for term, kind in concept.terms():
                key = term_key(term)
                # Listed misspellings are not indexed: one edit from a misspelling
                # is two from the name ("pentanyl" is one from "phentanyl").
                if kind in ("street_name", "misspelling"):
                    continue
                if len(key) < FUZZY_MIN_LENGTH or not key.isalpha():
                    continue
                for variant in deletions(key):
                    self.index.setdefault(variant, set()).add((key, concept.id))
        # (name without the letter at i, i) -> concept ids, for words with a lost letter
        self.lost: dict[tuple[str, int], set[str]] = {}
        for concept in lexicon:
            for term, kind in concept.terms():
                key = term_key(term)
                if kind == "misspelling" or len(key) < LOST_LETTER_MIN_LENGTH:
                    continue
                if not key.isalpha():
                    continue
                for i in range(len(key)):
                    self.lost.setdefault((key[:i] + key[i + 1 :], i), set()).add(concept.id)
        self._lost_words = re.compile(rf"(?<![a-z0-9])[a-z]*{_LOST}[a-z]*(?![a-z0-9])")
        self._cache: dict[str, str | None] = {}
        self._plain: set[str] = set()  # words known to misspell nothing
        # A word one edit from a name of 7+ letters keeps its first three or its last three
        # letters: others (most novel words) are dismissed without a lookup or a cache entry.
        keys = {key for pairs in self.index.values() for key, _ in pairs}
        self._heads = frozenset(key[:3] for key in keys)
        self._tails = frozenset(key[-3:] for key in keys)
        # Only words one letter shorter or longer than an indexed name can be one edit away;
        # the upper bound also keeps a 100 KB run of letters from being looked at.
        longest = max((len(v) for v in self.index), default=FUZZY_MIN_LENGTH) + 1
        self._words = re.compile(
            rf"(?<![a-z0-9])[a-z]{{{FUZZY_MIN_LENGTH - 1},{longest}}}(?![a-z0-9])"
        )

    def concept_of(self, word: str) -> str | None:
        """Return the concept a lowercase word misspells, or None."""
        if word[:3] not in self._heads and word[-3:] not in self._tails:
            return None
        cached = self._cache.get(word, "")
        if cached != "":
            return cached
        result = self._lookup(word)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = result
        return result

    def _lookup(self, word: str) -> str | None:
        if word in self.known or word in self.guard:
            return None
        found: set[str] = set()
        for variant in deletions(word):
            for key, concept_id in self.index.get(variant, ()):
                # Misspellings keep the first letter; brands playing on a name change it
                # ("Pentanyl Creative Studio" is no fentanyl).
                if concept_id not in found and word[0] == key[0] and within_one_edit(word, key):
                    found.add(concept_id)
        return found.pop() if len(found) == 1 else None

    def _lost_letter(self, word: str) -> str | None:
        """Return the concept a word with one lost letter ("xa\ufffdax") spells, or None."""
        if word.count(_LOST) != 1 or len(word) < LOST_LETTER_MIN_LENGTH:
            return None
        i = word.index(_LOST)
        found = self.lost.get((word.replace(_LOST, ""), i), set())
        return next(iter(found)) if len(found) == 1 else None

    def find(self, lower: str) -> Iterator[FuzzyHit]:
        """Yield misspelt names in lowercased text."""
        if _LOST in lower:
            for match in self._lost_words.finditer(lower):
                concept_id = self._lost_letter(match.group())
                if concept_id is not None:
                    yield FuzzyHit(match.start(), match.end(), concept_id)
        # Nearly every text has none: one pass over its distinct words (strings, no match
        # objects) finds that out; only a text with a hit is scanned again for offsets.
        plain = self._plain
        found = False
        heads, tails = self._heads, self._tails
        for word in set(self._words.findall(lower)) - plain:
            if word[:3] not in heads and word[-3:] not in tails:
                continue
            if self.concept_of(word) is not None:
                found = True
            elif len(plain) < _CACHE_LIMIT:
                plain.add(word)
        if not found:
            return
        for match in self._words.finditer(lower):
            concept_id = self.concept_of(match.group())
            if concept_id is not None:
                yield FuzzyHit(match.start(), match.end(), concept_id)
