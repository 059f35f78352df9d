"""One-edit misspellings of long names are found; ordinary words and codes are left alone."""

from __future__ import annotations

import pytest

from nlp import analyse, load_lexicon
from nlp.fuzzy import FuzzyMatcher, deletions, load_guard, within_one_edit
from nlp.lexicon import parse_lexicon


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        ("fentanyl", "fentanyl", True),
        ("fentanyl", "fentanly", True),  # neighbours swapped
        ("fentanyl", "fentanil", True),  # substituted
        ("fentanyl", "fentanyll", True),  # inserted
        ("fentanyl", "fntanyl", True),  # deleted
        ("fentanyl", "fentnayl", True),  # "an" swapped
        ("fentanyl", "fetnayl", False),  # two swaps apart
        ("fentanyl", "fetanil", False),
        ("fentanyl", "fentanylxx", False),
    ],
)
def test_within_one_edit(a: str, b: str, close: bool) -> None:
    assert within_one_edit(a, b) is close
    assert within_one_edit(b, a) is close


def test_deletions_include_the_word() -> None:
    assert deletions("abc") == {"abc", "bc", "ac", "ab"}


@pytest.mark.parametrize(
    ("written", "concept_id"),
    [
        ("carfentanill", "carfentanil"),
        ("isotonitazenne", "isotonitazene"),
        ("flubromazolan", "flubromazolam"),
        ("protonitazepine", "protonitazepyne"),
        ("codiene", "codeine"),
    ],
)
def test_misspelt_long_names_are_mentions_found_by_fuzzy_matching(
    written: str, concept_id: str
) -> None:
    text = f"{written} 1g $100"
    (mention,) = analyse(text).mentions
    assert (mention.concept_id, mention.method, text[mention.start : mention.end]) == (
        concept_id,
        "fuzzy",
        written,
    )
    assert mention.confidence == 0.85


@pytest.mark.parametrize(
    "text",
    [
        "morphing shapes",  # a dictionary word one edit from morphine
        "methylene blue",  # methylone
        "ethylene glycol",  # ethylone
        "the heroine of the story",
        "3-MMX and 4-CMD",  # codes are never fuzzy-matched
        "a" * 5000,
    ],
)
def test_ordinary_words_and_codes_are_not_fuzzy_matched(text: str) -> None:
    assert [m for m in analyse(text).mentions if m.method == "fuzzy"] == []


def test_a_word_one_edit_from_two_concepts_is_left_alone() -> None:
    rows = [
        '{"id": "a", "name": "Pentylone", "class": "synthetic_cathinone", "control": ""}',
        '{"id": "b", "name": "Pentalone", "class": "synthetic_cathinone", "control": ""}',
    ]
    matcher = FuzzyMatcher(parse_lexicon("\n".join(rows), "two.jsonl"), ())
    # "pentylone" and "pentalone" are both one edit from "pentulone".
    assert matcher.concept_of("pentulone") is None
    assert matcher.concept_of("pentylonne") == "a"


def test_a_word_with_another_first_letter_is_no_misspelling() -> None:
    matcher = FuzzyMatcher(load_lexicon(), ())
    assert matcher.concept_of("pentanyl") is None  # a look-alike brand, not fentanyl
    assert matcher.concept_of("fentanyk") == "fentanyl"


def test_every_one_edit_variant_of_a_name_keeps_its_first_or_last_three_letters() -> None:
    # The shortcut that dismisses most words before a lookup (FuzzyMatcher._heads, _tails).
    matcher = FuzzyMatcher(load_lexicon(), ())
    keys = sorted({key for pairs in matcher.index.values() for key, _ in pairs})
    letters = "abcdefghijklmnopqrstuvwxyz"
    for key in keys[::10]:
        variants = {key[:i] + c + key[i:] for i in range(len(key) + 1) for c in letters}
        variants |= {key[:i] + c + key[i + 1 :] for i in range(len(key)) for c in letters}
        variants |= deletions(key)
        variants |= {key[:i] + key[i + 1] + key[i] + key[i + 2 :] for i in range(len(key) - 1)}
        for word in variants:
            assert word[:3] in matcher._heads or word[-3:] in matcher._tails, (key, word)
    assert matcher.concept_of("zqxwvkjbrmq") is None
    assert matcher._cache == {}  # dismissed without a cache entry


def test_the_guard_is_packaged() -> None:
    guard = load_guard()
    assert {"morphing", "ethylene"} <= guard


def test_a_letter_lost_to_a_broken_encoding_is_matched_at_its_place() -> None:
    from nlp import analyse

    assert analyse("Xa\ufffdax 4 Bar 2mg").concept_ids == ("alprazolam",)
    assert analyse("Alpra\ufffdolam 1mg").concept_ids == ("alprazolam",)
    assert analyse("caf\ufffd latte, 2 for \u00a35").concept_ids == ()
