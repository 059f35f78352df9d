"""Weights are complete; scores are bounded and explained; offers are flagged as intended."""

from __future__ import annotations

import json
import math
from importlib.resources import files

import pytest

from nlp import CLASSES, TARGET_CLASSES, NlpDataError, analyse
from nlp.analysis import CONTEXT_KINDS, INDICATOR_KINDS
from nlp.scoring import load_weights, parse_weights

OFFERS = {
    "b2b-4-anpp": (
        "4-ANPP (4-anilino-N-phenethylpiperidine), CAS 21409-26-7. Purity 99.5% by HPLC, COA "
        "available. MOQ 1 kg. Price tiers: 1 kg USD 1,200; 10 kg USD 9,800. Door-to-door "
        "delivery, 100% customs clearance. Contact sales@chem-example.org",
        "4-anpp",
    ),
    "b2b-boc-piperidone": (
        "1-Boc-4-piperidone | CAS 79099-07-3 | assay 99% | in stock | 25 kg drums, "
        "USD 600/kg, samples 100 g $90. WhatsApp +86 131 0000 0000",
        "1-boc-4-piperidone",
    ),
    "b2b-protonitazene": (
        "Protonitazene powder, research chemical, not for human consumption. 5 g $400, "
        "50 g $2,600. Wickr: labsupply_9. Worldwide shipping.",
        "protonitazene",
    ),
    "b2b-bromazolam": (
        "Bromazolam pellets 1 mg, 100 pills EUR 60, wholesale available, discreet packaging.",
        "bromazolam",
    ),
    "b2b-cannabinoid": (
        "MDMB-4en-PINACA (5cl-adb precursor free), 99.8% purity, 100 g for $350, MOQ 10 g, "
        "Telegram @cannachem.",
        "mdmb-4en-pinaca",
    ),
    "classified-leet": (
        "Acetyl-F3ntanyl 10g \u00a3950, ships worldwide in stealth, Wickr: hx1y2z3",
        "acetylfentanyl",
    ),
    "classified-spaced": (
        "m e t o n i t a z e n e 5 g $600, express courier, Telegram @m3to_plug",
        "metonitazene",
    ),
    "classified-zero-width": (
        "Carfent\u200banil 1g $900 discreet, WhatsApp +44 7700 900456",
        "carfentanil",
    ),
    "pressed-blues": (
        "Pressed M30 blues - real fentanyl pills, 100 pills $800, stealth shipping, "
        "Telegram @blue_h4",
        "fentanyl",
    ),
    "forum-vendor": (
        "Selling ISOTONITAZENE, $90 per gram, min 2 g, reship guarantee. Wickr: isoplug7",
        "isotonitazene",
    ),
    "cathinone": ("3-MMC crystals 50g \u20ac450, 100g \u20ac800, t.me/mmc_store", "3-mmc"),
}

BENIGN = {
    "test-strips": (
        "Fentanyl test strips, box of 100, $1.20 each, wholesale pricing, ships worldwide. "
        "Detects fentanyl, carfentanil and acetylfentanyl. Order: sales@strips-example.org"
    ),
    "news-seizure": (
        "Customs officers seized 200 kg of 4-ANPP at the port, police said. The shipment, "
        "reported to be worth $2 million, was declared as dye. No arrests were made."
    ),
    "pharmacist": (
        "As a pharmacist I get asked about fentanyl patches. They are prescribed for chronic "
        "pain; never cut a patch, and check the dosage with your doctor. A box costs $45."
    ),
    "question": "What are nitazenes? I keep reading about them. Are they worse than heroin?",
    "acetone": "Acetone ACS grade 2.5 L, $24.90, in stock, ships in 2 days, MOQ 10 bottles.",
    "glassware": "Borosilicate glassware set, 12 pcs, \u20ac89, free shipping, info@lab.example",
    # Cocaine is no target class; heroin (an opioid) is one since opioids became targets.
    "cocaine-no-fentanyl": "100% pure cocaine, no fentanyl, $80/g, Wickr: c_dealer",
    "not-selling": "We are not selling carfentanil. Lab glassware from $20, sales@lab.example",
    "street-name-only": "Organic spice blend 100 g for $5, ships worldwide, shop@spice.example",
    "no-sale": "Carfentanil is used to sedate elephants and is extremely potent.",
}


def test_every_class_indicator_and_context_kind_has_a_weight() -> None:
    weights = load_weights()
    assert set(weights.classes) == set(CLASSES)
    assert set(weights.indicators) == set(INDICATOR_KINDS)
    assert set(weights.context) == set(CONTEXT_KINDS)
    assert all(weights.context[k].weight <= 0 for k in CONTEXT_KINDS)
    assert set(weights.sale_evidence) <= set(INDICATOR_KINDS)
    assert weights.target_classes and set(weights.target_classes) <= set(weights.classes)
    assert weights.target_classes == TARGET_CLASSES


def test_target_classes_weigh_more_than_cannabis() -> None:
    weights = load_weights()
    assert min(weights.classes[c] for c in TARGET_CLASSES) > weights.classes["cannabis"]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("[score]\nbias = 1", "has no weight for offer_threshold"),
        ("[class]\nfentanyl = 1", r"missing table \[score\]"),
    ],
)
def test_broken_weights_fail_clearly(raw: str, problem: str) -> None:
    with pytest.raises(NlpDataError, match=problem):
        parse_weights(raw, "weights.toml")


@pytest.mark.parametrize("bad", ['["fentanyl", "no_such_class"]', "[]", '["opioid", "opioid"]'])
def test_target_classes_must_be_known_classes(bad: str) -> None:
    raw = (files("nlp") / "data" / "weights.toml").read_text(encoding="utf-8")
    start = raw.index("target_classes = [")
    end = raw.index("]", start) + 1
    with pytest.raises(NlpDataError, match="target_classes"):
        parse_weights(raw[:start] + f"target_classes = {bad}" + raw[end:], "weights.toml")


def test_a_class_without_weight_is_named() -> None:
    raw = (files("nlp") / "data" / "weights.toml").read_text(encoding="utf-8")
    broken = raw.replace("\nnitazene = ", "\n# nitazene = ")
    with pytest.raises(NlpDataError, match=r"weights.toml: \[class\] has no weight for nitazene"):
        parse_weights(broken, "weights.toml")


@pytest.mark.parametrize("name", sorted(OFFERS))
def test_offer_is_flagged(name: str) -> None:
    text, concept_id = OFFERS[name]
    analysis = analyse(text)
    assert analysis.offer, analysis.reasons
    assert concept_id in analysis.concept_ids
    assert analysis.score >= load_weights().offer_threshold


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_text_is_not_flagged(name: str) -> None:
    analysis = analyse(BENIGN[name])
    assert not analysis.offer, analysis.reasons


@pytest.mark.parametrize("text", [t for t, _ in OFFERS.values()] + list(BENIGN.values()) + [""])
def test_score_is_bounded_and_explained_by_its_reasons(text: str) -> None:
    analysis = analyse(text)
    assert 0.0 <= analysis.score <= 1.0
    logit = sum(r.weight for r in analysis.reasons)
    assert analysis.score == pytest.approx(1 / (1 + math.exp(-logit)), abs=1e-4)
    assert analysis.reasons[0].text == "baseline"


def test_reason_names_the_substance_class_and_control() -> None:
    texts = [r.text for r in analyse("carfentanil 5g $120").reasons]
    assert "names Carfentanil (fentanyl class, US Schedule II)" in texts


def test_offers_score_higher_than_texts_that_sell_no_drug() -> None:
    offers = [analyse(t).score for t, _ in OFFERS.values()]
    # A heroin sale is a drug sale, only not of a target class: its score may be high.
    benign = [analyse(t).score for name, t in BENIGN.items() if name != "cocaine-no-fentanyl"]
    assert min(offers) > max(benign)


def test_to_dict_is_json_serialisable() -> None:
    analysis = analyse(OFFERS["classified-leet"][0])
    data = json.loads(json.dumps(analysis.to_dict()))
    assert data["offer"] is True
    assert data["mentions"][0]["concept_id"] == "acetylfentanyl"
    assert set(data) == {
        "mentions",
        "indicators",
        "context",
        "score",
        "offer",
        "reasons",
        "candidates",
    }
    assert data["mentions"][0]["method"] == "lexicon"


def test_scores_rank_stronger_offers_higher_without_saturating() -> None:
    weak = analyse("Carfentanil 1g $700").score
    medium = analyse("Carfentanil 1g $700, Wickr: cf_1").score
    strong = analyse("Carfentanil 1g $700, Wickr: cf_1, ships worldwide in stealth").score
    everything = analyse(
        "Carfentanil 99% pure, 1g $700, 10g $6,000, Wickr: cf_1, ships worldwide in stealth, "
        "reship guarantee, BTC bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4, research chemical"
    ).score
    assert 0.5 < weak < medium < strong < everything < 0.99
    assert everything - weak > 0.1


def test_indicator_reasons_decay_strongest_first() -> None:
    reasons = analyse("Carfentanil 1g $700, Wickr: cf_1, ships worldwide").reasons
    indicator_weights = [r.weight for r in reasons[2:]]
    assert indicator_weights == sorted(indicator_weights, reverse=True)
    assert [r.text for r in reasons[2:4]] == ["states prices: USD 700", "Wickr contact"]
