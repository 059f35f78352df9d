"""Find literal words as a regex alternation of them would, with one Aho-Corasick pass.

Python's regex engine tries every branch of "methyl|ethyl|..." at every position of the text;
an automaton reads the text once. `Literals.finditer` keeps the regex's answers: at each
position the first word of the alternation that matches there (and, with `word_end`, ends
a word, as "\\b" after a word ending in a letter), then on from its end.
"""

from __future__ import annotations

from collections.abc import Sequence

import ahocorasick_rs


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what re's \w matches


class Literals:
    """The words of an alternation, in its order."""

    def __init__(self, words: Sequence[str]) -> None:
        if not words or not all(words):
            raise ValueError("an alternation needs non-empty words")
        self.words = tuple(words)
        self._word_ends = all(_word_char(word[-1]) for word in self.words)
        self._automaton = ahocorasick_rs.AhoCorasick(list(self.words))

    def finditer(self, text: str, *, word_end: bool = False) -> list[tuple[int, int, int]]:
        """Return (start, end, index of the word) of each match, as `re.finditer` would."""
        if word_end and not self._word_ends:
            raise ValueError("word_end needs words that end in a word character")
        best: dict[int, tuple[int, int]] = {}  # start -> (index, end)
        for index, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            if word_end and end < len(text) and _word_char(text[end]):
                continue
            if start not in best or index < best[start][0]:
                best[start] = (index, end)
        found: list[tuple[int, int, int]] = []
        done = 0
        for start in sorted(best):
            if start >= done:
                index, end = best[start]
                found.append((start, end, index))
                done = end
        return found
