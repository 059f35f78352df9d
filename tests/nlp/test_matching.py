"""Substance mentions: lexicon terms in any spelling, CAS numbers, analogues, exact offsets."""

from __future__ import annotations

import pytest

from nlp import analyse, load_lexicon
from nlp.patterns import lexicon_patterns, term_variants


def _mentions(text: str) -> list[tuple[str, str]]:
    """(concept id, original text at the mention's offsets) for each mention."""
    return [(m.concept_id, text[m.start : m.end]) for m in analyse(text).mentions]


@pytest.mark.parametrize(
    ("written", "concept_id"),
    [
        ("Acetyl-F3ntanyl", "acetylfentanyl"),
        ("m e t o n i t a z e n e", "metonitazene"),
        ("Carfent\u200banil", "carfentanil"),
        ("MDMB-4en-PINACA", "mdmb-4en-pinaca"),
        ("mdmb 4en pinaca", "mdmb-4en-pinaca"),
        ("MDMB4enPINACA", "mdmb-4en-pinaca"),
        ("1-Boc-4-piperidone", "1-boc-4-piperidone"),
        ("1 boc 4 piperidone", "1-boc-4-piperidone"),
        ("4-ANPP", "4-anpp"),
        ("4 ANPP", "4-anpp"),
        ("3-MMC", "3-mmc"),
        ("3MMC", "3-mmc"),
        ("ISOTONITAZENE", "isotonitazene"),
        (
            "\uff29\uff33\uff2f\uff34\uff2f\uff2e\uff29\uff34\uff21\uff3a\uff25\uff2e\uff25",
            "isotonitazene",
        ),
        ("Flubr0mazolam", "flubromazolam"),
        ("br0maz0lam", "bromazolam"),
        ("4aco-dmt", "4-aco-dmt"),
        ("\u03b1-PVP", "alpha-pvp"),
        ("F\u0435ntanyl", "fentanyl"),
        ("acetyl fentanyl", "acetylfentanyl"),
        ("U-47700", "u-47700"),
        ("N-Boc-4-piperidone", "1-boc-4-piperidone"),
    ],
)
def test_obfuscated_and_variant_names_resolve_with_original_offsets(
    written: str, concept_id: str
) -> None:
    text = f"Top quality {written}, in stock."
    assert _mentions(text) == [(concept_id, written)]


def test_several_mentions_keep_their_own_offsets() -> None:
    text = "C\u200barfentanil & m e t o n i t a z e n e & Acetyl-F3ntanyl & \u0418 3-MMC"
    assert _mentions(text) == [
        ("carfentanil", "C\u200barfentanil"),
        ("metonitazene", "m e t o n i t a z e n e"),
        ("acetylfentanyl", "Acetyl-F3ntanyl"),
        ("3-mmc", "3-MMC"),
    ]


def test_mention_carries_the_concept() -> None:
    (mention,) = analyse("carfentanil").mentions
    assert (mention.concept_id, mention.name, mention.substance_class, mention.control) == (
        "carfentanil",
        "Carfentanil",
        "fentanyl",
        "US Schedule II",
    )
    assert mention.confidence == 1.0


@pytest.mark.parametrize(
    ("text", "concept_id", "cas"),
    [
        ("tert-butyl ester, CAS 79099-07-3, 99%", "1-boc-4-piperidone", "79099-07-3"),
        ("CAS:21409-26-7 in stock", "4-anpp", "21409-26-7"),
        ("(CAS No. 2504100-70-1)", "mdmb-4en-pinaca", "2504100-70-1"),
    ],
)
def test_cas_number_resolves_to_its_concept(text: str, concept_id: str, cas: str) -> None:
    assert _mentions(text) == [(concept_id, cas)]


@pytest.mark.parametrize("text", ["CAS 79099-09-3", "lot 12-34-5", "tel 555-12-3456"])
def test_cas_numbers_failing_the_check_digit_or_unknown_are_ignored(text: str) -> None:
    assert analyse(text).mentions == ()


def test_longest_match_wins() -> None:
    assert _mentions("1-Boc-4-piperidone and 4-piperidone") == [
        ("1-boc-4-piperidone", "1-Boc-4-piperidone"),
        ("4-piperidone", "4-piperidone"),
    ]


@pytest.mark.parametrize(
    ("text", "concept_id", "confidence"),
    [
        ("pressed M30s", "oxycodone", 0.8),  # street name
        ("carfentanill", "carfentanil", 0.85),  # one edit from a long name
        ("ortho-methylfentanyl", "fentanyl-analogue", 0.8),  # analogue naming
        ("N-pyrrolidino-butonitazepyne", "nitazene-analogue", 0.8),
        ("fentanly", "fentanyl", 0.9),  # misspelling
        ("What are nitazenes?", "nitazene-analogue", 1.0),
    ],
)
def test_weaker_matches_have_lower_confidence(
    text: str, concept_id: str, confidence: float
) -> None:
    mentions = analyse(text).mentions
    assert [(m.concept_id, m.confidence) for m in mentions] == [(concept_id, confidence)]


@pytest.mark.parametrize("text", ["fentanylbased", "Sufentanil", "acetone, toluene, ethanol"])
def test_analogue_naming_needs_a_prefix_and_an_unlisted_word(text: str) -> None:
    assert all(m.concept_id != "fentanyl-analogue" for m in analyse(text).mentions)


def test_term_variants_cover_hyphen_space_and_joined_spellings() -> None:
    assert term_variants("MDMB-4en-PINACA") >= {
        "mdmb-4en-pinaca",
        "mdmb 4en pinaca",
        "mdmb4enpinaca",
        "mdmb4en-pinaca",
    }
    assert term_variants("4-AP") == {"4-ap", "4ap"}  # too short to allow "4 ap"
    assert term_variants("Bromazolam") == {"bromazolam"}


def test_every_pattern_has_a_concept_id_and_a_term_kind() -> None:
    lexicon = load_lexicon()
    patterns = lexicon_patterns(lexicon)
    assert {p["id"] for p in patterns} == {c.id for c in lexicon}
    assert {p["label"] for p in patterns} <= {"name", "synonym", "misspelling", "street_name"}


@pytest.mark.parametrize(
    ("written", "concept_id"),
    [
        ("ADB-5Br-INACA", "synthetic-cannabinoid-analogue"),
        ("MDMB-7en-PICA", "synthetic-cannabinoid-analogue"),
        ("2-BMC", "synthetic-cathinone-analogue"),
        ("alpha-PHiP", "synthetic-cathinone-analogue"),
        ("clobromazolam", "designer-benzodiazepine-analogue"),
        ("ethoxynitazepyne", "nitazene-analogue"),
    ],
)
def test_analogue_naming_gives_a_class_level_mention(written: str, concept_id: str) -> None:
    text = f"New in: {written} 5 g $90"
    (mention,) = analyse(text).mentions
    assert (mention.concept_id, mention.method, mention.confidence) == (concept_id, "pattern", 0.8)
    assert text[mention.start : mention.end].endswith(written.split("-")[-1])


@pytest.mark.parametrize("text", ["costa-rica coffee", "south-africa tours", "a-pop music"])
def test_analogue_patterns_need_drug_shaped_names(text: str) -> None:
    assert analyse(text).mentions == ()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Blues guitar lessons, $30 an hour", []),  # an ordinary word alone
        ("Crack for Adobe Photoshop, $5", []),
        ("Organic spice blend 100 g for $5", []),
        ("Pressed blues, 100 for $500", ["blues"]),  # "pressed" backs it
        ("100 M30s and blues, $500", ["M30s", "blues"]),  # two street names back each other
        ("heroin and a bit of smack", ["heroin", "smack"]),
        ("Got fetty, $60 a point", ["fetty"]),  # not an ordinary word: needs no backing
    ],
)
def test_ambiguous_street_names_need_backing(text: str, found: list[str]) -> None:
    assert [m.text for m in analyse(text).mentions] == found


def test_methods_say_how_each_mention_was_found() -> None:
    text = "carfentanil, CAS 21409-26-7, isotonitazenne, ortho-methylfentanyl"
    assert [(m.text, m.method) for m in analyse(text).mentions] == [
        ("carfentanil", "lexicon"),
        ("21409-26-7", "cas"),
        ("isotonitazenne", "fuzzy"),
        ("methylfentanyl", "pattern"),  # the analogue word, without its position prefix
    ]


@pytest.mark.parametrize("written", ["2C-B.", "''Ketamine", "Ketamines"])
def test_punctuation_and_plurals_around_names(written: str) -> None:
    assert analyse(f"10 x {written}").mentions
