"""Names glued to punctuation or split by invisible characters are found, offsets intact."""

from __future__ import annotations

import pytest

from nlp import analyse


@pytest.mark.parametrize(
    ("text", "written", "concept_id"),
    [
        ("Meth|3.5g|$120", "Meth", "methamphetamine"),
        ("MDMA.A++ crystals", "MDMA", "mdma"),
        ("50*Xanax 2mg", "Xanax", "alprazolam"),
        ("pure heroin(#4)", "heroin", "heroin"),
        ("cocaine- 1g", "cocaine", "cocaine"),
        ("Bromazolam|1mg", "Bromazolam", "bromazolam"),
        ("3.5g Cocaine****Off the brick", "Cocaine", "cocaine"),
        ("fen\x00tanyl 1g", "fen\x00tanyl", "fentanyl"),
        ("fen\x07tanyl 1g", "fen\x07tanyl", "fentanyl"),
        ("fen\x7ftanyl 1g", "fen\x7ftanyl", "fentanyl"),
        ("fen\u3164tanyl 1g", "fen\u3164tanyl", "fentanyl"),
        ("fen\u00a0tanyl 1g", "fen\u00a0tanyl", "fentanyl"),
        ("Xa\u00f1ax 2mg", "Xa\u00f1ax", "alprazolam"),
    ],
)
def test_glued_and_hidden_names_are_found(text: str, written: str, concept_id: str) -> None:
    mentions = [m for m in analyse(text).mentions if m.concept_id == concept_id]
    assert [m.text for m in mentions][:1] == [written]
    assert text[mentions[0].start : mentions[0].end] == written


@pytest.mark.parametrize("text", ["Fen\u00a0tanks aquarium filters", "Pizza|Pasta|Salads"])
def test_blanks_between_ordinary_words_stay_blanks(text: str) -> None:
    assert analyse(text).mentions == ()


def test_handles_and_addresses_stay_whole() -> None:
    assert analyse("Telegram @npp_chemlab, mail anpp-sales@example.com").mentions == ()
