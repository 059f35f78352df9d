"""An automaton over literal words finds what the regex alternation of those words finds."""

from __future__ import annotations

import random
import re

import pytest

from nlp.literals import Literals

WORDS = ["methyl", "ethyl", "eth", "yl", "fentanyl", "fentanyls", "pica", "inaca", "a"]


@pytest.mark.parametrize("word_end", [False, True])
def test_matches_are_those_of_re_finditer(word_end: bool) -> None:
    rng = random.Random(7)
    literals = Literals(WORDS)
    regex = re.compile("(?:" + "|".join(map(re.escape, WORDS)) + ")" + (r"\b" if word_end else ""))
    pieces = [*WORDS, " ", "-", "_", "x", "\u00e9", "1"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        expected = [(m.start(), m.end(), WORDS.index(m.group())) for m in regex.finditer(text)]
        assert literals.finditer(text, word_end=word_end) == expected, text


def test_word_ends_need_words_ending_in_word_characters() -> None:
    with pytest.raises(ValueError, match="word_end"):
        Literals(["a-"]).finditer("a-", word_end=True)
    with pytest.raises(ValueError, match="non-empty"):
        Literals([])
