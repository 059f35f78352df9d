"""Context cues lower the score and cancel offers; local cues neutralise single mentions."""

from __future__ import annotations

import pytest

from nlp import analyse


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Customs officers seized the parcel, police said.", "news"),
        ("The shipment was reported to the agency, officials said.", "news"),
        (
            "Investigators arrested two men; prosecutors charged with trafficking.",
            "law_enforcement",
        ),
        ("Regulators require an end-user certificate.", "law_enforcement"),
        ("Free test strips and naloxone at the drop-in.", "harm_reduction"),
        ("Harm reduction saves lives: overdose prevention works.", "harm_reduction"),
        ("It is prescribed for chronic pain; ask your pharmacist about the dosage.", "medical"),
        ("Apply the patch every 72 hours.", "medical"),
    ],
)
def test_genre_cue_is_found(text: str, kind: str) -> None:
    assert kind in analyse(text).context


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("What are nitazenes?", "question"),
        ("Is bromazolam stronger than alprazolam?", "question"),
        ("Where can I find carfentanil?", "question"),
        ("100% pure heroin, no fentanyl.", "negation"),
        ("We are not selling carfentanil.", "negation"),
        ("Fent-free pills.", "negation"),
        ("Fentanyl test strips, box of 100.", "harm_reduction"),
        ("Strips detect fentanyl, carfentanil and acetylfentanyl.", "harm_reduction"),
    ],
)
def test_local_cue_neutralises_every_target_mention(text: str, kind: str) -> None:
    analysis = analyse(text)
    assert kind in analysis.context
    assert any(r.weight == 0.0 and r.text.startswith("mentions ") for r in analysis.reasons)
    assert not any(
        r.text.startswith("names ") and "fentanyl class" in r.text for r in analysis.reasons
    )


@pytest.mark.parametrize(
    "text",
    [
        "Customs seize fentanyl precursors at the port.",
        "Deaths from fentanyl overdoses rose again.",
        "Chemicals used to make fentanyl were found.",
        "Nitazenes can be stronger than fentanyl.",
        "4-piperidone derivatives were added to the list.",
    ],
)
def test_a_substance_that_is_only_the_topic_is_not_counted(text: str) -> None:
    analysis = analyse(text)
    assert analysis.mentions
    assert any(r.text.endswith("only as a topic") for r in analysis.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "Looking for carfentanil? 10g $900, Wickr: plug_77.",  # a vendor's rhetorical question
        "Do you need carfentanil? 10g $900, Wickr: plug_77.",
        "No. 1 carfentanil shop, 10g $900, Wickr: plug_77.",
        "No minimum order: carfentanil 10g $900, Wickr: plug_77.",
    ],
)
def test_vendor_phrasing_is_not_mistaken_for_question_or_negation(text: str) -> None:
    analysis = analyse(text)
    assert analysis.offer, analysis.reasons
    assert not {"question", "negation"} & set(analysis.context)


def test_a_single_news_cue_does_not_cancel_an_offer() -> None:
    text = "Carfentanil 10g $900, stealth shipping, free reship if seized. Wickr: plug_77"
    analysis = analyse(text)
    assert analysis.context == ("news",)
    assert analysis.offer


def test_context_is_reported_in_a_fixed_order() -> None:
    text = "Police said naloxone was prescribed after customs officers seized it. Why?"
    context = analyse(text).context
    order = ("news", "law_enforcement", "harm_reduction", "medical", "question", "negation")
    assert list(context) == [k for k in order if k in context]
