"""Normalisation undoes obfuscation and keeps a map back to the original offsets."""

from __future__ import annotations

import re

import pytest

from nlp.lexicon import load_lexicon
from nlp.normalise import Normaliser, OffsetMap


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser(load_lexicon().vocabulary())


@pytest.mark.parametrize(
    ("original", "normalised", "kind"),
    [
        ("Acetyl-F3ntanyl", "Acetyl-Fentanyl", "leetspeak"),
        ("c@rf3nt4n1l", "carfentanil", "leetspeak"),  # @ -> a, 1 -> i
        ("acety1fentany1", "acetylfentanyl", "leetspeak"),  # 1 -> l
        ("1SOTON1TAZENE", "iSOTONiTAZENE", "leetspeak"),  # digits at the word's edge too
        ("bromazo1am", "bromazolam", "leetspeak"),
        ("me$caline", "mescaline", "leetspeak"),
        ("m e t o n i t a z e n e", "metonitazene", "spaced_letters"),
        ("p.r.o.t.o.n.i.t.a.z.e.n.e", "protonitazene", "spaced_letters"),
        ("Carfent\u200banil", "Carfentanil", "zero_width"),
        ("fen\u200c\u200dtanyl", "fentanyl", "zero_width"),
        ("iso\u2060tonitazene", "isotonitazene", "zero_width"),
        ("\ufeffbroma\ufeffzolam", "bromazolam", "zero_width"),
        ("F\u0435ntanyl", "Fentanyl", "homoglyph"),  # Cyrillic e
        ("\u0441arfentanil", "carfentanil", "homoglyph"),  # Cyrillic es
    ],
)
def test_obfuscation_is_undone_and_recorded(
    normaliser: Normaliser, original: str, normalised: str, kind: str
) -> None:
    result = normaliser(f"Buy {original} now")
    assert result.text == f"Buy {normalised} now"
    assert kind in result.edit_kinds(4, 4 + len(original))


@pytest.mark.parametrize(
    ("original", "normalised"),
    [
        ("\uff2d\uff24\uff2d\uff22\uff0d\uff14\uff45\uff4e", "MDMB-4en"),  # full-width
        ("3\u2011MMC", "3-MMC"),  # non-breaking hyphen
        ("4\u2013ANPP", "4-ANPP"),  # en dash
        ("\u03b1-PVP", "alpha-PVP"),
        ("fentany\u0301l", "fentanyl"),  # combining accent
        ("5\u00a0g", "5 g"),  # no-break space
    ],
)
def test_characters_are_folded(normaliser: Normaliser, original: str, normalised: str) -> None:
    assert normaliser(original).text == normalised


@pytest.mark.parametrize(
    "text",
    [
        "3-MMC and 4-ANPP, MDMB-4en-PINACA, 25I-NBOMe, 5F-ADB, 2C-B, U-47700",
        "M30 blues, 5g, 24h, b2b, mp3, 1kg, 100mg, covid19",
        "US$120 vendor@example.org CAS 79099-07-3",
        "a b c",  # three single letters are not a spaced word
    ],
)
def test_ordinary_text_is_left_alone(normaliser: Normaliser, text: str) -> None:
    result = normaliser(text)
    assert result.text == text
    assert result.edits == ()


def test_words_in_other_scripts_are_left_alone(normaliser: Normaliser) -> None:
    text = "\u0444\u0435\u043d\u0442\u0430\u043d\u0438\u043b"  # Russian for fentanyl
    assert normaliser(text).text == text


@pytest.mark.parametrize(
    "text",
    [
        "Buy Acetyl-F3ntanyl now",
        "m e t o n i t a z e n e 5 g \u20ac80/g",
        "Carfent\u200banil \uff11\uff10\uff47 ships",
        "\ufeffF\u0435nt\u200b4nyl \u00e9t\u00e9 \ufb01ne \u2014 \u03b1-PHP",
        "e\u0301\u0301 zalgo\u0301 p r o t o n i t a z e n e",
    ],
)
def test_every_normalised_word_maps_back_to_its_original(normaliser: Normaliser, text: str) -> None:
    result = normaliser(text)
    for word in re.finditer(r"\S+", result.text):
        start, end = result.to_original(*word.span())
        original = text[start:end]
        assert original.strip() == original, (word.group(), original)
        assert normaliser(original).text == word.group()


def test_offsets_of_an_unchanged_text_are_the_identity(normaliser: Normaliser) -> None:
    result = normaliser("Carfentanil 5g $120")
    assert result.maps == ()
    assert result.to_original(0, 11) == (0, 11)


def test_offset_map_maps_copies_linearly_and_replacements_whole() -> None:
    source = "ab\ufb01cd"  # the ligature becomes "fi"
    offset_map = OffsetMap()
    offset_map.copy(source, 0, 2)
    offset_map.replace(2, 3, "fi")
    offset_map.copy(source, 3, 5)
    assert offset_map.text() == "abficd"
    assert offset_map.span(0, 2) == (0, 2)
    assert offset_map.span(2, 3) == (2, 3)  # half of the ligature is all of it
    assert offset_map.span(1, 5) == (1, 4)
    assert offset_map.span(3, 3) == (2, 2)
